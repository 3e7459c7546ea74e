"""The dashboard's figures, counted in SQL: sign-ins per network per day, verification
outcomes, account links per network."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select

from hub.admin.charts import Chart, horizontal_bars, stacked_bars
from hub.admin.links import counts_per_network
from hub.admin.tables import has_table
from hub.persistence.db import utcnow
from hub.persistence.models.grants import Grant
from hub.persistence.models.registers import VerificationCheck

SIGNIN_DAYS = 14
OUTCOME_DAYS = 30
MAX_SERIES = 7  # more networks than colours are summed as "other networks"


@dataclass
class Table:
    """The chart's data as a table: the accessible fallback and the exact numbers."""

    caption: str
    columns: list[str]
    rows: list[list[str | int]]


@dataclass
class Figure:
    chart: Chart | None
    table: Table | None
    note: str = ""  # shown instead of a chart when there is nothing (yet) to draw


def _day(column: Any, dialect: str) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp, in each backend's own terms."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.substr(column, 1, 10)  # SQLite keeps UTCDateTime as ISO text


def signins_per_network(hub: Any, *, days: int = SIGNIN_DAYS, today: date | None = None) -> Figure:
    """Grants created per day and relying party: each sign-in into a network makes one."""
    today = today or utcnow().date()
    first = today - timedelta(days=days - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=utcnow().tzinfo)
    day = _day(Grant.created_at, hub.db.engine.dialect.name).label("day")
    with hub.db.session() as s:
        rows = s.execute(select(Grant.client_id, day, func.count()).where(Grant.created_at >= since)
                         .group_by(Grant.client_id, day)).all()
    categories = [(first + timedelta(days=i)).isoformat() for i in range(days)]
    index = {d: i for i, d in enumerate(categories)}
    per_client: dict[str, list[int]] = {}
    for client_id, d, n in rows:
        if d in index:
            per_client.setdefault(client_id, [0] * days)[index[d]] += n
    ranked = sorted(per_client.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    series = [(_client_name(hub, cid), vals) for cid, vals in ranked[:MAX_SERIES]]
    if len(ranked) > MAX_SERIES:
        rest = [sum(vals[i] for _, vals in ranked[MAX_SERIES:]) for i in range(days)]
        series.append(("other networks", rest))
    title = f"Sign-ins per network per day, last {days} days (UTC)"
    table = Table(title, ["Day", *[name for name, _ in series], "Total"],
                  [[c, *[vals[i] for _, vals in series], sum(vals[i] for _, vals in series)]
                   for i, c in enumerate(categories)])
    if not series:
        return Figure(None, table, f"No sign-ins into any network in the last {days} days.")
    short = [c[5:] for c in categories]  # MM-DD under the columns; the table has full dates
    return Figure(stacked_bars("signins", title, short, series, "sign-ins"), table)


def verification_outcomes(hub: Any, *, days: int = OUTCOME_DAYS) -> Figure:
    title = f"Verification check outcomes, last {days} days"
    if not has_table(hub.db, "verification_checks"):
        return Figure(None, None, "Verification checks are not recorded on this database yet "
                                  "(the verification tables have not been migrated).")
    since = utcnow() - timedelta(days=days)
    with hub.db.session() as s:
        rows = s.execute(select(VerificationCheck.status, func.count())
                         .where(VerificationCheck.checked_at >= since)
                         .group_by(VerificationCheck.status)).all()
    data = sorted(((str(status), int(n)) for status, n in rows), key=lambda r: (-r[1], r[0]))
    table = Table(title, ["Outcome", "Checks"], [[name, n] for name, n in data])
    if not data:
        return Figure(None, table, f"No verification checks in the last {days} days.")
    return Figure(horizontal_bars("outcomes", title, data, "checks"), table)


def links_per_network(hub: Any) -> Figure:
    """Active links per linked network (the bars); the table adds the other states."""
    title = "Active account links per linked network"
    data = counts_per_network(hub)
    states = ("active", "suspended", "pending", "revoked")
    table = Table(title, ["Network", *[s.capitalize() for s in states]],
                  [[name, *[c.get(s, 0) for s in states]] for name, c in data])
    bars = [(name, c.get("active", 0)) for name, c in data if c.get("active", 0)]
    if not bars:
        return Figure(None, table, "No doctor has an active link to a partner network.")
    return Figure(horizontal_bars("links", title, bars, "active links"), table)


def _client_name(hub: Any, client_id: str) -> str:
    client = hub.clients.get(client_id)
    return str(client.name) if client is not None else client_id
