"""The merged feed, read from the relay's cache (``feed_items``), paged by keyset.

The JSON API speaks JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/): a flat list of
items with ``url`` back to the source is exactly what the feed is, every feed reader
understands it, and the network goes in a ``_curbside`` extension object. ActivityStreams
2.0 would have needed an actor and activity per item and JSON-LD context handling for no gain.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select

from hub.links.networks import Networks
from hub.persistence.db import Database
from hub.persistence.models.links import AccountLink, FeedItem, RelayState
from hub.protocol.guards import MAX_DB_INTEGER

JSONFEED_VERSION = "https://jsonfeed.org/version/1.1"
PAGE_SIZE = 30


@dataclass(frozen=True)
class Page:
    items: list[FeedItem]
    next_cursor: str | None


def encode_cursor(item: FeedItem) -> str:
    raw = f"{item.sort_at.astimezone(UTC).isoformat()}|{item.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    if not cursor or len(cursor) > 100:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, _, ident = raw.partition("|")
        at = datetime.fromisoformat(when)
        number = int(ident)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    # The cursor comes from the URL: an id past the INTEGER column made PostgreSQL refuse
    # the query (a 500); no item has such an id, so the cursor is as unknown as a garbled one.
    if not 0 < number <= MAX_DB_INTEGER:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)), number


def link_status(link: AccountLink, state: RelayState | None, poll_interval: int,
                now: datetime | None = None) -> str:
    """ok | waiting (never pulled yet) | stale (last pull failed) | failing | paused | relink."""
    now = now or datetime.now(UTC)
    if link.state == "suspended":
        return "relink"
    if link.paused:
        return "paused"
    if state is None or (state.last_success_at is None and not state.failures):
        return "waiting"
    if state.failures >= 3:
        return "failing"
    if state.failures:
        return "stale"
    if state.last_success_at and now - state.last_success_at > timedelta(
            seconds=3 * poll_interval + 60):
        return "stale"
    return "ok"


class Feed:
    def __init__(self, *, db: Database, networks: Networks, retention_days: int) -> None:
        self.db = db
        self.retention_days = retention_days
        self.networks = networks

    def page(self, doctor_id: str, *, cursor: str | None = None, limit: int = PAGE_SIZE,
             network: str | None = None) -> Page:
        limit = max(1, min(limit, 100))
        cutoff = datetime.now(UTC) - timedelta(days=self.retention_days)
        q = (select(FeedItem)
             .join(AccountLink, AccountLink.id == FeedItem.link_id)
             .where(FeedItem.doctor_id == doctor_id, AccountLink.doctor_id == doctor_id,
                    AccountLink.state.in_(("active", "suspended")),
                    AccountLink.hidden.is_(False), FeedItem.fetched_at >= cutoff))
        if network:
            q = q.where(FeedItem.network == network)
        after = decode_cursor(cursor)
        if after is not None:
            at, ident = after
            q = q.where(or_(FeedItem.sort_at < at, and_(FeedItem.sort_at == at,
                                                         FeedItem.id < ident)))
        q = q.order_by(FeedItem.sort_at.desc(), FeedItem.id.desc()).limit(limit + 1)
        with self.db.session() as s:
            rows = list(s.scalars(q))
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, encode_cursor(rows[-1]) if more and rows else None)

    def json_feed(self, doctor_id: str, *, base_url: str, cursor: str | None = None,
                  limit: int = PAGE_SIZE) -> dict[str, Any]:
        page = self.page(doctor_id, cursor=cursor, limit=limit)
        names = {n.name: n.display_name for n in self.networks.all()}
        doc: dict[str, Any] = {
            "version": JSONFEED_VERSION,
            "title": "Your Curbside feed",
            "home_page_url": f"{base_url}/feed",
            "feed_url": f"{base_url}/api/feed",
            "description": "Activity from the networks you linked; each item links back.",
            "items": [_item(i, names.get(i.network, i.network)) for i in page.items],
        }
        if page.next_cursor:
            doc["next_url"] = f"{base_url}/api/feed?before={page.next_cursor}&limit={limit}"
        return doc


def _item(i: FeedItem, network_name: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f"{i.network}:{i.item_id}",
        "title": i.title,
        # JSON Feed needs content_html or content_text; the text is plain (never HTML).
        "content_text": i.summary or i.title,
        "tags": [i.kind],
        "_curbside": {"network": i.network, "network_name": network_name, "kind": i.kind},
    }
    if i.url:
        out["url"] = i.url
        out["external_url"] = i.url
    if i.summary:
        out["summary"] = i.summary
    if i.published:
        out["date_published"] = i.published.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if i.actor:
        out["authors"] = [{"name": i.actor}]
    return out
