"""Linked identities as the console sees them: search by upstream subject, a doctor's links
with their evidence and history, revoking a link, and the links-per-network figures.

Revoking goes through the links service (``Links.unlink``): it marks the link revoked,
revokes the tokens at the network (RFC 7009, retried from the queue when the network is
down), deletes the hub's copy, relay state and cached items, and audits
``doctor:link:revoke`` with the admin as actor and the admin's reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select

from hub.admin.history import HistoryRecord
from hub.links import links_for
from hub.persistence.models.links import AccountLink, LinkNetwork, RelayState

LINK_EVENTS = ("doctor:link:add", "doctor:link:revoke")
SUBJECT_MAX = 255


def subject_lookup(q: str) -> Select[tuple[str]]:
    """Doctors with a link (in any state but pending) whose upstream subject is exactly ``q``:
    subjects are opaque identifiers, so no partial matching."""
    return select(AccountLink.doctor_id).where(AccountLink.subject == q[:SUBJECT_MAX],
                                               AccountLink.state != "pending")


@dataclass
class LinkFacts:
    link: AccountLink
    network_name: str
    relay: RelayState | None
    events: list[HistoryRecord] = field(default_factory=list)

    @property
    def timeline(self) -> list[tuple[datetime, str]]:
        """What the row itself records, oldest first (the audit records add who and why)."""
        a = self.link
        points = [(a.created_at, "link started"), (a.authenticated_at, "signed in at the network"),
                  (a.linked_at, "linked"), (a.revoked_at, "revoked")]
        return sorted((t, what) for t, what in points if t is not None)


def of_doctor(hub: Any, doctor_id: str, history: list[HistoryRecord]) -> list[LinkFacts]:
    """Every link of the doctor (revoked ones too, newest first), with the audit records
    naming each link (from the doctor's audit history already loaded)."""
    with hub.db.session() as s:
        rows = s.execute(select(AccountLink, RelayState, LinkNetwork.display_name)
                         .outerjoin(RelayState, RelayState.link_id == AccountLink.id)
                         .outerjoin(LinkNetwork, LinkNetwork.name == AccountLink.network)
                         .where(AccountLink.doctor_id == doctor_id)
                         .order_by(AccountLink.network, AccountLink.created_at.desc())).all()
    out = []
    for link, relay, name in rows:
        events = [h for h in reversed(history)
                  if h.event in LINK_EVENTS and h.detail.get("link_id") == link.id]
        out.append(LinkFacts(link, name or link.network, relay, events))
    return out


def find(hub: Any, doctor_id: str, link_id: str) -> AccountLink | None:
    with hub.db.session() as s:
        row = s.get(AccountLink, link_id) if len(link_id) <= 32 else None
        return row if row is not None and row.doctor_id == doctor_id else None


def revoke(hub: Any, doctor_id: str, link_id: str, *, actor: str, reason: str, address: str) -> bool:
    """Unlink through the links service; False if the link was already revoked."""
    return bool(links_for(hub).unlink(doctor_id, link_id, actor=actor, reason=reason, address=address))


def counts_per_network(hub: Any) -> list[tuple[str, dict[str, int]]]:
    """(network display name, {state: links}) for every network with links, busiest first."""
    with hub.db.session() as s:
        rows = s.execute(select(AccountLink.network, LinkNetwork.display_name, AccountLink.state,
                                func.count())
                         .outerjoin(LinkNetwork, LinkNetwork.name == AccountLink.network)
                         .group_by(AccountLink.network, LinkNetwork.display_name, AccountLink.state)).all()
    per: dict[str, dict[str, int]] = {}
    names: dict[str, str] = {}
    for network, display, state, n in rows:
        names[network] = display or network
        per.setdefault(network, {})[state] = int(n)
    ranked = sorted(per.items(), key=lambda kv: (-kv[1].get("active", 0), names[kv[0]]))
    return [(names[k], v) for k, v in ranked]
