"""OpenID Connect Back-Channel Logout 1.0 through a durable outbox.

A trigger (RP-initiated logout, the doctor signing out or revoking consent, an admin or a
licence withdrawal ending the doctor's sessions) writes one ``logout_outbox`` row per
relying party that registered a ``backchannel_logout_uri``. The row is the source of
truth: ``process_due`` (the ``hub logout-worker`` loop, or a test calling it directly)
claims due rows with a short lease, signs a fresh logout token per attempt and POSTs it.
A failed attempt is retried with exponential backoff; after ``max_attempts`` the row is
``failed`` and an audit event says so. Logout itself never waits for a relying party.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests
from sqlalchemy import func, or_, select, update

from hub.crypto import new_token
from hub.db import Database, utcnow
from hub.models.grants import Grant
from hub.models.relying import LogoutDelivery
from hub.outbound import OutboundError

if TYPE_CHECKING:
    from hub.services import Hub
    from hub.sessions import SSOSession

log = logging.getLogger("hub.relying.backchannel")

EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TTL = 120  # seconds; §2.4 recommends a short lifetime (a fresh token per attempt)
TIMEOUT = 5.0  # seconds for a whole delivery: connect, send and the RP's answer
MAX_ANSWER = 64 * 1024  # §2.8 expects an empty 200; a larger answer is not a logout answer
MAX_ATTEMPTS = 6
BASE_DELAY = 10.0  # seconds before the 2nd attempt; doubles each time
MAX_DELAY = 3600.0
LEASE = 60.0  # a worker that died mid-delivery releases its rows after this


# -- triggers -----------------------------------------------------------------------------
def enqueue(hub: Hub, client_id: str, doctor_id: str, *, sid: str | None, trigger: str) -> int | None:
    """Queue one logout for a client; None when it registered no back-channel endpoint."""
    client = hub.clients.get(client_id)
    if client is None:
        return None
    uri = client.metadata.get("backchannel_logout_uri")
    if not uri:
        return None
    if client.metadata.get("backchannel_logout_session_required") and not sid:
        # §2.2: this RP needs sid to find the session; a sub-only token would be refused.
        log.warning("no sid for %s, which requires one; logout not sent", client_id)
        return None
    row = LogoutDelivery(client_id=client_id, doctor_id=doctor_id, sub=hub.subject(doctor_id, client),
                         sid=sid, uri=str(uri), trigger=trigger[:40], status="pending", attempts=0,
                         next_attempt_at=utcnow())
    with hub.db.session() as s:
        s.add(row)
        s.flush()
        row_id = row.id
    hub.audit_event("oidc:logout:queued", doctor_id=doctor_id, client_id=client_id, trigger=trigger)
    return row_id


def session_ended(hub: Hub, sso: SSOSession | None, *, trigger: str,
                  initiator: str | None = None) -> list[int]:
    """Every network this SSO session signed into, except the one that asked to log out."""
    if sso is None:
        return []
    ids = [enqueue(hub, c, sso.doctor_id, sid=sso.sid, trigger=trigger)
           for c in dict.fromkeys(sso.clients) if c != initiator]
    return [i for i in ids if i is not None]


def active_sessions(hub: Hub, doctor_id: str, client_id: str | None = None) -> list[tuple[str, str | None]]:
    """(client, sid) of the doctor's grants still in force: who to tell before revoking."""
    q = select(Grant.client_id, Grant.sid).where(Grant.doctor_id == doctor_id,
                                                 Grant.revoked_at.is_(None)).distinct()
    if client_id is not None:
        q = q.where(Grant.client_id == client_id)
    with hub.db.session() as s:
        return [(c, sid) for c, sid in s.execute(q)]


def grants_ending(hub: Hub, doctor_id: str, *, trigger: str, client_id: str | None = None,
                  sessions: list[tuple[str, str | None]] | None = None) -> list[int]:
    pairs = active_sessions(hub, doctor_id, client_id) if sessions is None else sessions
    ids = [enqueue(hub, c, doctor_id, sid=sid, trigger=trigger) for c, sid in dict.fromkeys(pairs)]
    return [i for i in ids if i is not None]


def wrap_end_doctor_sessions(hub: Hub) -> None:
    """Extend ``hub.end_doctor_sessions`` (admin, licence withdrawal, "sign out everywhere")
    on this Hub instance so that it also queues back-channel logouts; same signature."""
    original = hub.end_doctor_sessions
    if getattr(original, "_backchannel", False):
        return

    def end_doctor_sessions(doctor_id: str, *, reason: str, actor: str | None = None,
                            **more: Any) -> list[str]:
        sessions = active_sessions(hub, doctor_id)
        revoked = original(doctor_id, reason=reason, actor=actor, **more)
        try:
            grants_ending(hub, doctor_id, trigger=reason, sessions=sessions)
        except Exception:  # noqa: BLE001 - the sessions are ended; a queue error must not undo that
            log.exception("could not queue back-channel logout for %s", doctor_id)
        return revoked

    end_doctor_sessions._backchannel = True  # type: ignore[attr-defined]
    hub.end_doctor_sessions = end_doctor_sessions  # type: ignore[method-assign]


# -- delivery -------------------------------------------------------------------------------
def logout_token(hub: Hub, row: LogoutDelivery) -> str:
    """§2.4: iss, aud, iat, exp, jti, events, and sid and/or sub; never a nonce."""
    client = hub.clients.get(row.client_id)
    now = int(time.time())
    claims: dict[str, Any] = {"iss": hub.settings.issuer, "aud": row.client_id, "iat": now,
                              "exp": now + LOGOUT_TOKEN_TTL, "jti": new_token(16),
                              "events": {EVENT: {}}}
    if row.sub:
        claims["sub"] = row.sub
    if row.sid:
        claims["sid"] = row.sid
    alg = client.id_token_signed_response_alg if client is not None else "RS256"
    return hub.keys.sign(claims, alg=alg, typ="logout+jwt")  # §2.4: signed like ID tokens


def _claim(db: Database, now: datetime, limit: int) -> list[int]:
    with db.session() as s:
        ids = list(s.scalars(
            select(LogoutDelivery.id)
            .where(LogoutDelivery.status == "pending", LogoutDelivery.next_attempt_at <= now,
                   or_(LogoutDelivery.locked_until.is_(None), LogoutDelivery.locked_until < now))
            .order_by(LogoutDelivery.next_attempt_at).limit(limit)))
    claimed = []
    for row_id in ids:
        with db.session() as s:
            # Compare-and-set: of two workers only one takes the lease.
            res = s.execute(update(LogoutDelivery)
                            .where(LogoutDelivery.id == row_id, LogoutDelivery.status == "pending",
                                   or_(LogoutDelivery.locked_until.is_(None),
                                       LogoutDelivery.locked_until < now))
                            .values(locked_until=now + timedelta(seconds=LEASE)))
            if res.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(row_id)
    return claimed


def backoff(attempts: int, base_delay: float = BASE_DELAY) -> float:
    return float(min(base_delay * (2 ** max(attempts - 1, 0)), MAX_DELAY))


def deliver(hub: Hub, row_id: int, *, max_attempts: int = MAX_ATTEMPTS, base_delay: float = BASE_DELAY,
            now: datetime | None = None, http: requests.Session | None = None) -> str:
    """One attempt for one claimed row; returns the row's new status.

    ``http`` is a session from ``hub.outbound`` (one per worker pass); the RP's URI was
    registered by the RP, so it goes out through the guard like any other hub request.
    """
    with hub.db.session() as s:
        row = s.get(LogoutDelivery, row_id)
        if row is None or row.status != "pending":
            return row.status if row is not None else "gone"
        s.expunge(row)
    code: int | None = None
    error: str | None = None
    refused = False
    session = http or hub.outbound.session(deadline=TIMEOUT, max_bytes=MAX_ANSWER, max_redirects=0)
    try:
        token = logout_token(hub, row)
        # §2.5: POST form-encoded; never follow a redirect (it could point anywhere).
        resp = session.post(row.uri, data={"logout_token": token}, allow_redirects=False,
                            headers={"Cache-Control": "no-store"})
        code = resp.status_code
        if not 200 <= code < 300:  # §2.8: 200 (some frameworks answer 204)
            error = f"HTTP {code}"
    except OutboundError as e:
        error = str(e)
        # An address or scheme the hub does not call stays refused however often it is
        # retried: the delivery fails now, with the reason on record for the admin console.
        refused = e.reason.startswith("refused_")
    except requests.RequestException as e:
        error = type(e).__name__
    finally:
        if http is None:
            session.close()
    attempts = row.attempts + 1
    when = now or utcnow()
    values: dict[str, Any] = {"attempts": attempts, "locked_until": None, "last_status_code": code}
    if error is None:
        values.update(status="delivered", delivered_at=when, last_error=None)
    elif attempts >= max_attempts or refused:
        values.update(status="failed", last_error=error[:300])
    else:
        values.update(last_error=error[:300],
                      next_attempt_at=when + timedelta(seconds=backoff(attempts, base_delay)))
    with hub.db.session() as s:
        s.execute(update(LogoutDelivery).where(LogoutDelivery.id == row_id).values(**values))
    status = str(values.get("status", "pending"))
    if status == "failed":
        hub.audit_event("oidc:logout:delivery_failed", doctor_id=row.doctor_id, client_id=row.client_id,
                        attempts=attempts, error=error)
    elif status == "delivered":
        hub.audit_event("oidc:logout:delivered", doctor_id=row.doctor_id, client_id=row.client_id,
                        attempts=attempts)
    return status


def process_due(hub: Hub, *, now: datetime | None = None, limit: int = 100,
                max_attempts: int = MAX_ATTEMPTS, base_delay: float = BASE_DELAY) -> dict[str, int]:
    """Deliver every due row once (synchronously). ``now`` lets tests skip the backoff."""
    when = now or utcnow()
    counts: dict[str, int] = {}
    claimed = _claim(hub.db, when, limit)
    if not claimed:
        return counts
    with hub.outbound.session(deadline=TIMEOUT, max_bytes=MAX_ANSWER, max_redirects=0) as http:
        for row_id in claimed:
            status = deliver(hub, row_id, max_attempts=max_attempts, base_delay=base_delay, now=when,
                             http=http)
            counts[status] = counts.get(status, 0) + 1
    return counts


def run_worker(hub: Hub, *, interval: float = 1.0, once: bool = False) -> None:
    while True:
        try:
            counts = process_due(hub)
            if counts:
                log.info("back-channel logout: %s", counts)
        except Exception:  # noqa: BLE001 - keep the worker alive; rows stay pending
            log.exception("back-channel logout worker pass failed")
        if once:
            return
        time.sleep(interval)


# -- status for the admin console -----------------------------------------------------------
def delivery_status(db: Database, client_id: str, *, recent: int = 20) -> dict[str, Any]:
    """Back-channel logout delivery status of one client, for the admin console.

    {"client_id", "pending", "delivered", "failed" (counts), "last_delivered_at",
     "last_failed_at", "recent": [{id, trigger, status, attempts, last_error,
     last_status_code, created_at, next_attempt_at, delivered_at}, ...]} (newest first;
    no subject or session ids: the console needs none to see whether a network listens).
    """
    with db.session() as s:
        counts = dict(s.execute(select(LogoutDelivery.status, func.count())
                                .where(LogoutDelivery.client_id == client_id)
                                .group_by(LogoutDelivery.status)).all())
        last_ok = s.scalar(select(func.max(LogoutDelivery.delivered_at))
                           .where(LogoutDelivery.client_id == client_id))
        last_failed = s.scalar(select(func.max(LogoutDelivery.next_attempt_at))
                               .where(LogoutDelivery.client_id == client_id,
                                      LogoutDelivery.status == "failed"))
        rows = s.scalars(select(LogoutDelivery).where(LogoutDelivery.client_id == client_id)
                         .order_by(LogoutDelivery.id.desc()).limit(recent)).all()
        recent_rows = [{"id": r.id, "trigger": r.trigger, "status": r.status, "attempts": r.attempts,
                        "last_error": r.last_error, "last_status_code": r.last_status_code,
                        "created_at": r.created_at, "next_attempt_at": r.next_attempt_at,
                        "delivered_at": r.delivered_at} for r in rows]
    return {"client_id": client_id, "pending": int(counts.get("pending", 0)),
            "delivered": int(counts.get("delivered", 0)), "failed": int(counts.get("failed", 0)),
            "last_delivered_at": last_ok, "last_failed_at": last_failed, "recent": recent_rows}
