"""The feed relay: pull each active link when due, store normalised items, keep them N days.

Per network: a token bucket (``rate_per_minute``), a circuit breaker, and each connector's own
HTTP budget (``http.timeout``). Links are pulled concurrently (threads here, or one queue job
per link in ``hub worker``), so one slow or dead network costs only its own budget. After a
failure the link backs off exponentially (capped) or as long as ``Retry-After`` says.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from connectors.base import ActivityItem, ActivityPage, Refreshing
from connectors.breaker import Breakers
from connectors.errors import (
    ConnectorError,
    InvalidUpstreamData,
    UpstreamRejected,
    UpstreamUnavailable,
)
from connectors.ratelimit import RateLimiter
from hub.links.networks import Network, Networks
from hub.links.vault import RefreshBusy, TokenVault
from hub.persistence.db import Database, utcnow
from hub.persistence.models.links import AccountLink, FeedItem, LinkNetwork, RelayState

log = logging.getLogger("hub.links.relay")
PULL_LOCK = "relay-pull"
MAX_BACKOFF = 6 * 3600
LEASE = 120  # seconds a claimed link is not claimed again (a worker died mid-pull)


@dataclass(frozen=True)
class PullResult:
    link_id: str
    outcome: str  # ok | not_modified | skipped | rate_limited | error reason
    stored: int = 0


def _now() -> datetime:
    return datetime.now(UTC)


def _item_key(item: ActivityItem) -> str:
    if len(item.id) <= 512:
        return item.id
    return "sha256:" + hashlib.sha256(item.id.encode()).hexdigest()


class Relay:
    def __init__(self, *, db: Database, store: Any, networks: Networks, vault: TokenVault) -> None:
        self.db, self.store = db, store
        self.networks = networks
        self.vault = vault
        self.breakers = Breakers(failure_threshold=3, reset_timeout=60.0)
        self._limiters: dict[str, tuple[int, RateLimiter]] = {}
        self._lock = threading.Lock()

    # -- scheduling -----------------------------------------------------------------------
    def due(self, limit: int = 500) -> list[str]:
        now = _now()
        with self.db.session() as s:
            return list(s.scalars(
                select(RelayState.link_id)
                .join(AccountLink, AccountLink.id == RelayState.link_id)
                .join(LinkNetwork, LinkNetwork.name == AccountLink.network)
                .where(RelayState.next_due <= now, AccountLink.state == "active",
                       AccountLink.paused.is_(False), LinkNetwork.enabled.is_(True))
                .order_by(RelayState.next_due).limit(limit)))

    def claim(self, link_id: str) -> bool:
        """Push next_due forward by a lease, atomically: of two schedulers only one wins."""
        now = _now()
        with self.db.session() as s:
            won = s.execute(update(RelayState).where(
                RelayState.link_id == link_id, RelayState.next_due <= now)
                .values(next_due=now + timedelta(seconds=LEASE))).rowcount
        return bool(won)

    def claim_due(self, limit: int = 500) -> list[str]:
        return [link_id for link_id in self.due(limit) if self.claim(link_id)]

    def run_due(self, *, max_workers: int = 8, budget: float = 60.0) -> list[PullResult]:
        """Pull every due link now, concurrently; returns when all are done or ``budget``
        seconds have passed (stragglers finish in the background)."""
        ids = self.claim_due()
        if not ids:
            return []
        pool = ThreadPoolExecutor(max_workers=min(max_workers, len(ids)),
                                  thread_name_prefix="relay")
        futures = [pool.submit(self.pull, link_id) for link_id in ids]
        done, _ = wait(futures, timeout=budget)
        pool.shutdown(wait=False)
        return [f.result() for f in done if f.exception() is None]

    # -- one link -------------------------------------------------------------------------
    def _limiter(self, net: Network) -> RateLimiter:
        with self._lock:
            known = self._limiters.get(net.name)
            if known is None or known[0] != net.rate_per_minute:
                rate = net.rate_per_minute / 60.0
                burst = max(1, min(net.rate_per_minute, 10))
                known = (net.rate_per_minute, RateLimiter(rate=rate, burst=burst))
                self._limiters[net.name] = known
            return known[1]

    def pull(self, link_id: str) -> PullResult:
        store = self.store
        if not store.add_once(PULL_LOCK, link_id, ttl=LEASE):
            return PullResult(link_id, "skipped")  # another job is pulling it right now
        try:
            return self._pull(link_id)
        except Exception:  # noqa: BLE001 - one link's bug must not stop the worker
            log.exception("relay: pulling link %s failed", link_id)
            self._failed(link_id, "internal_error", 300, None)
            return PullResult(link_id, "internal_error")
        finally:
            store.delete(PULL_LOCK, link_id)

    def _pull(self, link_id: str) -> PullResult:
        with self.db.session() as s:
            link = s.get(AccountLink, link_id)
            state = s.get(RelayState, link_id)
        if link is None or state is None or link.state != "active" or link.paused:
            return PullResult(link_id, "skipped")
        net = self.networks.get(link.network)
        if net is None or not net.enabled:
            return PullResult(link_id, "skipped")
        limiter = self._limiter(net)
        if not limiter.try_acquire(net.name):
            wait_s = min(limiter.wait_time(net.name), 3600.0)
            self._reschedule(link_id, wait_s + random.uniform(0, 1))  # noqa: S311
            return PullResult(link_id, "rate_limited")
        breaker = self.breakers.for_network(net.name)
        try:
            creds = self.vault.fresh(link_id, net.connector)
            if creds is None:
                return PullResult(link_id, "skipped")
            try:
                # RFC 9110 §13.1.3: If-Modified-Since only when there is no ETag (a server
                # must ignore it next to If-None-Match; some upstreams do not).
                page = breaker.call(net.connector.fetch_activity, creds, etag=state.etag,
                                    last_modified=None if state.etag else state.last_modified)
            except UpstreamRejected as e:
                if e.reason != "invalid_token" or not isinstance(net.connector, Refreshing):
                    raise
                creds = self.vault.fresh(link_id, net.connector, failed_token=creds.access_token)
                if creds is None:
                    return PullResult(link_id, "skipped")
                page = breaker.call(net.connector.fetch_activity, creds)
        except UpstreamUnavailable as e:
            backoff = min(net.poll_interval * 2 ** min(state.failures, 10), MAX_BACKOFF)
            delay = max(backoff if e.retry_after is None else e.retry_after, 5.0)
            self._failed(link_id, e.reason, delay, state)
            return PullResult(link_id, e.reason)
        except RefreshBusy:
            self._reschedule(link_id, 30.0)
            return PullResult(link_id, "refresh_busy")
        except UpstreamRejected as e:
            if e.reason in ("invalid_grant", "invalid_token", "access_denied"):
                # The doctor must link again; no point polling until then.
                with self.db.session() as s:
                    s.execute(update(AccountLink).where(AccountLink.id == link_id,
                                                        AccountLink.state == "active")
                              .values(state="suspended"))
            self._failed(link_id, e.reason, net.poll_interval * 4, state)
            return PullResult(link_id, e.reason)
        except (InvalidUpstreamData, ConnectorError) as e:
            log.info("relay %s: %s (%s)", net.name, e.reason, e.detail[:200])
            backoff = min(net.poll_interval * 2 ** min(state.failures, 10), MAX_BACKOFF)
            self._failed(link_id, e.reason, backoff, state)
            return PullResult(link_id, e.reason)
        stored = 0 if page.not_modified else self.store_items(link_id, link.doctor_id,
                                                              page.items)
        self._succeeded(link_id, page, net.poll_interval)
        return PullResult(link_id, "not_modified" if page.not_modified else "ok", stored)

    # -- state updates --------------------------------------------------------------------
    def _reschedule(self, link_id: str, seconds: float) -> None:
        with self.db.session() as s:
            s.execute(update(RelayState).where(RelayState.link_id == link_id)
                      .values(next_due=_now() + timedelta(seconds=seconds)))

    def _failed(self, link_id: str, reason: str, delay: float, state: RelayState | None) -> None:
        now = _now()
        with self.db.session() as s:
            s.execute(update(RelayState).where(RelayState.link_id == link_id).values(
                failures=RelayState.failures + 1, last_error=reason[:64], last_attempt_at=now,
                next_due=now + timedelta(seconds=delay * random.uniform(1.0, 1.2))))  # noqa: S311

    def _succeeded(self, link_id: str, page: ActivityPage, interval: int) -> None:
        now = _now()
        values: dict[str, Any] = {
            "failures": 0, "last_error": None, "last_attempt_at": now, "last_success_at": now,
            "skipped": page.skipped,
            "next_due": now + timedelta(seconds=interval * random.uniform(0.9, 1.1))}  # noqa: S311
        if not page.not_modified:
            values.update(etag=(page.etag or "")[:512] or None,
                          last_modified=(page.last_modified or "")[:64] or None)
        with self.db.session() as s:
            s.execute(update(RelayState).where(RelayState.link_id == link_id).values(**values))

    # -- items ----------------------------------------------------------------------------
    def store_items(self, link_id: str, doctor_id: str, items: Iterable[ActivityItem]) -> int:
        """Insert items not seen before (dedupe on link and upstream id). Items arrive already
        normalised by the connector: plain text, capped, safe URLs, aware UTC dates."""
        now = utcnow()
        by_key: dict[str, ActivityItem] = {}
        for item in items:
            by_key.setdefault(_item_key(item), item)
        if not by_key:
            return 0
        with self.db.session() as s:
            link = s.get(AccountLink, link_id)
            if link is None or link.state != "active":
                return 0  # unlinked while we were fetching: store nothing
            seen = set(s.scalars(select(FeedItem.item_id).where(
                FeedItem.link_id == link_id, FeedItem.item_id.in_(list(by_key)))))
            new = [FeedItem(link_id=link_id, doctor_id=doctor_id, network=item.network[:63],
                            item_id=key, kind=item.kind[:32], title=item.title[:300],
                            summary=item.summary[:500], url=item.url,
                            actor=(item.actor or "")[:200] or None, published=item.published,
                            sort_at=min(item.published, now) if item.published else now,
                            fetched_at=now)
                   for key, item in by_key.items() if key not in seen]
            s.add_all(new)
        return len(new)

    def purge(self, days: int) -> int:
        """Drop items first seen more than ``days`` ago: the hub links back, it does not
        archive. (By first-seen time, so an old post a doctor just linked still shows.)"""
        cutoff = _now() - timedelta(days=days)
        with self.db.session() as s:
            return int(s.execute(delete(FeedItem).where(FeedItem.fetched_at < cutoff)).rowcount
                       or 0)
