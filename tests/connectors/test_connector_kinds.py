"""Kind-specific behaviour of oauth2-json, activitystreams and feed beyond the conformance
suite: origin rules for paging links, identity shapes, client auth variants, feed linking."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conformance import (
    PROFILES,
    REDIRECT_URI,
    STATE,
    TEST_HTTP,
    Harness,
    activitystreams_config,
    feed_config,
    oauth2_json_config,
)
from connector_fakes import SUBJECT, Fake

from connectors import registry
from connectors.activitystreams.parse import to_item
from connectors.base import LinkCredentials
from connectors.errors import ConfigError, InvalidUpstreamData, UpstreamRejected
from connectors.jsonapi import JsonActivityConfig, fetch_json_activity
from connectors.mapping import ItemMapping
from connectors.registry import load_config

PROFILE = {p.name: p for p in PROFILES}


def build(fake: Fake, name: str, config: dict[str, Any]) -> Harness:
    h = Harness(PROFILE[name], fake)
    h.connector = registry.build(name, PROFILE[name].kind, config)
    return h


# -- oauth2-json ------------------------------------------------------------------------------


def test_oauth2_json_client_secret_post_and_scopes(fake: Fake) -> None:
    h = build(fake, "oauth2-json",
              {**oauth2_json_config(fake), "token_endpoint_auth_method": "client_secret_post"})
    identity = h.link()
    assert identity.subject == SUBJECT and identity.display_name == "Dr. Ada Lovelace"
    assert fake.auth_requests[-1]["scope"] == "posts.read"
    assert fake.token_requests[-1]["client_secret"]  # in the body this time


def test_oauth2_json_identity_without_subject_refused(fake: Fake) -> None:
    cfg = oauth2_json_config(fake)
    cfg["identity"] = {**cfg["identity"], "subject": "data.user.missing"}
    with pytest.raises(InvalidUpstreamData) as caught:
        build(fake, "oauth2-json", cfg).link()
    assert caught.value.reason == "no_subject"


def test_expired_token_is_invalid_token(fake: Fake) -> None:
    h = Harness(PROFILE["oauth2-json"], fake)
    with pytest.raises(UpstreamRejected) as caught:
        h.connector.fetch_activity(LinkCredentials(access_token="expired"))
    assert caught.value.reason == "invalid_token"  # the hub refreshes, then retries


def test_refresh_with_revoked_grant_is_invalid_grant(fake: Fake) -> None:
    h = Harness(PROFILE["oauth2-json"], fake)
    identity = h.link()
    h.connector.revoke(identity.credentials)
    with pytest.raises(UpstreamRejected) as caught:
        h.connector.refresh(identity.credentials)  # type: ignore[attr-defined]
    assert caught.value.reason == "invalid_grant"


def _json_page(fake: Fake, **cfg: Any) -> Any:
    """An HttpClient, a JsonActivityConfig for /api/posts and linked credentials."""
    from connectors.http import HttpClient, HttpOptions

    http = HttpClient("net", HttpOptions(**TEST_HTTP))
    config = JsonActivityConfig(url=fake.base + "/api/posts",
                                mapping=ItemMapping(items_path="data.posts", title="subject",
                                                    url="links.self"), **cfg)
    identity = Harness(PROFILE["oauth2-json"], fake).link()
    return http, config, identity.credentials


def test_next_link_must_stay_on_api_origin(fake: Fake) -> None:
    http, config, creds = _json_page(fake, next="paging.next")
    # A cursor pointing elsewhere would carry the bearer token there.
    with pytest.raises(UpstreamRejected) as caught:
        fetch_json_activity(http, config, creds, cursor="https://evil.example/steal",
                            etag=None, last_modified=None)
    assert caught.value.reason == "bad_cursor"
    assert not any("evil" in path for _, path, _ in fake.request_log)


def test_cursor_param_mode(fake: Fake) -> None:
    http, _, creds = _json_page(fake)
    config = JsonActivityConfig(url=fake.base + "/api/posts",
                                mapping=ItemMapping(items_path="data.posts", title="subject",
                                                    url="links.self"),
                                next="paging.cursor", cursor_param="after")
    fetch_json_activity(http, config, creds, cursor="abc 123", etag=None, last_modified=None)
    assert fake.request_log[-1][1].endswith("/api/posts?after=abc+123")


# -- activitystreams --------------------------------------------------------------------------


def test_as2_collection_must_be_same_origin(fake: Fake) -> None:
    cfg = {**activitystreams_config(fake), "collection": "inbox"}
    assert build(fake, "activitystreams", cfg).link().credentials.endpoint == (
        fake.base + "/as/inbox")
    cfg["collection"] = "followers"  # the actor has none
    with pytest.raises(InvalidUpstreamData) as caught:
        build(fake, "activitystreams", cfg).link()
    assert caught.value.reason == "no_collection"


def test_as2_foreign_cursor_refused(fake: Fake) -> None:
    h = Harness(PROFILE["activitystreams"], fake)
    identity = h.link()
    with pytest.raises(UpstreamRejected):
        h.fetch(identity, cursor="https://evil.example/as/outbox/page?n=2")


def test_as2_wrong_content_type_refused(fake: Fake) -> None:
    h = Harness(PROFILE["activitystreams"], fake)
    identity = h.link()
    creds = LinkCredentials(access_token=identity.credentials.access_token,
                            endpoint=fake.base + "/feed.atom")
    with pytest.raises(InvalidUpstreamData) as caught:
        h.connector.fetch_activity(creds)
    assert caught.value.reason == "content_type"


@pytest.mark.parametrize(("raw", "expected"), [
    ({"type": "Announce", "id": "https://n/a/1", "object": {
        "type": "Article", "nameMap": {"nl": "<i>Nieuws</i>"}, "contentMap": {"nl": "Tekst"},
        "url": [{"type": "Link", "mediaType": "image/png", "href": "https://n/img.png"},
                {"type": "Link", "href": "https://n/article/1"}]}},
     ("article", "Nieuws", "Tekst", "https://n/article/1", "https://n/a/1")),
    ({"type": "Note", "id": "https://n/note/2", "content": "<p>Hi <script>x()</script></p>"},
     ("note", "Hi", "Hi", "https://n/note/2", "https://n/note/2")),
    ({"type": "Delete", "id": "https://n/d", "object": "https://n/note/2"}, None),
    ({"type": "Create", "id": "x", "object": {"type": "Note", "name": "t",
                                              "url": "javascript:alert(1)"}},
     ("note", "t", "", None, "x")),
])
def test_as2_item_shapes(raw: dict[str, Any], expected: tuple[Any, ...] | None) -> None:
    item = to_item(raw, network="n", base=None)
    if expected is None:
        assert item is None
        return
    assert item is not None
    assert (item.kind, item.title, item.summary, item.url, item.id) == expected


# -- feed -------------------------------------------------------------------------------------


def feed_link(h: Harness, url: str, state: str = STATE) -> Any:
    start = h.connector.begin_link(state=STATE, redirect_uri=REDIRECT_URI)
    assert start.authorization_url is None and start.form_fields == ("url",)
    return h.connector.complete_link({"url": url, "state": state}, start.pending)


def test_feed_link_is_not_proof_of_control(fake: Fake) -> None:
    identity = feed_link(Harness(PROFILE["feed-atom"], fake), fake.base + "/feed.atom")
    assert identity.proves_control is False and identity.credentials.access_token is None
    assert identity.display_name == "Ada & friends"


def test_feed_allowed_hosts_enforced(fake: Fake) -> None:
    h = build(fake, "feed-atom", {**feed_config(fake), "allowed_hosts": [".doctors.net.uk"]})
    with pytest.raises(UpstreamRejected):
        feed_link(h, fake.base + "/feed.atom")
    assert fake.request_log == []


@pytest.mark.parametrize("url", ["javascript:alert(1)", "file:///etc/passwd", "", "/feed.atom"])
def test_feed_bad_urls_refused(fake: Fake, url: str) -> None:
    with pytest.raises(UpstreamRejected):
        feed_link(Harness(PROFILE["feed-atom"], fake), url)


def test_feed_state_must_match(fake: Fake) -> None:
    with pytest.raises(InvalidUpstreamData):
        feed_link(Harness(PROFILE["feed-atom"], fake), fake.base + "/feed.atom", state="nope")


def test_feed_not_a_feed(fake: Fake) -> None:
    with pytest.raises(InvalidUpstreamData) as caught:
        feed_link(Harness(PROFILE["feed-atom"], fake), fake.base + "/jwks")  # JSON, not XML
    assert caught.value.reason == "not_a_feed"
    assert str(caught.value) == "That address is not an Atom or RSS feed."
    with pytest.raises(UpstreamRejected):
        feed_link(Harness(PROFILE["feed-atom"], fake), fake.base + "/status/404")


def test_feed_body_naming_a_local_file_is_not_opened(fake: Fake, tmp_path: Any) -> None:
    """feedparser open()s bytes that name a file; the body must never be taken as a path."""
    secret = tmp_path / "secret.xml"
    secret.write_text('<?xml version="1.0"?><rss version="2.0"><channel><title>LEAK</title>'
                      "<item><title>leaked</title><link>https://x/1</link></item>"
                      "</channel></rss>")
    fake.posts = []
    h = Harness(PROFILE["feed-atom"], fake)
    from connectors.feed.connector import FeedConnector
    from connectors.http import Response

    connector = h.connector
    assert isinstance(connector, FeedConnector)
    resp = Response(200, fake.base + "/x", {}, str(secret).encode())
    with pytest.raises(InvalidUpstreamData):
        connector._parse(resp)


def test_feed_relative_links_resolved(fake: Fake) -> None:
    h = Harness(PROFILE["feed-atom"], fake)
    page = h.fetch(feed_link(h, fake.base + "/feed.atom"))
    assert all(i.url and i.url.startswith(fake.base + "/posts/") for i in page.items)


# -- config -----------------------------------------------------------------------------------


def test_unknown_keys_are_errors(fake: Fake) -> None:
    with pytest.raises(ConfigError, match="unknown key"):
        load_config("oauth2-json", {**oauth2_json_config(fake), "client_secrte": "typo"})
    cfg = oauth2_json_config(fake)
    cfg["activity"]["mapping"] = {**cfg["activity"]["mapping"], "titel": "x"}
    with pytest.raises(ConfigError, match=r"activity\.mapping: unknown key\(s\): titel"):
        load_config("oauth2-json", cfg)


@pytest.mark.parametrize(("key", "value"), [
    ("scopes", "posts.read"), ("link_timeout", "900"), ("link_timeout", True),
    ("token_endpoint_auth_method", "private_key_jwt"), ("http", {"timeout": "5"}),
    ("http", {"retries": 9}),
])
def test_wrong_types_are_errors(fake: Fake, key: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=key.split("_")[0]):
        load_config("oauth2-json", {**oauth2_json_config(fake), key: value})


def test_missing_required_and_https(fake: Fake) -> None:
    cfg = oauth2_json_config(fake)
    del cfg["identity"]
    with pytest.raises(ConfigError, match="identity: required"):
        load_config("oauth2-json", cfg)
    cfg = oauth2_json_config(fake)
    cfg["http"] = {**cfg["http"], "insecure_transport": False}
    with pytest.raises(ConfigError, match="https"):
        load_config("oauth2-json", cfg)
    with pytest.raises(ConfigError, match="client_secret"):
        load_config("oauth2-json", {**oauth2_json_config(fake), "client_secret": ""})


def test_registry_rejects_unknown_kind_and_bad_network(fake: Fake) -> None:
    with pytest.raises(ConfigError, match="unknown 'rss'"):
        registry.build("net", "rss", {})
    with pytest.raises(ConfigError, match="network"):
        registry.build("Bad Name", "feed", feed_config(fake))


def test_registry_is_consistent() -> None:
    import dataclasses

    for name, kind in registry.KINDS.items():
        assert getattr(kind.factory, "kind", None) == name
        assert dataclasses.is_dataclass(kind.config_type)
        params = kind.config_type.__dataclass_params__
        assert params.frozen


def test_config_accepts_typed_instance(fake: Fake) -> None:
    typed = load_config("feed", feed_config(fake))
    assert registry.build("n", "feed", typed).network == "n"
    assert json.dumps(feed_config(fake))  # config is plain data


# -- token responses (RFC 6749 §5.1, §6) --------------------------------------------------------


@pytest.mark.parametrize(("patch", "reason"), [
    ({"token_type": "mac"}, "unsupported_token_type"),
    ({"token_type": None}, "unsupported_token_type"),
    ({"access_token": None}, "no_access_token"),
    ({"access_token": ""}, "no_access_token"),
    ({"refresh_token": 12}, "bad_refresh_token"),
])
def test_bad_token_responses_refused(fake: Fake, patch: dict[str, Any], reason: str) -> None:
    fake.token_patch.update(patch)
    with pytest.raises(InvalidUpstreamData) as caught:
        Harness(PROFILE["oauth2-json"], fake).link()
    assert caught.value.reason == reason


def test_token_expiry_and_scope_parsing(fake: Fake) -> None:
    from datetime import UTC, datetime

    fake.token_patch.update({"expires_in": "120", "scope": None})
    h = Harness(PROFILE["oauth2-json"], fake)
    creds = h.link().credentials
    assert creds.expires_at is not None
    remaining = (creds.expires_at - datetime.now(UTC)).total_seconds()
    assert 100 < remaining <= 120
    assert creds.scope == ("posts.read",)  # omitted: as requested (RFC 6749 §5.1)
    fake.token_patch.update({"refresh_token": None, "scope": "posts.read  profile"})
    renewed = h.connector.refresh(creds)  # type: ignore[attr-defined]
    assert renewed.refresh_token == creds.refresh_token  # not rotated: the old one stays
    assert renewed.scope == ("posts.read", "profile")
    assert not creds.expired(datetime.now(UTC)) and creds.expired(creds.expires_at)
