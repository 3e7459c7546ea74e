"""The partner networks the hub links to: rows of ``link_networks`` turned into connectors."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from connectors import registry
from connectors.base import Connector
from connectors.errors import ConfigError
from connectors.webhooks import WebhookReceiver
from hub.domain.crypto import DecryptionError
from hub.persistence.db import Database, utcnow
from hub.persistence.models.links import LinkNetwork

log = logging.getLogger("hub.links")


@dataclass(frozen=True)
class Network:
    name: str
    display_name: str
    kind: str
    enabled: bool
    signin: bool
    poll_interval: int
    rate_per_minute: int
    updated_at: datetime
    connector: Connector
    receiver: WebhookReceiver | None


class Networks:
    def __init__(self, *, db: Database, store: Any, secrets: Any, outbound: Any,
                 cache_ttl: float) -> None:
        self.db, self.store, self.secrets = db, store, secrets
        self.outbound, self.cache_ttl = outbound, cache_ttl
        self._lock = threading.Lock()
        self._cache: dict[str, Network] = {}

    def add(self, name: str, kind: str, config: Mapping[str, Any], *, display_name: str = "",
            webhook: Mapping[str, Any] | None = None, signin: bool | None = None,
            poll_interval: int = 300, rate_per_minute: int = 60, enabled: bool = True) -> None:
        """Add or replace a network; the config is validated now (unknown keys fail)."""
        self._connector(name, kind, config)
        if webhook is not None:
            registry.load_config("webhooks", webhook)
        if not 10 <= poll_interval <= 86400 or not 1 <= rate_per_minute <= 6000:
            raise ConfigError("poll_interval 10..86400 s, rate_per_minute 1..6000")
        enc = self.secrets.encrypt
        with self.db.session() as s:
            row = s.get(LinkNetwork, name) or LinkNetwork(name=name)
            row.display_name = (display_name or name)[:100]
            row.kind = kind
            row.config_enc = enc(json.dumps(dict(config)).encode())
            row.webhook_enc = enc(json.dumps(dict(webhook)).encode()) if webhook else None
            # Only kinds whose link proves control can ever sign a doctor in.
            row.signin = registry.KINDS[kind].allows_signin(signin)
            row.poll_interval, row.rate_per_minute = poll_interval, rate_per_minute
            row.enabled, row.updated_at = enabled, utcnow()
            s.add(row)
        with self._lock:
            self._cache.pop(name, None)

    def _connector(self, name: str, kind: str, config: Mapping[str, Any]) -> Connector:
        """A connector whose every request leaves through the hub's guard (hub/outbound.py),
        within the network's own time budget (``http.timeout``) and body cap."""
        if kind not in registry.KINDS:
            return registry.build(name, kind, config)  # raises ConfigError naming the kinds
        typed = registry.load_config(kind, config)
        options = typed.http
        http = self.outbound.session(deadline=options.timeout, max_bytes=options.max_bytes)
        return registry.build(name, kind, typed, session=http)

    def _build(self, row: LinkNetwork) -> Network:
        dec = self.secrets.decrypt
        config = json.loads(dec(row.config_enc))
        receiver = None
        if row.webhook_enc:
            store = self.store
            receiver = registry.build_receiver(
                row.name, json.loads(dec(row.webhook_enc)),
                add_once=lambda key, ttl: bool(store.add_once("webhook", key[-128:], ttl=ttl)))
        return Network(name=row.name, display_name=row.display_name, kind=row.kind,
                       enabled=row.enabled, signin=row.signin, poll_interval=row.poll_interval,
                       rate_per_minute=row.rate_per_minute, updated_at=row.updated_at,
                       connector=self._connector(row.name, row.kind, config), receiver=receiver)

    def _from_row(self, row: LinkNetwork) -> Network:
        with self._lock:
            cached = self._cache.get(row.name)
        if cached is not None and cached.updated_at == row.updated_at:
            return cached
        net = self._build(row)
        with self._lock:
            self._cache[row.name] = net
        return net

    def get(self, name: str) -> Network | None:
        if not isinstance(name, str) or len(name) > 63:
            return None
        with self.db.session() as s:
            row = s.get(LinkNetwork, name)
            return self._from_row(row) if row is not None else None

    def all(self) -> list[Network]:
        with self.db.session() as s:
            rows = s.scalars(select(LinkNetwork).order_by(LinkNetwork.display_name)).all()
        out = []
        for r in rows:
            try:
                out.append(self._from_row(r))
            except (DecryptionError, ConfigError, ValueError):
                # A network whose config no longer validates (or was encrypted under a key
                # that has since been dropped) is left out, not allowed to break every page.
                log.exception("network %s cannot be built", r.name)
        return out

    def signin_choices(self) -> list[tuple[str, str]]:
        """(name, display name) of networks offering brokered sign-in: no decryption, and
        cached like clients for a few seconds, so the login page stays cheap."""
        now = time.monotonic()
        cached = getattr(self, "_signin_cache", None)
        if cached is not None and cached[0] > now:
            return list(cached[1])
        with self.db.session() as s:
            choices = [(n, d) for n, d in s.execute(
                select(LinkNetwork.name, LinkNetwork.display_name)
                .where(LinkNetwork.enabled.is_(True), LinkNetwork.signin.is_(True))
                .order_by(LinkNetwork.display_name))]
        self._signin_cache = (now + self.cache_ttl, choices)
        return list(choices)
