"""Standard Webhooks receiver: verify before parsing, replay window, replay ids, rotation."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks import Webhook

from connectors import registry
from connectors.errors import ConfigError, InvalidUpstreamData, WebhookRejected
from connectors.webhooks import WebhookReceiver

NOW = 1_714_564_800  # 2024-05-01T12:00:00Z
OLD = "whsec_" + base64.b64encode(b"o" * 32).decode()
NEW = "whsec_" + base64.b64encode(b"n" * 32).decode()
OTHER = "whsec_" + base64.b64encode(b"x" * 32).decode()

PAYLOAD = {
    "type": "post.created",
    "timestamp": "2024-05-01T12:00:00Z",
    "data": {"member_id": "u-123", "id": "p1", "title": "<b>New</b> post",
             "url": "https://net.example/p/1", "published": "2024-05-01T11:59:00Z"},
}


class Seen:
    """The hub's add_once: atomic set-if-absent with a TTL (here: a dict)."""

    def __init__(self) -> None:
        self.keys: dict[str, int] = {}

    def __call__(self, key: str, ttl: int) -> bool:
        if key in self.keys:
            return False
        self.keys[key] = ttl
        return True


def sign(body: bytes, *, secret: str = NEW, msg_id: str = "msg_1", ts: int = NOW,
         extra: str = "") -> dict[str, str]:
    sig = Webhook(secret).sign(msg_id, datetime.fromtimestamp(ts, UTC), body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts),
            "webhook-signature": f"{extra} {sig}".strip()}


def receiver(seen: Callable[[str, int], bool] | None = None, **config: Any) -> WebhookReceiver:
    cfg = {"secrets": [NEW, OLD], "subject_path": "data.member_id", **config}
    return registry.build_receiver("sermo", cfg, add_once=seen or Seen(), clock=lambda: NOW)


def body_of(payload: Any = PAYLOAD) -> bytes:
    return json.dumps(payload).encode()


def test_valid_message_is_unpacked() -> None:
    body = body_of()
    delivery = receiver().receive(body, sign(body))
    assert delivery.msg_id == "msg_1" and delivery.event_type == "post.created"
    assert delivery.subject == "u-123" and delivery.accepted
    (item,) = delivery.items
    assert item.title == "New post" and item.network == "sermo" and item.id == "p1"


def test_headers_are_case_insensitive() -> None:
    body = body_of()
    headers = {k.title(): v for k, v in sign(body).items()}
    assert receiver().receive(body, headers).msg_id == "msg_1"


def test_key_rotation_accepts_any_current_secret() -> None:
    body = body_of()
    assert receiver().verify(body, sign(body, secret=OLD)).msg_id == "msg_1"
    with pytest.raises(WebhookRejected) as caught:
        receiver().verify(body, sign(body, secret=OTHER))
    assert caught.value.reason == "bad_signature"


def test_multiple_signatures_in_header() -> None:
    body = body_of()
    headers = sign(body, extra="v1,AAAA v2,whatever garbage v1,@@@")
    assert receiver().verify(body, headers).msg_id == "msg_1"


@pytest.mark.parametrize("tamper", ["body", "id", "timestamp"])
def test_tampering_is_refused(tamper: str) -> None:
    body = body_of()
    headers = sign(body)
    if tamper == "body":
        body = body.replace(b"u-123", b"u-999")
    elif tamper == "id":
        headers["webhook-id"] = "msg_2"
    else:
        headers["webhook-timestamp"] = str(NOW + 1)
    with pytest.raises(WebhookRejected) as caught:
        receiver().verify(body, headers)
    assert caught.value.reason == "bad_signature"


@pytest.mark.parametrize("offset", [-301, 301, -10_000])
def test_outside_replay_window_refused(offset: int) -> None:
    body = body_of()
    with pytest.raises(WebhookRejected) as caught:
        receiver().verify(body, sign(body, ts=NOW + offset))
    assert caught.value.reason == "timestamp_out_of_window"


def test_window_edges_accepted_and_configurable() -> None:
    body = body_of()
    assert receiver().verify(body, sign(body, ts=NOW - 300, msg_id="a"))
    with pytest.raises(WebhookRejected):
        receiver(tolerance=60).verify(body, sign(body, ts=NOW - 61, msg_id="b"))


def test_replayed_id_refused_and_ttl_covers_window() -> None:
    seen = Seen()
    body = body_of()
    rcv = receiver(seen)
    rcv.verify(body, sign(body))
    with pytest.raises(WebhookRejected) as caught:
        rcv.verify(body, sign(body))
    assert caught.value.reason == "replay"
    assert seen.keys == {"webhook:sermo:msg_1": 600}  # 2 x tolerance


def test_bad_signature_never_consumes_an_id() -> None:
    seen = Seen()
    body = body_of()
    with pytest.raises(WebhookRejected):
        receiver(seen).verify(body, sign(body, secret=OTHER))
    assert seen.keys == {}


def test_nothing_parsed_before_verification() -> None:
    # A body that would explode a JSON parser is refused on signature alone.
    body = b"[" * 50_000
    headers = sign(b"{}")
    with pytest.raises(WebhookRejected) as caught:
        receiver().receive(body, headers)
    assert caught.value.reason == "bad_signature"


def test_oversize_refused_before_hmac() -> None:
    body = b"{" + b" " * 2048 + b"}"
    with pytest.raises(WebhookRejected) as caught:
        receiver(max_bytes=1024).verify(body, sign(body))
    assert caught.value.reason == "too_large"


@pytest.mark.parametrize(("headers", "reason"), [
    ({}, "missing_headers"),
    ({"webhook-id": "a", "webhook-timestamp": "x", "webhook-signature": "v1,AA=="},
     "bad_timestamp"),
    ({"webhook-id": "a", "webhook-timestamp": f"{NOW}.5", "webhook-signature": "v1,AA=="},
     "bad_timestamp"),
    ({"webhook-id": "a b", "webhook-timestamp": str(NOW), "webhook-signature": "v1,AA=="},
     "bad_id"),
    ({"webhook-id": "a", "webhook-timestamp": str(NOW), "webhook-signature": "nocomma"},
     "bad_signature"),
    ({"webhook-id": "a", "webhook-timestamp": str(NOW), "webhook-signature": "v1,%%%"},
     "bad_signature"),
])
def test_malformed_headers_refused_cleanly(headers: dict[str, str], reason: str) -> None:
    with pytest.raises(WebhookRejected) as caught:
        receiver().verify(b"{}", headers)
    assert caught.value.reason == reason


def test_non_utf8_body_refused() -> None:
    with pytest.raises(WebhookRejected) as caught:
        receiver().verify(b"\xff\xfe", sign(b"{}"))
    assert caught.value.reason == "not_utf8"


def test_verified_but_malformed_payload_is_invalid_data() -> None:
    for body in (b"not json", b"[1, 2]", json.dumps({"data": 5}).encode()):
        with pytest.raises(InvalidUpstreamData):
            receiver().receive(body, sign(body, msg_id=f"m{len(body)}"))


def test_bad_items_skipped_good_kept() -> None:
    payload = {"type": "posts.batch", "data": [
        {"id": "p1", "title": "Good", "url": "javascript:alert(1)"}, "junk", {"title": "no id"},
        {"id": "p2", "title": "Also good", "url": "https://net.example/p/2"}]}
    body = body_of(payload)
    delivery = receiver(subject_path="").receive(body, sign(body))
    assert [i.title for i in delivery.items] == ["Good", "Also good"]
    assert delivery.items[0].url is None and delivery.skipped == 2


def test_event_types_filter() -> None:
    body = body_of()
    delivery = receiver(event_types=["post.deleted"]).receive(body, sign(body))
    assert not delivery.accepted and delivery.items == ()


@pytest.mark.parametrize("secrets", [[], ["whsec_not base64!"], ["whsec_" + "QUFB"]])
def test_config_refuses_bad_secrets(secrets: list[str]) -> None:
    with pytest.raises(ConfigError):
        registry.load_config("webhooks", {"secrets": secrets})


def test_config_hides_secrets() -> None:
    cfg = registry.load_config("webhooks", {"secrets": [NEW]})
    assert NEW not in repr(cfg) and NEW[6:] not in repr(cfg)
