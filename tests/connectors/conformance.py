"""The one conformance suite every pull connector passes (after dex's storage conformance).

A :class:`Profile` says how to configure a kind against the fake network and what its link
should look like; each ``check_*`` function takes a :class:`Harness` and asserts one property.
``test_connector_conformance.py`` runs every check against every profile. Adding a kind =
adding a profile here (and teaching the fake its wire format).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from connector_fakes import CLIENT_ID, CLIENT_SECRET, GOOD_TITLES, SUBJECT, Fake

from connectors import registry
from connectors.base import ActivityItem, ActivityPage, Connector, LinkedIdentity, Refreshing
from connectors.errors import (
    ConnectorError,
    InvalidUpstreamData,
    UpstreamRejected,
    UpstreamUnavailable,
)
from connectors.http import DEFAULT_USER_AGENT

STATE = "st-0123456789abcdef"
REDIRECT_URI = "https://hub.example/links/callback"
BUDGET = 1.0  # seconds: the http.timeout every profile runs with
# Loopback upstream over http: both switches exist only for tests and local demos.
TEST_HTTP: dict[str, Any] = {"timeout": BUDGET, "retries": 1, "backoff_factor": 0.0,
                             "insecure_transport": True, "allow_private_networks": True}

JSON_MAPPING = {"items_path": "data.posts", "title": "subject", "summary": "body",
                "url": "links.self", "published": "created_at", "actor": "author.name",
                "kind": "type"}


def _oauth(fake: Fake) -> dict[str, Any]:
    return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "http": dict(TEST_HTTP)}


def _endpoints(fake: Fake) -> dict[str, Any]:
    return {"authorization_endpoint": fake.base + "/authorize",
            "token_endpoint": fake.base + "/token", "revocation_endpoint": fake.base + "/revoke",
            "issuer": fake.base}


def oidc_config(fake: Fake) -> dict[str, Any]:
    return {**_oauth(fake), "issuer": fake.base, "userinfo": True,
            "activity": {"url": fake.base + "/api/posts", "mapping": JSON_MAPPING,
                         "next": "paging.next"}}


def oauth2_json_config(fake: Fake) -> dict[str, Any]:
    return {**_oauth(fake), **_endpoints(fake), "scopes": ["posts.read"],
            "identity": {"url": fake.base + "/api/me", "subject": "data.user.id",
                         "name": "data.user.full_name"},
            "activity": {"url": fake.base + "/api/posts", "mapping": JSON_MAPPING,
                         "next": "paging.next"}}


def activitystreams_config(fake: Fake) -> dict[str, Any]:
    return {**_oauth(fake), **_endpoints(fake), "actor_url": fake.base + "/as/actor",
            "collection": "outbox"}


def feed_config(fake: Fake) -> dict[str, Any]:
    return {"http": dict(TEST_HTTP), "allowed_hosts": ["127.0.0.1"]}


@dataclass(frozen=True)
class Profile:
    name: str
    kind: str
    config: Callable[[Fake], dict[str, Any]]
    subject: Callable[[Fake], str]
    issuer: Callable[[Fake], str]
    proves_control: bool
    revocable: bool
    feed_path: str = ""  # form-linked kinds: the URL the doctor types in


PROFILES = [
    Profile("oidc", "oidc", oidc_config, lambda f: SUBJECT, lambda f: f.base, True, True),
    Profile("oauth2-json", "oauth2-json", oauth2_json_config, lambda f: SUBJECT,
            lambda f: f.base, True, True),
    Profile("activitystreams", "activitystreams", activitystreams_config,
            lambda f: f.base + "/as/users/ada", lambda f: f.base, True, True),
    Profile("feed-atom", "feed", feed_config, lambda f: f.base + "/feed.atom",
            lambda f: f.base, False, False, "/feed.atom"),
    Profile("feed-rss", "feed", feed_config, lambda f: f.base + "/feed.rss",
            lambda f: f.base, False, False, "/feed.rss"),
]


class Harness:
    def __init__(self, profile: Profile, fake: Fake) -> None:
        self.profile = profile
        self.fake = fake
        self.connector: Connector = registry.build(profile.name, profile.kind,
                                                   profile.config(fake))
        self.last_callback: tuple[dict[str, str], bytes] | None = None

    def browser(self, authorization_url: str) -> dict[str, str]:
        """What a browser does: visit the upstream, come back with the callback query."""
        resp = requests.get(authorization_url, allow_redirects=False, timeout=5)
        location = resp.headers["Location"]
        assert location.startswith(REDIRECT_URI + "?")
        return dict(parse_qsl(urlsplit(location).query))

    def link(self) -> LinkedIdentity:
        start = self.connector.begin_link(state=STATE, redirect_uri=REDIRECT_URI)
        if start.authorization_url is not None:
            params = self.browser(start.authorization_url)
        else:
            assert start.form_fields == ("url",)
            params = {"url": self.fake.base + self.profile.feed_path, "state": STATE}
        self.last_callback = (params, start.pending)
        return self.connector.complete_link(params, start.pending)

    def fetch(self, identity: LinkedIdentity, **kwargs: Any) -> ActivityPage:
        return self.connector.fetch_activity(identity.credentials, **kwargs)

    def linked_then(self, scenario: str) -> tuple[LinkedIdentity, Callable[[], ActivityPage]]:
        identity = self.link()
        self.fake.scenario = scenario
        return identity, lambda: self.fetch(identity)


def _assert_clean(item: ActivityItem, network: str) -> None:
    assert isinstance(item, ActivityItem) and item.network == network
    assert item.id and item.kind and item.kind == item.kind.lower()
    assert "<" not in item.title or "</" not in item.title
    assert len(item.title) <= 300 and len(item.summary) <= 500
    assert item.url is None or item.url.startswith(("http://", "https://"))
    assert item.published is None or item.published.tzinfo is not None


# -- the checks -------------------------------------------------------------------------------


def check_link_round_trip(h: Harness) -> None:
    identity = h.link()
    assert identity.network == h.profile.name
    assert identity.subject == h.profile.subject(h.fake)
    assert identity.issuer == h.profile.issuer(h.fake)
    assert identity.proves_control is h.profile.proves_control
    assert identity.linked_at.tzinfo == UTC
    assert identity.display_name and "<" not in identity.display_name
    creds = identity.credentials
    if h.profile.proves_control:
        assert creds.access_token and creds.refresh_token and creds.expires_at is not None
        assert creds.access_token not in repr(identity)  # tokens never reach a log line
        assert isinstance(h.connector, Refreshing)
        renewed = h.connector.refresh(creds)
        assert renewed.access_token and renewed.access_token != creds.access_token
        assert renewed.refresh_token != creds.refresh_token  # the fake rotates
        # Replaying the same callback fails upstream: the code is single-use (RFC 6749
        # §4.1.2). The hub also consumes `pending` atomically, so this is defence in depth.
        assert h.last_callback is not None
        with pytest.raises(UpstreamRejected) as caught:
            h.connector.complete_link(*h.last_callback)
        assert caught.value.reason == "invalid_grant"


def check_fetch_normalises_items(h: Harness) -> None:
    identity = h.link()
    page = h.fetch(identity)
    assert not page.not_modified
    titles = [i.title for i in page.items]
    assert set(GOOD_TITLES) <= set(titles)
    for item in page.items:
        _assert_clean(item, h.profile.name)
    sepsis = next(i for i in page.items if i.title == GOOD_TITLES[0])
    assert sepsis.summary == "Early antibiotics matter."
    assert sepsis.url == h.fake.base + "/posts/p1"
    assert sepsis.published is not None and sepsis.published.year == 2024
    assert sepsis.actor == "Dr. Ada Lovelace"
    assert len({i.id for i in page.items}) == len(page.items)
    # The request carried our User-Agent.
    assert any(hdrs.get("User-Agent") == DEFAULT_USER_AGENT for _, _, hdrs in h.fake.request_log)


def check_cursor_pages(h: Harness) -> None:
    identity = h.link()
    page = h.fetch(identity)
    if page.cursor is None:
        return  # single-page kinds (feeds, this JSON API) end here
    older = h.fetch(identity, cursor=page.cursor)
    assert older.items and all(i.network == h.profile.name for i in older.items)
    assert not {i.id for i in older.items} & {i.id for i in page.items}


def check_conditional_get_304(h: Harness) -> None:
    identity = h.link()
    first = h.fetch(identity)
    assert first.etag or first.last_modified
    again = h.fetch(identity, etag=first.etag, last_modified=first.last_modified)
    assert again.not_modified and again.items == ()
    assert again.etag == first.etag
    only_date = h.fetch(identity, last_modified=first.last_modified)
    assert only_date.not_modified


def check_timeout_within_budget(h: Harness) -> None:
    _, fetch = h.linked_then("slow")
    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable) as caught:
        fetch()
    elapsed = time.monotonic() - started
    assert elapsed < BUDGET + 0.8, f"took {elapsed:.2f}s for a {BUDGET}s budget"
    assert caught.value.reason == "timeout"
    assert caught.value.network == h.profile.name


def check_malformed_keeps_good_items(h: Harness) -> None:
    _, fetch = h.linked_then("malformed")
    page = fetch()
    titles = {i.title for i in page.items}
    assert set(GOOD_TITLES) <= titles
    assert page.skipped >= 1 or h.profile.kind == "feed"  # feedparser repairs some entries
    for item in page.items:
        _assert_clean(item, h.profile.name)


def check_wrong_shape_is_a_clear_error(h: Harness) -> None:
    _, fetch = h.linked_then("wrong_shape")
    with pytest.raises(InvalidUpstreamData) as caught:
        fetch()
    assert caught.value.reason in {"wrong_shape", "not_a_feed"}
    assert "127.0.0.1" not in str(caught.value)  # public text has no internals


def check_garbage_only_typed_errors(h: Harness) -> None:
    _, fetch = h.linked_then("garbage")
    try:
        page = fetch()
    except ConnectorError:
        return
    assert page.items == ()


def check_huge_payload_refused(h: Harness) -> None:
    _, fetch = h.linked_then("huge")
    with pytest.raises(InvalidUpstreamData) as caught:
        fetch()
    assert caught.value.reason == "too_large"


def check_html_in_titles_sanitised(h: Harness) -> None:
    _, fetch = h.linked_then("hostile")
    page = fetch()
    assert len(page.items) == 3
    for item in page.items:
        assert item.title == "Bold claim &", item.title  # tags gone, script body gone, unescaped
        assert "alert" not in item.title + item.summary
        _assert_clean(item, h.profile.name)


def check_javascript_urls_dropped(h: Harness) -> None:
    _, fetch = h.linked_then("hostile")
    page = fetch()
    assert page.items
    for item in page.items:
        assert item.url is None or item.url.startswith(("http://", "https://")), item.url
        assert "javascript" not in (item.url or "").lower()
        assert "data:" not in (item.url or "")


def check_retries_transient_failure(h: Harness) -> None:
    identity = h.link()
    h.fake.fail_statuses = [503]  # one failure, then the real answer: retried within budget
    page = h.fetch(identity)
    assert set(GOOD_TITLES) <= {i.title for i in page.items}


def check_revoke(h: Harness) -> None:
    identity = h.link()
    h.connector.revoke(identity.credentials)
    if h.profile.revocable:
        assert identity.credentials.refresh_token in h.fake.revoked
        assert identity.credentials.access_token in h.fake.revoked
    else:
        assert h.fake.revoked == []


CHECKS: list[Callable[[Harness], None]] = [
    check_link_round_trip,
    check_fetch_normalises_items,
    check_cursor_pages,
    check_conditional_get_304,
    check_timeout_within_budget,
    check_malformed_keeps_good_items,
    check_wrong_shape_is_a_clear_error,
    check_garbage_only_typed_errors,
    check_huge_payload_refused,
    check_html_in_titles_sanitised,
    check_javascript_urls_dropped,
    check_retries_transient_failure,
    check_revoke,
]
