"""The import driver shared by every register mirror.

A register module supplies a *parser*: a generator of ``(line, op)`` read from the file
stream, where ``op`` is :class:`Upsert` or :class:`Withdraw` and ``line`` the last physical
line of the record. The driver:

- hashes the file and keeps one checkpoint row per (register, kind, digest): re-running the
  same file resumes after the last committed line, and a completed file is not read again;
- collects ops into batches and commits each batch in one transaction together with the
  checkpoint, only after the whole batch parsed and validated (a malformed line aborts its
  batch; earlier batches stay);
- writes only rows whose content changed (idempotent re-imports), and reports the
  registrations that stopped being active, marking the doctors' verified registrations as
  withdrawn (a durable to-do list, see hub.verification.recheck);
- for snapshot files (the register lists only current entries), withdraws entries that
  vanished, unless they are suspiciously many (a cut-off extract must not withdraw half a
  country's doctors).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, BinaryIO, cast

from sqlalchemy import Connection, Table, delete, exists, func, insert, select, update

from hub.db import Database, utcnow
from hub.models.registers import (
    DoctorRegistration,
    RegisterImport,
    RegisterRecord,
    RegisterSnapshotKey,
)
from hub.verification.base import EntryStatus, RegisterEntry, RegisterFileError
from hub.verification.mirror import entry_to_row, existing, row_to_entry, upsert_rows
from hub.verification.readers import LineCounter


@dataclass(frozen=True, slots=True)
class Upsert:
    entry: RegisterEntry


@dataclass(frozen=True, slots=True)
class Withdraw:
    """Mark an existing entry inactive (a delta removal, an NPI deactivation...)."""

    number: str
    detail: str


Op = Upsert | Withdraw
Parser = Callable[[BinaryIO, LineCounter, str], Iterator[tuple[int, Op]]]


@dataclass(frozen=True, slots=True)
class Progress:
    register: str
    kind: str
    line: int
    bytes_read: int
    total_bytes: int
    rows_changed: int


ProgressFn = Callable[[Progress], None]


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """A doctor's verified registration that the register no longer supports."""

    doctor_id: str
    register: str
    number: str
    status: str  # the registration's new status: inactive | restricted
    reason: str


@dataclass
class ImportReport:
    register: str
    kind: str
    path: str
    file_digest: str
    import_id: int
    skipped: bool = False
    resumed_from: int = 0
    lines: int = 0
    rows_changed: int = 0
    became_inactive: list[str] = field(default_factory=list)
    became_restricted: list[str] = field(default_factory=list)
    withdrawn: list[Withdrawal] = field(default_factory=list)


_REC = cast(Table, RegisterRecord.__table__)
_IMP = cast(Table, RegisterImport.__table__)
_KEYS = cast(Table, RegisterSnapshotKey.__table__)
_REG = cast(Table, DoctorRegistration.__table__)
_LIVE_STATUSES = ("match", "needs_review", "restricted")
_WAS_ACTIVE = (EntryStatus.ACTIVE.value, EntryStatus.RESTRICTED.value)


def file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class _Run:
    db: Database
    register: str
    kind: str
    path: str
    snapshot: bool
    batch_size: int
    progress: ProgressFn | None
    now: Callable[[], datetime]
    report: ImportReport
    total_bytes: int = 0
    counter: LineCounter = field(default_factory=LineCounter)
    written: int = 0
    analyze_at: int = 5000

    @property
    def import_id(self) -> int:
        return self.report.import_id

    # -- checkpoint -----------------------------------------------------------------

    def start(self, *, force: bool) -> bool:
        """Create or load the checkpoint; False when the file was already imported."""
        with self.db.engine.begin() as conn:
            row = conn.execute(
                select(_IMP).where(
                    _IMP.c.register == self.register,
                    _IMP.c.kind == self.kind,
                    _IMP.c.file_digest == self.report.file_digest,
                )
            ).first()
            now = self.now()
            if row is None:
                inserted = conn.execute(
                    insert(_IMP).values(
                        register=self.register,
                        kind=self.kind,
                        file_digest=self.report.file_digest,
                        file_name=os.path.basename(self.path)[:255],
                        status="running",
                        last_line=0,
                        rows_done=0,
                        rows_changed=0,
                        started_at=now,
                        updated_at=now,
                    )
                ).inserted_primary_key
                assert inserted is not None
                self.report.import_id = int(inserted[0])
                return True
            self.report.import_id = row.id
            if row.status == "done" and not force:
                self.report.skipped = True
                self.report.lines = row.last_line
                return False
            resume = 0 if row.status == "done" else row.last_line
            self.report.resumed_from = resume
            conn.execute(
                update(_IMP)
                .where(_IMP.c.id == row.id)
                .values(status="running", error=None, last_line=resume, updated_at=now)
            )
            return True

    def fail(self, exc: Exception) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(
                update(_IMP)
                .where(_IMP.c.id == self.import_id)
                .values(status="failed", error=str(exc)[:2000], updated_at=self.now())
            )

    def finish(self) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(delete(_KEYS).where(_KEYS.c.import_id == self.import_id))
            conn.execute(
                update(_IMP)
                .where(_IMP.c.id == self.import_id)
                .values(status="done", finished_at=self.now(), updated_at=self.now())
            )

    # -- batches ----------------------------------------------------------------------

    def flush(self, ops: list[Op], last_line: int | None) -> None:
        now = self.now()
        with self.db.engine.begin() as conn:
            numbers = [op.entry.number if isinstance(op, Upsert) else op.number for op in ops]
            old = existing(conn, self.register, numbers)
            pending: dict[str, dict[str, Any]] = {}
            source = f"{self.kind}:{self.import_id}"
            for op in ops:
                if isinstance(op, Upsert):
                    entry = op.entry
                else:
                    current = pending.get(op.number) or old.get(op.number)
                    if current is None:
                        continue  # nothing to withdraw: we never mirrored it
                    base = row_to_entry(_AsRow(current) if isinstance(current, dict) else current)
                    entry = replace(base, status=EntryStatus.INACTIVE, status_detail=op.detail)
                pending[entry.number] = entry_to_row(entry, source=source, now=now)
            changed = [
                row
                for number, row in pending.items()
                if number not in old or old[number].row_hash != row["row_hash"]
            ]
            upsert_rows(conn, changed)
            self._transitions(conn, old, pending, now)
            if self.snapshot:
                self._remember_keys(conn, [op.entry.number for op in ops if isinstance(op, Upsert)])
            values: dict[str, Any] = {
                "rows_done": _IMP.c.rows_done + len(ops),
                "rows_changed": _IMP.c.rows_changed + len(changed),
                "updated_at": now,
            }
            if last_line is not None:
                values["last_line"] = last_line
            conn.execute(update(_IMP).where(_IMP.c.id == self.import_id).values(**values))
        self.report.rows_changed += len(changed)
        self._refresh_statistics(len(changed))
        if last_line is not None:
            self.report.lines = last_line
        self.tick()

    def _refresh_statistics(self, written: int) -> None:
        """Keep PostgreSQL's planner statistics in step with a bulk load: with the stale
        statistics of a table that was small, it scans a whole register per batch lookup
        instead of probing the primary key, and the import turns quadratic."""
        self.written += written
        if self.written < self.analyze_at or self.db.engine.dialect.name != "postgresql":
            return
        with self.db.engine.begin() as conn:
            conn.exec_driver_sql(f"ANALYZE {_REC.name}")
        self.analyze_at = self.written * 2

    def _remember_keys(self, conn: Connection, numbers: list[str]) -> None:
        if not numbers:
            return
        have = set(
            conn.execute(
                select(_KEYS.c.number).where(_KEYS.c.import_id == self.import_id, _KEYS.c.number.in_(numbers))
            ).scalars()
        )
        fresh = [{"import_id": self.import_id, "number": n} for n in dict.fromkeys(numbers) if n not in have]
        if fresh:
            conn.execute(insert(_KEYS), fresh)

    def _transitions(
        self, conn: Connection, old: dict[str, Any], new: dict[str, dict[str, Any]], now: datetime
    ) -> None:
        inactive, restricted = [], []
        for number, row in new.items():
            before = old[number].status if number in old else None
            if row["status"] == EntryStatus.INACTIVE.value and before in _WAS_ACTIVE:
                inactive.append((number, row["status_detail"]))
            elif row["status"] == EntryStatus.RESTRICTED.value and before == "active":
                restricted.append((number, row["status_detail"]))
        self.report.became_inactive += [n for n, _ in inactive]
        self.report.became_restricted += [n for n, _ in restricted]
        for status, items in (("inactive", inactive), ("restricted", restricted)):
            for number, detail in items:
                self._withdraw_doctors(conn, number, status, detail, now)

    def _withdraw_doctors(
        self, conn: Connection, number: str, status: str, detail: str, now: datetime
    ) -> None:
        where = (
            (_REG.c.register == self.register) & (_REG.c.number == number) & _REG.c.status.in_(_LIVE_STATUSES)
        )
        reason = f"register update: {detail or status}"[:300]
        doctors = conn.execute(select(_REG.c.doctor_id).where(where)).scalars().all()
        if not doctors:
            return
        conn.execute(
            update(_REG)
            .where(where)
            .values(status=status, reason=reason, withdrawn_at=now, withdrawal_handled_at=None)
        )
        self.report.withdrawn += [Withdrawal(d, self.register, number, status, reason) for d in doctors]

    def tick(self) -> None:
        if self.progress is not None:
            self.progress(
                Progress(
                    self.register,
                    self.kind,
                    self.counter.line,
                    self.counter.bytes_read,
                    self.total_bytes,
                    self.report.rows_changed,
                )
            )

    # -- snapshots --------------------------------------------------------------------

    def withdraw_vanished(self, max_fraction: float, max_absolute: int, detail: str) -> None:
        with self.db.engine.connect() as conn:
            keys = select(_KEYS.c.number).where(
                _KEYS.c.import_id == self.import_id, _KEYS.c.number == _REC.c.number
            )
            live = (_REC.c.register == self.register) & (_REC.c.status != "inactive")
            total = conn.execute(select(func.count()).select_from(_REC).where(live)).scalar_one()
            vanished = list(conn.execute(select(_REC.c.number).where(live, ~exists(keys))).scalars())
        allowed = max(max_absolute, int(total * max_fraction))
        if len(vanished) > allowed:
            raise RegisterFileError(
                f"extract would withdraw {len(vanished)} of {total} active entries (more than "
                f"{allowed}); refusing, as the file may be incomplete",
                line=self.counter.line,
                path=self.path,
            )
        for i in range(0, len(vanished), self.batch_size):
            chunk = vanished[i : i + self.batch_size]
            self.flush([Withdraw(n, detail) for n in chunk], None)


class _AsRow:
    """Attribute access over a pending row dict, so row_to_entry reads both."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.__dict__.update(data)


def run_import(
    db: Database,
    *,
    register: str,
    kind: str,
    path: str,
    parser: Parser,
    snapshot: bool = False,
    batch_size: int = 5000,
    progress: ProgressFn | None = None,
    force: bool = False,
    max_withdraw_fraction: float = 0.05,
    max_withdraw_absolute: int = 50,
    vanished_detail: str = "no longer in the register extract",
    now: Callable[[], datetime] = utcnow,
) -> ImportReport:
    """Import one register file; see the module docstring. Raises RegisterFileError."""
    report = ImportReport(register, kind, path, file_digest(path), 0)
    run = _Run(db, register, kind, path, snapshot, batch_size, progress, now, report)
    run.total_bytes = os.path.getsize(path)
    if not run.start(force=force):
        return report
    try:
        with open(path, "rb") as f:
            batch: list[Op] = []
            last = report.resumed_from
            for line, op in parser(f, run.counter, path):
                if line <= report.resumed_from:
                    continue
                # Several ops may share a position (one XML element, several entries):
                # a batch only ends between positions, so a resume never splits them.
                if len(batch) >= batch_size and line != last:
                    run.flush(batch, last)
                    batch = []
                batch.append(op)
                last = line
            run.flush(batch, last)
        if snapshot:
            run.withdraw_vanished(max_withdraw_fraction, max_withdraw_absolute, vanished_detail)
        run.finish()
    except RegisterFileError as exc:
        run.fail(exc)
        raise
    return report
