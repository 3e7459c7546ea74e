"""OpenID Connect Back-Channel Logout 1.0 through a durable outbox.

A trigger (RP-initiated logout, the doctor signing out or revoking consent, an admin or a
licence withdrawal ending the doctor's sessions) writes one ``logout_outbox`` row per
relying party that registered a ``backchannel_logout_uri``. The row is the source of
truth: ``process_due`` (the ``hub logout-worker`` loop, or a test calling it directly)
takes each due row's lease right before sending, signs a fresh logout token per attempt and
POSTs it; partners are served in parallel by a bounded thread pool. A failed attempt is
retried with exponential backoff and jitter (by default for more than a day); after
``logout_max_attempts`` the row is ``failed`` and an audit event says so, and
``hub logout retry`` queues it again. Logout itself never waits for a relying party.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests
from sqlalchemy import func, or_, select, update

from hub.domain.crypto import new_token
from hub.domain.events import DoctorSessionsEnded
from hub.outbound import OutboundError
from hub.persistence.db import Database, utcnow
from hub.persistence.models.grants import Grant
from hub.persistence.models.relying import LogoutDelivery

if TYPE_CHECKING:
    from hub.domain.sessions import SSOSession
    from hub.services import Hub

log = logging.getLogger("hub.relying.backchannel")

EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TTL = 120  # seconds; §2.4 recommends a short lifetime (a fresh token per attempt)
TIMEOUT = 5.0  # seconds for a whole delivery: connect, send and the RP's answer
MAX_ANSWER = 64 * 1024  # §2.8 expects an empty 200; a larger answer is not a logout answer
# Defaults of the settings logout_max_attempts, logout_retry_base_delay, logout_retry_max_delay.
MAX_ATTEMPTS = 36
BASE_DELAY = 10.0  # seconds before the 2nd attempt; doubles each time
MAX_DELAY = 3600.0
JITTER = 0.25  # up to this share of the delay is added at random
# A worker that died mid-delivery releases its row after this; far above TIMEOUT, so a live
# worker always finishes (and clears the lease) long before another may take the row.
LEASE = 60.0
_jitter = random.Random()  # spreads retries in time; nothing secret depends on it


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


def sessions_of(db: Database, grant_ids: Sequence[str]) -> list[tuple[str, str | None]]:
    """(client, sid) of these grants: the sessions each partner network is told have ended."""
    if not grant_ids:
        return []
    with db.session() as s:
        return [(c, sid) for c, sid in s.execute(
            select(Grant.client_id, Grant.sid).where(Grant.id.in_(list(grant_ids))).distinct())]


def doctor_sessions_ended(hub: Hub, ended: DoctorSessionsEnded) -> None:
    """Listener of :class:`~hub.domain.events.DoctorSessionsEnded` (an admin, a licence
    withdrawal, "sign out everywhere"): queue a logout for every partner network whose
    grant was revoked (subscribed in hub/composition.py)."""
    try:
        grants_ending(hub, ended.doctor_id, trigger=ended.reason,
                      sessions=sessions_of(hub.db, ended.grant_ids))
    except Exception:  # noqa: BLE001 - the sessions are ended; a queue error must not undo that
        log.exception("could not queue back-channel logout for %s", ended.doctor_id)


# -- delivery -------------------------------------------------------------------------------
def logout_token(hub: Hub, row: LogoutDelivery) -> str:
    """§2.4: iss, aud, iat, exp, jti, events, and sid and/or sub; never a nonce."""
    client = hub.clients.get(row.client_id)
    now = int(time.time())
    claims: dict[str, Any] = {"iss": hub.settings.issuer, "aud": row.client_id, "iat": now,
                              "exp": now + LOGOUT_TOKEN_TTL, "jti": new_token(16),
                              "events": {EVENT: {}}}
    # §2.4: sub is the one the RP got in its ID token; computed now from the doctor and the
    # client as registered today, so a change of subject type or sector never sends a stale
    # one. The stored ``sub`` (what it was when queued) only serves rows without a doctor id.
    sub = hub.subject(row.doctor_id, client) if row.doctor_id and client is not None else row.sub
    if sub:
        claims["sub"] = sub
    if row.sid:
        claims["sid"] = row.sid
    alg = client.id_token_signed_response_alg if client is not None else "RS256"
    return hub.keys.sign(claims, alg=alg, typ="logout+jwt")  # §2.4: signed like ID tokens


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a delivery is retried (settings ``logout_*``)."""

    max_attempts: int = MAX_ATTEMPTS
    base_delay: float = BASE_DELAY
    max_delay: float = MAX_DELAY

    @classmethod
    def of(cls, settings: Any) -> RetryPolicy:
        return cls(max_attempts=max(1, settings.logout_max_attempts),
                   base_delay=float(max(1, settings.logout_retry_base_delay)),
                   max_delay=float(max(1, settings.logout_retry_max_delay)))

    def delay(self, attempts: int) -> float:
        """Seconds before the next attempt after ``attempts`` failed ones: exponential, capped,
        plus up to 25 % jitter so that the retries of one outage do not all land at once."""
        plain = min(self.base_delay * (2 ** min(max(attempts - 1, 0), 40)), self.max_delay)
        return plain * (1 + _jitter.uniform(0.0, JITTER))


def backoff(attempts: int, base_delay: float = BASE_DELAY) -> float:
    return RetryPolicy(base_delay=base_delay).delay(attempts)


def _due(db: Database, now: datetime, limit: int) -> list[tuple[int, str]]:
    with db.session() as s:
        return [(i, c) for i, c in s.execute(
            select(LogoutDelivery.id, LogoutDelivery.client_id)
            .where(LogoutDelivery.status == "pending", LogoutDelivery.next_attempt_at <= now,
                   or_(LogoutDelivery.locked_until.is_(None), LogoutDelivery.locked_until < now))
            .order_by(LogoutDelivery.next_attempt_at, LogoutDelivery.id).limit(limit))]


def _lease(db: Database, row_id: int, now: datetime) -> bool:
    """Take the row's lease right before sending it. One UPDATE ... WHERE is a compare-and-set
    on both backends (PostgreSQL re-checks the WHERE after a concurrent writer commits; SQLite
    serialises writers), so of two workers only one sees rowcount 1 and sends the row."""
    with db.session() as s:
        res = s.execute(update(LogoutDelivery)
                        .where(LogoutDelivery.id == row_id, LogoutDelivery.status == "pending",
                               LogoutDelivery.next_attempt_at <= now,
                               or_(LogoutDelivery.locked_until.is_(None),
                                   LogoutDelivery.locked_until < now))
                        .values(locked_until=now + timedelta(seconds=LEASE)))
        return res.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def _claim(db: Database, now: datetime, limit: int) -> list[int]:
    return [row_id for row_id, _ in _due(db, now, limit) if _lease(db, row_id, now)]


def deliver(hub: Hub, row_id: int, *, max_attempts: int | None = None, base_delay: float | None = None,
            now: datetime | None = None, http: requests.Session | None = None,
            policy: RetryPolicy | None = None) -> str:
    """One attempt for one claimed row; returns the row's new status.

    ``http`` is a session from ``hub.outbound`` (one per partner per worker pass); the RP's
    URI was registered by the RP, so it goes out through the guard like any other hub request,
    under the guard's deadline (``TIMEOUT``) for the whole exchange.
    """
    policy = policy or RetryPolicy.of(hub.settings)
    if max_attempts is not None or base_delay is not None:
        policy = dataclasses.replace(policy, max_attempts=max_attempts or policy.max_attempts,
                                     base_delay=base_delay if base_delay is not None else policy.base_delay)
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
    elif attempts >= policy.max_attempts or refused:
        values.update(status="failed", last_error=error[:300])
    else:
        values.update(last_error=error[:300],
                      next_attempt_at=when + timedelta(seconds=policy.delay(attempts)))
    with hub.db.session() as s:
        # Only a row still pending is written: an operator's give-up while it was in flight wins.
        s.execute(update(LogoutDelivery).where(LogoutDelivery.id == row_id,
                                               LogoutDelivery.status == "pending").values(**values))
    status = str(values.get("status", "pending"))
    if status == "failed":
        hub.audit_event("oidc:logout:delivery_failed", doctor_id=row.doctor_id, client_id=row.client_id,
                        attempts=attempts, error=error)
    elif status == "delivered":
        hub.audit_event("oidc:logout:delivered", doctor_id=row.doctor_id, client_id=row.client_id,
                        attempts=attempts)
    return status


def _deliver_partner(hub: Hub, row_ids: list[int], when: datetime, policy: RetryPolicy) -> dict[str, int]:
    """One partner's due rows, one after the other, in one pool thread with one session."""
    counts: dict[str, int] = {}
    with hub.outbound.session(deadline=TIMEOUT, max_bytes=MAX_ANSWER, max_redirects=0) as http:
        for row_id in row_ids:
            if not _lease(hub.db, row_id, when):
                continue  # another worker has it (or it is no longer due)
            status = deliver(hub, row_id, now=when, http=http, policy=policy)
            counts[status] = counts.get(status, 0) + 1
            if status != "delivered":
                # The partner is down or slow: its other rows wait for the next pass instead of
                # each spending a whole deadline of this thread now (they keep their own backoff).
                break
    return counts


def process_due(hub: Hub, *, now: datetime | None = None, limit: int = 100,
                max_attempts: int | None = None, base_delay: float | None = None,
                threads: int | None = None) -> dict[str, int]:
    """Deliver the due rows once: partners in parallel (a bounded pool), each partner's rows in
    order in one thread, so a partner that never answers holds one thread for one deadline and
    delays no other partner. Returns {status: count}; ``now`` lets tests skip the backoff."""
    when = now or utcnow()
    policy = RetryPolicy.of(hub.settings)
    if max_attempts is not None or base_delay is not None:
        policy = dataclasses.replace(policy, max_attempts=max_attempts or policy.max_attempts,
                                     base_delay=base_delay if base_delay is not None else policy.base_delay)
    partners: dict[str, list[int]] = {}
    for row_id, client_id in _due(hub.db, when, limit):
        partners.setdefault(client_id, []).append(row_id)
    counts: dict[str, int] = {}
    if not partners:
        return counts
    size = max(1, min(threads or hub.settings.logout_delivery_threads, len(partners)))
    with ThreadPoolExecutor(max_workers=size, thread_name_prefix="backchannel") as pool:
        futures = [pool.submit(_deliver_partner, hub, ids, when, policy) for ids in partners.values()]
        for future in futures:
            try:
                part = future.result()
            except Exception:  # noqa: BLE001 - one partner's error leaves its rows pending; go on
                log.exception("back-channel logout delivery failed unexpectedly")
                continue
            for status, n in part.items():
                counts[status] = counts.get(status, 0) + n
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


# -- operator commands (hub logout list|retry|give-up) ---------------------------------------
STATUSES = ("pending", "delivered", "failed")


def list_deliveries(db: Database, *, status: str | None = None, client_id: str | None = None,
                    limit: int = 200) -> list[dict[str, Any]]:
    """Deliveries newest first; no subject or session ids (an operator needs none)."""
    q = select(LogoutDelivery).order_by(LogoutDelivery.id.desc()).limit(limit)
    if status is not None:
        q = q.where(LogoutDelivery.status == status)
    if client_id is not None:
        q = q.where(LogoutDelivery.client_id == client_id)
    with db.session() as s:
        return [{"id": r.id, "client_id": r.client_id, "status": r.status, "attempts": r.attempts,
                 "trigger": r.trigger, "created_at": r.created_at, "next_attempt_at": r.next_attempt_at,
                 "last_error": r.last_error} for r in s.scalars(q)]


def retry(hub: Hub, *, ids: list[int] | None = None, client_id: str | None = None,
          all_failed: bool = False, actor: str = "cli") -> list[int]:
    """Queue failed deliveries again, due now, with a fresh attempt budget; returns their ids.

    ``ids``: those rows (each must be failed, else LookupError/ValueError names it);
    ``client_id``: that client's failed rows; ``all_failed``: every failed row.
    """
    with hub.db.session() as s:
        q = select(LogoutDelivery.id, LogoutDelivery.client_id, LogoutDelivery.doctor_id,
                   LogoutDelivery.status)
        if ids is not None:
            found = {r.id: r for r in s.execute(q.where(LogoutDelivery.id.in_(ids)))}
            for i in ids:
                if i not in found:
                    raise LookupError(f"no delivery {i}")
                if found[i].status != "failed":
                    raise ValueError(f"delivery {i} is {found[i].status}, not failed")
            rows = [found[i] for i in dict.fromkeys(ids)]
        elif client_id is not None or all_failed:
            q = q.where(LogoutDelivery.status == "failed")
            if client_id is not None:
                q = q.where(LogoutDelivery.client_id == client_id)
            rows = list(s.execute(q.order_by(LogoutDelivery.id)))
        else:
            raise ValueError("say which deliveries to retry")
        if rows:
            s.execute(update(LogoutDelivery)
                      .where(LogoutDelivery.id.in_([r.id for r in rows]), LogoutDelivery.status == "failed")
                      .values(status="pending", attempts=0, next_attempt_at=utcnow(), locked_until=None))
    for r in rows:
        hub.audit_event("oidc:logout:retry", actor=actor, doctor_id=r.doctor_id, client_id=r.client_id,
                        delivery=r.id)
    return [r.id for r in rows]


def give_up(hub: Hub, row_id: int, *, actor: str = "cli") -> None:
    """Stop retrying one pending delivery (the partner is gone for good): it becomes failed."""
    with hub.db.session() as s:
        row = s.get(LogoutDelivery, row_id)
        if row is None:
            raise LookupError(f"no delivery {row_id}")
        res = s.execute(update(LogoutDelivery)
                        .where(LogoutDelivery.id == row_id, LogoutDelivery.status == "pending")
                        .values(status="failed", locked_until=None,
                                last_error=f"given up by {actor}"[:300]))
        if res.rowcount != 1:  # type: ignore[attr-defined]
            raise ValueError(f"delivery {row_id} is {row.status}, not pending")
        doctor_id, client_id = row.doctor_id, row.client_id
    hub.audit_event("oidc:logout:given_up", actor=actor, doctor_id=doctor_id, client_id=client_id,
                    delivery=row_id)
