"""Linking a doctor's network account, in the same hub session, and unlinking it.

Flow (docs/links.md): ``begin`` stores the connector's pending state server-side under a
random ``state`` (kind ``link-pending``) bound to the hub session (or, for brokered sign-in,
to the login request and a browser cookie); the callback ``consume``s it atomically, so it
cannot be replayed, and ``complete_link`` proves control of the upstream account. Accounts
are never linked because e-mail addresses match: connectors do not even return them.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from connectors.base import LinkedIdentity, LinkStart
from connectors.errors import ConnectorError, UpstreamUnavailable
from hub.domain.crypto import new_token, sha256_hex
from hub.links.feed import Feed
from hub.links.networks import Network, Networks
from hub.links.relay import Relay
from hub.links.vault import TokenVault, load
from hub.persistence.db import Database, utcnow
from hub.persistence.models.links import AccountLink, FeedItem, RelayState

log = logging.getLogger("hub.links")
PENDING_KIND = "link-pending"
REVOKE_JOB = "hub.links.jobs:revoke"


class LinkError(Exception):
    """Shown to the doctor: the text is public (no internals)."""


@dataclass(frozen=True)
class Started:
    state: str
    start: LinkStart
    network: Network


@dataclass(frozen=True)
class Completed:
    purpose: str  # "link" or "signin"
    link_id: str | None
    doctor_id: str | None
    pending_authz: str | None  # signin: the authorization request to resume
    identity: LinkedIdentity


def active_key(identity: LinkedIdentity) -> str:
    return f"{identity.network}|{identity.issuer}|{identity.subject}"[:700]


class Links:
    """Everything links-related for one hub (built once, in hub/composition.py)."""

    def __init__(self, *, db: Database, store: Any, secrets: Any, outbound: Any,
                 audit_event: Callable[..., None], queue: Any, login_state_ttl: int,
                 feed_retention_days: int, cache_ttl: float) -> None:
        self.db, self.store, self.secrets = db, store, secrets
        self.login_state_ttl = login_state_ttl
        self.audit_event = audit_event
        self.queue = queue
        self.networks = Networks(db=db, store=store, secrets=secrets, outbound=outbound,
                                 cache_ttl=cache_ttl)
        self.vault = TokenVault(db=db, store=store, secrets=secrets)
        self.relay = Relay(db=db, store=store, networks=self.networks, vault=self.vault)
        self.feed = Feed(db=db, networks=self.networks, retention_days=feed_retention_days)

    # -- begin ----------------------------------------------------------------------------
    def begin(self, network: str, *, redirect_uri: str, purpose: str, doctor_id: str | None = None,
              sid: str | None = None, pending_authz: str | None = None,
              browser: str | None = None) -> Started:
        net = self.networks.get(network)
        if net is None or not net.enabled:
            raise LinkError("That network is not available.")
        if purpose == "signin" and not net.signin:
            raise LinkError("Signing in with that network is not possible.")
        state = new_token(24)
        link_id = None
        if purpose == "link":
            assert doctor_id is not None and sid is not None
            with self.db.session() as s:
                row = AccountLink(doctor_id=doctor_id, network=net.name, state="pending")
                s.add(row)
                s.flush()
                link_id = row.id
        try:
            start = net.connector.begin_link(state=state, redirect_uri=redirect_uri)
        except ConnectorError as e:
            self._drop_pending(link_id)
            log.warning("begin_link %s failed: %s %s", network, e.reason, e.detail)
            raise LinkError(str(e)) from None
        record = {"purpose": purpose, "network": net.name, "doctor_id": doctor_id, "sid": sid,
                  "link_id": link_id, "authz": pending_authz, "browser": browser,
                  "pending": base64.b64encode(start.pending).decode()}
        ttl = self.login_state_ttl
        self.store.put(PENDING_KIND, state, json.dumps(record).encode(), ttl=ttl)
        return Started(state, start, net)

    # -- callback -------------------------------------------------------------------------
    def complete(self, state: str, params: dict[str, str], *, sid: str | None,
                 browser: str | None) -> Completed:
        raw = self.store.consume(PENDING_KIND, state[:64]) if state else None
        if raw is None:
            raise LinkError("This linking attempt expired or was already used. Start again.")
        rec = json.loads(raw)
        net = self.networks.get(rec["network"])
        try:
            if net is None:
                raise LinkError("That network is not available.")
            if rec["purpose"] == "link" and (sid is None or sid != rec["sid"]):
                # Proof of control of both sides needs the same hub session throughout.
                raise LinkError("Your Curbside session changed. Sign in and start again.")
            if rec["purpose"] == "signin" and (not browser or sha256_hex(browser) != rec["browser"]):
                raise LinkError("This sign-in was started in another browser. Start again.")
            try:
                identity = net.connector.complete_link(params, base64.b64decode(rec["pending"]))
            except ConnectorError as e:
                log.warning("complete_link %s failed: %s %s", net.name, e.reason, e.detail)
                raise LinkError(str(e)) from None
        except LinkError:
            self._drop_pending(rec.get("link_id"))
            raise
        if rec["purpose"] == "signin":
            return Completed("signin", None, self._doctor_for(identity), rec["authz"], identity)
        link_id = self._activate(rec["link_id"], rec["doctor_id"], identity)
        return Completed("link", link_id, rec["doctor_id"], None, identity)

    def _doctor_for(self, identity: LinkedIdentity) -> str | None:
        """The doctor whose active link, made with proof of control, is this upstream account.
        An unknown upstream account gets nobody: it never creates or merges an account."""
        if not identity.proves_control:
            return None
        with self.db.session() as s:
            row = s.scalars(select(AccountLink).where(
                AccountLink.active_key == active_key(identity), AccountLink.state == "active",
                AccountLink.proves_control.is_(True))).first()
            return row.doctor_id if row else None

    def _activate(self, link_id: str, doctor_id: str, identity: LinkedIdentity) -> str:
        key = active_key(identity)
        with self.db.session() as s:
            existing = s.scalars(select(AccountLink).where(AccountLink.active_key == key)).first()
        if existing is not None and existing.doctor_id != doctor_id:
            self._drop_pending(link_id)
            self.audit_event("doctor:link:add", doctor_id=doctor_id, network=identity.network,
                             outcome="refused", reason="linked_to_another_account")
            raise LinkError("That account is already linked to another Curbside account.")
        if existing is not None:  # relinking the same account: refresh evidence and tokens
            self._drop_pending(link_id)
            link_id = existing.id
        creds = identity.credentials
        try:
            with self.db.session() as s:
                row = s.get(AccountLink, link_id)
                if row is None:
                    raise LinkError("This linking attempt expired. Start again.")
                row.state, row.active_key = "active", key
                row.issuer, row.subject = identity.issuer[:255], identity.subject[:255]
                row.display_name = (identity.display_name or "")[:200] or None
                row.acr, row.amr = identity.acr, list(identity.amr)
                row.authenticated_at, row.linked_at = identity.authenticated_at, identity.linked_at
                row.proves_control, row.revoked_at = identity.proves_control, None
                state = s.get(RelayState, link_id) or RelayState(link_id=link_id)
                state.next_due, state.failures, state.last_error = utcnow(), 0, None
                s.add(state)
        except IntegrityError:  # a concurrent link of the same account won
            self._drop_pending(link_id)
            raise LinkError("That account is already linked to a Curbside account.") from None
        self.vault.save(link_id, creds)
        self.audit_event("doctor:link:add", doctor_id=doctor_id, network=identity.network,
                         issuer=identity.issuer, upstream_subject=identity.subject,
                         acr=identity.acr, proves_control=identity.proves_control,
                         link_id=link_id)
        return link_id

    def _drop_pending(self, link_id: str | None) -> None:
        if link_id is None:
            return
        with self.db.session() as s:
            s.execute(delete(AccountLink).where(AccountLink.id == link_id,
                                                AccountLink.state == "pending"))

    # -- the doctor's links ---------------------------------------------------------------
    def of(self, doctor_id: str) -> list[tuple[AccountLink, RelayState | None]]:
        with self.db.session() as s:
            rows = s.execute(
                select(AccountLink, RelayState)
                .outerjoin(RelayState, RelayState.link_id == AccountLink.id)
                .where(AccountLink.doctor_id == doctor_id,
                       AccountLink.state.in_(("active", "suspended")))
                .order_by(AccountLink.created_at)).all()
            return [(a, r) for a, r in rows]

    def set_flag(self, doctor_id: str, link_id: str, flag: str, value: bool) -> bool:
        if flag not in ("paused", "hidden"):
            return False
        values: dict[str, Any] = {flag: value}
        with self.db.session() as s:
            done = s.execute(update(AccountLink).where(
                AccountLink.id == link_id, AccountLink.doctor_id == doctor_id,
                AccountLink.state.in_(("active", "suspended"))).values(**values)).rowcount
            if done and flag == "paused" and not value:
                s.execute(update(RelayState).where(RelayState.link_id == link_id)
                          .values(next_due=utcnow()))
        return bool(done)

    def unlink(self, doctor_id: str, link_id: str, *, actor: str | None = None,
               reason: str | None = None, address: str | None = None) -> bool:
        """Revoke at the network where possible, delete tokens, relay state and cached items.
        ``reason`` and ``address`` (an admin revoking the link) go into the audit record."""
        with self.db.session() as s:
            row = s.get(AccountLink, link_id)
            if row is None or row.doctor_id != doctor_id or row.state == "revoked":
                return False
            network = row.network
            # Revoked first, so a relay job that is running now finds nothing to store.
            row.state, row.active_key, row.revoked_at = "revoked", None, utcnow()
        blob = self.vault.encrypted(link_id)
        net = self.networks.get(network)
        revoked_upstream = "none"
        if blob is not None and net is not None:
            revoked_upstream = self.revoke_upstream(net, blob)
        self.vault.delete(link_id)
        with self.db.session() as s:
            s.execute(delete(FeedItem).where(FeedItem.link_id == link_id))
            s.execute(delete(RelayState).where(RelayState.link_id == link_id))
        self.audit_event("doctor:link:revoke", doctor_id=doctor_id, actor=actor, address=address,
                         network=network, link_id=link_id, upstream=revoked_upstream,
                         reason=reason)
        return True

    def revoke_upstream(self, net: Network, blob: str, attempt: int = 0) -> str:
        """Best effort (RFC 7009). When the network is down, the still-encrypted credentials
        go to the queue for a later try; the hub's own copy is deleted either way."""
        try:
            net.connector.revoke(load(self.secrets.decrypt(blob)))
            return "revoked"
        except UpstreamUnavailable:
            if attempt < 5:
                self.queue.enqueue(REVOKE_JOB, net.name, blob, attempt + 1,
                                   delay=60 * 2 ** attempt)
            return "retrying"
        except ConnectorError as e:
            log.info("revoke at %s refused: %s", net.name, e.reason)
            return "refused"

    def purge_pending(self, older_than: timedelta) -> int:
        cutoff = datetime.now(UTC) - older_than
        with self.db.session() as s:
            return int(s.execute(delete(AccountLink).where(
                AccountLink.state == "pending", AccountLink.created_at < cutoff)).rowcount or 0)
