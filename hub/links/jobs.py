"""Queue jobs of the relay (``hub.worker``): each is ``function(hub, *plain_args)``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import ActivityItem
from hub.links import links_for

log = logging.getLogger("hub.links.jobs")
PULL = "hub.links.jobs:pull"
INGEST = "hub.links.jobs:ingest"


def tick(hub: Any) -> None:
    """Enqueue one pull per due link (claimed with a lease so two ticks never double up),
    and drop items past their retention."""
    links = links_for(hub)
    for link_id in links.relay.claim_due():
        hub.queue.enqueue(PULL, link_id)
    links.relay.purge(hub.settings.feed_retention_days)
    links.purge_pending(timedelta(seconds=hub.settings.login_state_ttl * 2))


def pull(hub: Any, link_id: str) -> None:
    links_for(hub).relay.pull(link_id)


def ingest(hub: Any, link_id: str, doctor_id: str, items: list[dict[str, Any]]) -> None:
    """Store items a verified webhook delivered (already normalised by the receiver)."""
    parsed = []
    for d in items:
        published = datetime.fromisoformat(d["published"]) if d.get("published") else None
        parsed.append(ActivityItem(network=d["network"], kind=d["kind"], title=d["title"],
                                   summary=d["summary"], url=d["url"], published=published,
                                   actor=d["actor"], id=d["id"]))
    links_for(hub).relay.store_items(link_id, doctor_id, parsed)


def item_data(item: ActivityItem) -> dict[str, Any]:
    return {"network": item.network, "kind": item.kind, "title": item.title,
            "summary": item.summary, "url": item.url, "actor": item.actor, "id": item.id,
            "published": item.published.astimezone(UTC).isoformat() if item.published else None}


def revoke(hub: Any, network: str, blob: str, attempt: int) -> None:
    links = links_for(hub)
    net = links.networks.get(network)
    if net is not None:
        links.revoke_upstream(net, blob, attempt)
