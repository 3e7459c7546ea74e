"""Config of the ``webhooks`` receiver (Standard Webhooks)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from connectors.errors import ConfigError
from connectors.mapping import ItemMapping, check_path

SECRET_PREFIX = "whsec_"


def secret_bytes(secret: str) -> bytes:
    """Decode a ``whsec_<base64>`` secret strictly (the library's decoder skips junk)."""
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError("secrets: each secret is whsec_ followed by base64") from None
    # Standard Webhooks recommends 24-64 random bytes; fewer than 16 is refused.
    if len(key) < 16:
        raise ConfigError("secrets: each secret must decode to at least 16 bytes")
    return key


@dataclass(frozen=True, kw_only=True)
class WebhookConfig:
    # Every currently valid signing secret; during rotation list the new and the old one.
    secrets: tuple[str, ...] = field(repr=False)
    tolerance: int = 300  # seconds either side of webhook-timestamp (the replay window)
    max_bytes: int = 1024 * 1024  # refuse larger bodies before computing any HMAC
    event_types: tuple[str, ...] = ()  # accepted event types; empty = all
    type_path: str = "type"  # Standard Webhooks payload: {"type", "timestamp", "data"}
    subject_path: str = ""  # the upstream member id the event concerns, e.g. data.member_id
    mapping: ItemMapping = field(default_factory=lambda: ItemMapping(items_path="data"))

    def __post_init__(self) -> None:
        if not self.secrets:
            raise ConfigError("secrets: at least one")
        for secret in self.secrets:
            secret_bytes(secret)
        if not 30 <= self.tolerance <= 3600:
            raise ConfigError("tolerance: between 30 and 3600 seconds")
        if not 1024 <= self.max_bytes <= 16 * 1024 * 1024:
            raise ConfigError("max_bytes: between 1 KiB and 16 MiB")
        check_path(self.type_path, "type_path")
        check_path(self.subject_path, "subject_path")
