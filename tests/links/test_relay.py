"""The relay over real sockets: two networks flow into one feed; a dead or slow one is marked
stale without holding up the other; hostile and malformed input never loses other items."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from hub.links import links_for
from hub.persistence.models.links import AccountLink, FeedItem, LinkToken
from tests.connectors.connector_fakes import GOOD_TITLES, Post
from tests.links.linkkit import Doctor, Net, make_due


def _link_id(hub: Any, doctor: Doctor, net: Net) -> str:
    with hub.db.session() as s:
        return s.scalars(select(AccountLink.id).where(AccountLink.doctor_id == doctor.id,
                                                      AccountLink.network == net.name)).one()


def _new_post(net: Net, ident: str, title: str) -> None:
    net.fake.posts.insert(0, Post(ident, title, "fresh", f"/posts/{ident}",
                                  datetime.now(UTC).isoformat()))


def test_two_networks_one_feed_and_json_feed(hub: Any, doctor: Doctor, make_net: Any) -> None:
    a: Net = make_net("oidc", display_name="Alpha")
    b: Net = make_net("activitystreams", display_name="Beta")
    doctor.link(a)
    doctor.link(b)
    _new_post(a, "a9", "Alpha news")
    _new_post(b, "b9", "Beta news")
    make_due(hub, doctor)
    results = links_for(hub).relay.run_due()
    assert {r.outcome for r in results} == {"ok"}
    html = doctor.page("/feed").text
    assert "Alpha news" in html and "Beta news" in html
    assert f'href="{a.fake.base}/posts/a9"' in html and f'href="{b.fake.base}/posts/b9"' in html
    api = doctor.page("/api/feed")
    assert api.headers["Content-Type"].startswith("application/feed+json")
    doc = api.json()
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    networks = {i["_curbside"]["network"] for i in doc["items"]}
    assert networks == {a.name, b.name}
    assert all(i["url"].startswith(("http://", "https://")) for i in doc["items"] if "url" in i)
    # Paging: small pages follow next_url until the end, without repeats.
    seen: list[str] = []
    url = "/api/feed?limit=2"
    while url:
        page = doctor.page(url.removeprefix(doctor.hub.issuer)).json()
        seen += [i["id"] for i in page["items"]]
        url = page.get("next_url", "")
    assert len(seen) == len(set(seen)) == len(doc["items"])
    # Conditional GET: nothing changed, so the next pull is a 304.
    make_due(hub, doctor)
    assert {r.outcome for r in links_for(hub).relay.run_due()} <= {"not_modified", "ok"}
    assert any(h.get("If-None-Match") for _, p, h in a.fake.request_log if "/api/posts" in p)


def test_api_feed_needs_a_session(running_hub: Any) -> None:
    import requests

    resp = requests.get(running_hub.issuer + "/api/feed", timeout=5)
    assert resp.status_code == 401 and resp.json()["error"] == "login_required"


def test_dead_network_is_stale_while_the_other_flows(hub: Any, doctor: Doctor,
                                                     make_net: Any) -> None:
    up: Net = make_net("oidc", display_name="Up")
    down: Net = make_net("oauth2-json", display_name="Down")
    doctor.link(up)
    doctor.link(down)
    down.server.close()  # the network goes away
    _new_post(up, "u9", "Still flowing")
    make_due(hub, doctor)
    start = time.monotonic()
    links_for(hub).relay.run_due()
    assert time.monotonic() - start < 5
    assert "Still flowing" in doctor.page("/feed").text
    page = doctor.page("/account/links").text
    assert "status-stale" in page and "status-ok" in page
    assert "Down: not answering" in doctor.page("/feed").text
    # Its earlier items stay (they link back; the network may come back).
    assert GOOD_TITLES[0] in doctor.page("/feed").text


def test_slow_network_costs_only_its_budget(hub: Any, doctor: Doctor, make_net: Any) -> None:
    fast: Net = make_net("oidc")
    slow: Net = make_net("oidc")
    doctor.link(fast)
    doctor.link(slow)
    slow.fake.scenario, slow.fake.slow_seconds = "slow", 8.0
    _new_post(fast, "f9", "Fast item")
    make_due(hub, doctor)
    start = time.monotonic()
    results = {r.link_id: r.outcome for r in links_for(hub).relay.run_due()}
    elapsed = time.monotonic() - start
    assert elapsed < 4, elapsed  # 1 s budget per network, pulled concurrently
    assert results[_link_id(hub, doctor, fast)] == "ok"
    assert results[_link_id(hub, doctor, slow)] in ("timeout", "unavailable")
    assert "Fast item" in doctor.page("/feed").text


@pytest.mark.parametrize("scenario", ["malformed", "wrong_shape", "huge", "garbage", "hostile"])
def test_bad_input_never_crashes_or_loses_other_items(hub: Any, doctor: Doctor, make_net: Any,
                                                      scenario: str) -> None:
    good: Net = make_net("oidc")
    bad: Net = make_net("oauth2-json")
    doctor.link(good)
    bad.fake.scenario = scenario
    doctor.link(bad)
    _new_post(good, "g9", "Good one")
    make_due(hub, doctor)
    links_for(hub).relay.run_due()
    html = doctor.page("/feed").text
    assert "Good one" in html
    assert "<script>" not in html and "javascript:" not in html.lower()
    assert "onerror=" not in html or "&lt;img" in html
    with hub.db.session() as s:
        bad_items = list(s.scalars(select(FeedItem).where(FeedItem.network == bad.name)))
    if scenario == "hostile":
        assert bad_items and all("<" not in i.title for i in bad_items)
        assert all(i.url is None for i in bad_items)
    if scenario == "malformed":
        assert {i.item_id for i in bad_items} >= {"p1", "p3"}  # bad ones skipped, rest kept
    if scenario in ("wrong_shape", "huge", "garbage"):
        assert not bad_items
        assert "status-stale" in doctor.page("/account/links").text


def test_pause_and_hide(hub: Any, doctor: Doctor, make_net: Any) -> None:
    net: Net = make_net("oidc")
    doctor.link(net)
    link_id = _link_id(hub, doctor, net)
    post = doctor.browser.post
    base = f"{doctor.hub.issuer}/account/links/{link_id}"
    assert post(f"{base}/hide", {"csrf": doctor.csrf()}).status_code == 303
    assert GOOD_TITLES[0] not in doctor.page("/feed").text
    assert post(f"{base}/show", {"csrf": doctor.csrf()}).status_code == 303
    assert GOOD_TITLES[0] in doctor.page("/feed").text
    assert post(f"{base}/pause", {"csrf": doctor.csrf()}).status_code == 303
    make_due(hub, doctor)
    assert link_id not in {r.link_id for r in links_for(hub).relay.run_due()}
    assert "status-paused" in doctor.page("/account/links").text
    assert post(f"{base}/unlink", {"csrf": "forged"}).status_code == 400  # CSRF


def test_retention_drops_old_items(hub: Any, doctor: Doctor, make_net: Any) -> None:
    net: Net = make_net("oidc")
    doctor.link(net)
    link_id = _link_id(hub, doctor, net)
    old = datetime.now(UTC) - timedelta(days=hub.settings.feed_retention_days, hours=1)
    with hub.db.session() as s:
        s.execute(update(FeedItem).where(FeedItem.link_id == link_id).values(fetched_at=old))
    assert GOOD_TITLES[0] not in doctor.page("/feed").text  # never shown past retention
    assert links_for(hub).relay.purge(hub.settings.feed_retention_days) >= 3
    with hub.db.session() as s:
        assert s.scalars(select(FeedItem).where(FeedItem.link_id == link_id)).first() is None


def test_expired_token_is_refreshed_once_under_a_lock(hub: Any, doctor: Doctor,
                                                      make_net: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    net: Net = make_net("oidc")
    doctor.link(net)
    link_id = _link_id(hub, doctor, net)
    links = links_for(hub)
    creds = links.vault.get(link_id)
    from dataclasses import replace

    links.vault.save(link_id, replace(creds, expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    connector = links.networks.get(net.name).connector
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: links.vault.fresh(link_id, connector), range(4)))
    refreshes = [r for r in net.fake.token_requests if r.get("grant_type") == "refresh_token"]
    assert len(refreshes) == 1  # one refresh; the others waited and reused it
    assert len({c.access_token for c in got}) == 1
    with hub.db.session() as s:
        assert s.get(LinkToken, link_id).expires_at > datetime.now(UTC)


def test_revoked_grant_suspends_the_link(hub: Any, doctor: Doctor, make_net: Any) -> None:
    net: Net = make_net("oauth2-json")
    doctor.link(net)
    link_id = _link_id(hub, doctor, net)
    net.fake.access_tokens.clear()  # the upstream forgot our access token ...
    net.fake.revoked.extend(net.fake.refresh_tokens)  # ... and revoked the grant
    make_due(hub, doctor)
    links_for(hub).relay.run_due()
    with hub.db.session() as s:
        assert s.get(AccountLink, link_id).state == "suspended"
    assert "status-relink" in doctor.page("/account/links").text
    # Linking the same upstream account again reactivates the same link.
    assert "Link again" in doctor.page("/account/links").text
    doctor.link(net)
    with hub.db.session() as s:
        assert s.get(AccountLink, link_id).state == "active"
