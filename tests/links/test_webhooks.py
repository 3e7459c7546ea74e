"""Signed webhooks: verified ones land in the feed; forged, replayed, stale or huge ones are
refused and store nothing."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from typing import Any

import requests
from sqlalchemy import func, select
from standardwebhooks import Webhook

from hub.persistence.models.links import FeedItem
from tests.connectors.connector_fakes import SUBJECT
from tests.links.linkkit import Doctor, Net

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
OTHER = "whsec_" + base64.b64encode(b"x" * 32).decode()
CONFIG = {"secrets": [SECRET], "subject_path": "data.member_id",
          "mapping": {"items_path": "data.items", "title": "title", "url": "url",
                      "published": "published"}}


def _send(hub_url: str, net: Net, body: dict[str, Any], *, secret: str = SECRET,
          msg_id: str = "msg_1", ts: int | None = None) -> requests.Response:
    raw = json.dumps(body)
    when = datetime.fromtimestamp(ts or int(time.time()), UTC)
    sig = Webhook(secret).sign(msg_id, when, raw)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
               "webhook-signature": sig, "content-type": "application/json"}
    return requests.post(f"{hub_url}/links/webhooks/{net.name}", data=raw.encode(),
                         headers=headers, timeout=5)


def _count(hub: Any, net: Net) -> int:
    with hub.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(FeedItem)
                            .where(FeedItem.network == net.name)) or 0)


def _event(title: str, ident: str) -> dict[str, Any]:
    return {"type": "post.created", "data": {"member_id": SUBJECT, "items": [
        {"id": ident, "title": title, "url": "https://example.org/" + ident,
         "published": "2026-01-02T03:04:05Z"}]}}


def test_verified_webhook_lands_and_forgeries_do_not(hub: Any, doctor: Doctor,
                                                     make_net: Any) -> None:
    net: Net = make_net("oidc", webhook=CONFIG)
    doctor.link(net)
    url = doctor.hub.issuer
    before = _count(hub, net)
    assert _send(url, net, _event("Pushed <b>news</b>", "w1"), msg_id="m1").status_code == 204
    assert _count(hub, net) == before + 1
    assert "Pushed news" in doctor.page("/feed").text
    # Replay of the same message id: refused, nothing new.
    assert _send(url, net, _event("Replayed", "w2"), msg_id="m1").status_code == 400
    # Forged (wrong key), stale timestamp, missing headers, huge body: refused.
    assert _send(url, net, _event("Forged", "w3"), secret=OTHER, msg_id="m3").status_code == 400
    assert _send(url, net, _event("Old", "w4"), msg_id="m4",
                 ts=int(time.time()) - 3600).status_code == 400
    assert requests.post(f"{url}/links/webhooks/{net.name}", data=b"{}",
                         timeout=5).status_code == 400
    huge = _event("Huge", "w5")
    huge["pad"] = "x" * (2 * 1024 * 1024)
    assert _send(url, net, huge, msg_id="m5").status_code in (400, 413)
    assert _count(hub, net) == before + 1
    feed = doctor.page("/feed").text
    assert "Forged" not in feed and "Replayed" not in feed and "Old" not in feed
    # A forged attempt does not burn a real message id.
    assert _send(url, net, _event("Real five", "w6"), msg_id="m3").status_code == 204


def test_webhook_for_unknown_network_or_without_receiver(hub: Any, make_net: Any,
                                                         running_hub: Any) -> None:
    net: Net = make_net("oidc")
    assert _send(running_hub.issuer, net, _event("x", "y")).status_code == 404
    resp = requests.post(f"{running_hub.issuer}/links/webhooks/nope", data=b"{}", timeout=5)
    assert resp.status_code == 404
