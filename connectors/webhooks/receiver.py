"""Verify and unpack pushed messages signed per the Standard Webhooks specification.

Order matters and is the point of this module: size cap → header syntax → timestamp within
the window → HMAC-SHA256 over ``id.timestamp.body`` with any current secret (constant-time
compare) → replay check on the message id → only then JSON parsing. Nothing from the body
is looked at before the signature is known good, and a bad signature never consumes a
message id (so a forger cannot burn ids of real messages).

The HMAC itself is the ``standardwebhooks`` package's ``Webhook.sign``; its ``verify`` is not
used because its replay window is fixed at five minutes against the wall clock, while ours is
configurable and takes an injectable clock.

Replay: a message is accepted while |now - timestamp| <= tolerance, so an id must be kept
for 2 x tolerance; ``add_once(key, ttl)`` (the hub's atomic set-if-absent) returns False for
an id seen before. Exceptions from ``add_once`` itself are the hub's and pass through
(answer 5xx; the sender retries).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook

from connectors.base import ActivityItem
from connectors.errors import InvalidUpstreamData, WebhookRejected
from connectors.jsonapi import subject_of
from connectors.mapping import collect, lookup, map_item
from connectors.webhooks.config import WebhookConfig, secret_bytes

AddOnce = Callable[[str, int], bool]
_MAX_SIGNATURES = 10


@dataclass(frozen=True, kw_only=True)
class VerifiedMessage:
    msg_id: str
    timestamp: datetime
    body: bytes = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class WebhookDelivery:
    network: str
    msg_id: str
    timestamp: datetime
    event_type: str | None
    subject: str | None  # upstream member id, when subject_path is configured and present
    accepted: bool  # False when event_types is set and this type is not in it
    items: tuple[ActivityItem, ...] = ()
    skipped: int = 0


class WebhookReceiver:
    kind = "webhooks"

    def __init__(
        self,
        network: str,
        config: WebhookConfig,
        *,
        add_once: AddOnce,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.network = network
        self.config = config
        self.add_once = add_once
        self.clock = clock
        self._hooks = tuple(Webhook(secret_bytes(s)) for s in config.secrets)

    def _reject(self, reason: str) -> WebhookRejected:
        return WebhookRejected(reason=reason, network=self.network)

    def verify(self, body: bytes, headers: Mapping[str, str]) -> VerifiedMessage:
        if not isinstance(body, bytes) or len(body) > self.config.max_bytes:
            raise self._reject("too_large")
        lowered = {str(k).lower(): v for k, v in headers.items()}
        msg_id = lowered.get("webhook-id")
        stamp = lowered.get("webhook-timestamp")
        signature = lowered.get("webhook-signature")
        if not (isinstance(msg_id, str) and isinstance(stamp, str)
                and isinstance(signature, str)):
            raise self._reject("missing_headers")
        if not 0 < len(msg_id) <= 256 or not msg_id.isprintable() or " " in msg_id:
            raise self._reject("bad_id")
        if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
            raise self._reject("bad_timestamp")
        ts = int(stamp)
        if abs(self.clock() - ts) > self.config.tolerance:
            raise self._reject("timestamp_out_of_window")
        offered = self._signatures(signature)
        try:
            text = body.decode("utf-8")  # the signed content is the body as UTF-8 text
        except UnicodeDecodeError:
            raise self._reject("not_utf8") from None
        when = datetime.fromtimestamp(ts, UTC)
        if not any(self._matches(hook, msg_id, when, text, offered) for hook in self._hooks):
            raise self._reject("bad_signature")
        if not self.add_once(f"webhook:{self.network}:{msg_id}", 2 * self.config.tolerance):
            raise self._reject("replay")
        return VerifiedMessage(msg_id=msg_id, timestamp=when, body=body)

    def receive(self, body: bytes, headers: Mapping[str, str]) -> WebhookDelivery:
        """Verify, then map the payload to items. A verified message with a bad payload
        raises :class:`InvalidUpstreamData` (answer 400; its id is already consumed)."""
        message = self.verify(body, headers)
        try:
            doc = json.loads(message.body)
        except (ValueError, RecursionError):
            raise InvalidUpstreamData(reason="malformed_json", network=self.network) from None
        if not isinstance(doc, dict):
            raise InvalidUpstreamData(reason="wrong_shape", network=self.network)
        cfg = self.config
        event_type = lookup(doc, cfg.type_path) if cfg.type_path else None
        event_type = event_type if isinstance(event_type, str) and event_type.isprintable() \
            else None
        subject = None
        if cfg.subject_path:
            raw_subject = lookup(doc, cfg.subject_path)
            subject = subject_of(raw_subject, self.network) if raw_subject is not None else None
        accepted = not cfg.event_types or event_type in cfg.event_types
        base = WebhookDelivery(network=self.network, msg_id=message.msg_id,
                               timestamp=message.timestamp, event_type=event_type,
                               subject=subject, accepted=accepted)
        if not accepted:
            return base
        raw = lookup(doc, cfg.mapping.items_path)
        raw_items: list[Any] = [raw] if isinstance(raw, dict) else raw if isinstance(
            raw, list) else []
        if raw is not None and not isinstance(raw, dict | list):
            raise InvalidUpstreamData(reason="wrong_shape", network=self.network)
        items, skipped = collect(
            (map_item(r, cfg.mapping, network=self.network) for r in raw_items),
            total=len(raw_items),
        )
        return WebhookDelivery(network=self.network, msg_id=message.msg_id,
                               timestamp=message.timestamp, event_type=event_type,
                               subject=subject, accepted=True, items=items, skipped=skipped)

    @staticmethod
    def _signatures(header: str) -> list[bytes]:
        """``v1,<base64>`` entries separated by spaces; anything else is ignored."""
        found: list[bytes] = []
        for entry in header[:4096].split(" ")[:_MAX_SIGNATURES]:
            version, _, value = entry.partition(",")
            if version != "v1" or not value:
                continue
            try:
                found.append(base64.b64decode(value, validate=True))
            except (binascii.Error, ValueError):
                continue
        return found

    @staticmethod
    def _matches(hook: Webhook, msg_id: str, when: datetime, text: str,
                 offered: list[bytes]) -> bool:
        expected = base64.b64decode(hook.sign(msg_id, when, text).partition(",")[2])
        return any(hmac.compare_digest(expected, sig) for sig in offered)
