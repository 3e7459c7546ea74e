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
- for snapshot files (the register lists only current entries), first reads the whole
  file without writing (every line validated, the numbers it lists kept), works out which
  entries vanished and which doctors would lose their claim, and refuses the file when the
  withdrawals exceed the :class:`WithdrawalGuard` (a cut-off extract must not withdraw half
  a country's doctors); applying anyway takes ``accept_withdrawals`` and is audited
  (``admin:register:withdrawals_accepted``);
- with ``dry_run`` writes nothing at all (no checkpoint either) and reports what the file
  would change, including the doctors who would lose their verified claim.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from math import floor
from typing import Any, BinaryIO, cast

from sqlalchemy import Connection, Table, delete, insert, select, update

from hub.audit import append
from hub.persistence.db import Database, utcnow
from hub.persistence.models.registers import (
    DoctorRegistration,
    RegisterImport,
    RegisterRecord,
    RegisterSnapshotKey,
)
from hub.verification import events
from hub.verification.base import EntryStatus, RegisterEntry, RegisterFileError
from hub.verification.mirror import entry_to_row, existing, row_to_entry, upsert_rows
from hub.verification.readers import LineCounter


@dataclass(frozen=True, slots=True)
class Upsert:
    entry: RegisterEntry
    # Something the register module concluded without certainty (e.g. a status text it
    # does not know, failed closed): listed in the report with its line, never silent.
    warning: str | None = None


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
    dry_run: bool = False
    vanished: list[str] = field(default_factory=list)  # snapshot entries no longer listed
    warnings: list[str] = field(default_factory=list)  # "line N: ..." (the first MAX_WARNINGS)
    warning_count: int = 0
    withdrawals_accepted: bool = False  # the guard was exceeded and overridden


MAX_WARNINGS = 100


@dataclass(frozen=True, slots=True)
class WithdrawalGuard:
    """How many entries a snapshot may withdraw at once: more than ``fraction`` of the
    register's live entries (but never fewer than ``floor``, so a small register can still
    lose a doctor a day) and never more than ``cap``, however large the register. A
    fraction alone lets a one-line file empty a register of 40; a floor alone
    (``max(50, 5 %)``) lets it too, and lets 20,000 go at once from a register of 400,000.
    """

    fraction: float = 0.02
    floor: int = 3
    cap: int = 500

    def allowed(self, live: int) -> int:
        return min(self.cap, max(self.floor, floor(live * self.fraction)))


class ImportRefused(RegisterFileError):
    """The file is readable but applying it is refused (undated, not newer than the last
    applied file, or withdrawing too many); nothing was written. ``line`` is 0 when the
    refusal concerns the file as a whole."""

    def __init__(self, message: str, *, path: str, line: int = 0) -> None:
        super().__init__(message, line=line, path=path)
        if not line:
            self.args = (f"{path}: refused: {message}" if path else f"refused: {message}",)


class WithdrawalsRefused(ImportRefused):
    """The snapshot would withdraw more entries than the guard allows; ``plan`` is the dry
    run's report (who would lose their claim)."""

    def __init__(self, message: str, *, path: str, plan: ImportReport) -> None:
        super().__init__(message, path=path)
        self.plan = plan


_REC = cast(Table, RegisterRecord.__table__)
_IMP = cast(Table, RegisterImport.__table__)
_KEYS = cast(Table, RegisterSnapshotKey.__table__)
_REG = cast(Table, DoctorRegistration.__table__)
_LIVE_STATUSES = ("match", "needs_review", "restricted")
_WAS_ACTIVE = (EntryStatus.ACTIVE.value, EntryStatus.RESTRICTED.value)
_CHUNK = 900  # bound parameters per IN (...) query


def imported(db: Database, register: str, digest: str, *, kind: str | None = None) -> bool:
    """Whether this very file (by digest) was applied completely before."""
    where = [_IMP.c.register == register, _IMP.c.file_digest == digest, _IMP.c.status == "done"]
    if kind is not None:
        where.append(_IMP.c.kind == kind)
    with db.engine.connect() as conn:
        return conn.execute(select(_IMP.c.id).where(*where).limit(1)).first() is not None


def applied_file_names(db: Database, register: str) -> list[str]:
    """The names of the files of ``register`` applied completely, any kind."""
    with db.engine.connect() as conn:
        return list(
            conn.execute(
                select(_IMP.c.file_name).where(_IMP.c.register == register, _IMP.c.status == "done")
            ).scalars()
        )


def file_digest(path: str, *, version: str = "") -> str:
    """SHA-256 of the file; ``version`` (a dated snapshot's date) is hashed in first, so
    the same content published on another day is another file."""
    h = hashlib.sha256(version.encode())
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
    dry_run: bool = False
    total_bytes: int = 0
    counter: LineCounter = field(default_factory=LineCounter)
    written: int = 0
    analyze_at: int = 5000
    seen: set[str] = field(default_factory=set)  # numbers a snapshot lists (dry run)

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
                    if self.snapshot and self.dry_run:  # the plan's question; applying needs none
                        self.seen.add(entry.number)
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
            if not self.dry_run:
                upsert_rows(conn, changed)
            self._transitions(conn, old, pending, now)
            if not self.dry_run:
                values: dict[str, Any] = {
                    "rows_done": _IMP.c.rows_done + len(ops),
                    "rows_changed": _IMP.c.rows_changed + len(changed),
                    "updated_at": now,
                }
                if last_line is not None:
                    values["last_line"] = last_line
                conn.execute(update(_IMP).where(_IMP.c.id == self.import_id).values(**values))
        self.report.rows_changed += len(changed)
        if not self.dry_run:
            self._refresh_statistics(len(changed))
        if last_line is not None:
            self.report.lines = last_line
        self.tick()

    def warn(self, line: int, warning: str) -> None:
        self.report.warning_count += 1
        if len(self.report.warnings) < MAX_WARNINGS:
            self.report.warnings.append(f"line {line}: {warning}")

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
        changes = {number: ("inactive", detail) for number, detail in inactive}
        changes.update({number: ("restricted", detail) for number, detail in restricted})
        if changes:
            self._withdraw_doctors(conn, changes, now)

    def _withdraw_doctors(self, conn: Connection, changes: dict[str, tuple[str, str]], now: datetime) -> None:
        """Mark the verified registrations behind these entries withdrawn (one query per
        batch to find them: a delta can end thousands of entries, few of them our doctors')."""
        numbers = list(changes)
        live = (_REG.c.register == self.register) & _REG.c.status.in_(_LIVE_STATUSES)
        found: list[tuple[str, str]] = []
        for i in range(0, len(numbers), _CHUNK):
            chunk = numbers[i : i + _CHUNK]
            found += [(r.number, r.doctor_id) for r in conn.execute(
                select(_REG.c.number, _REG.c.doctor_id).where(live, _REG.c.number.in_(chunk)))]
        for number in sorted({n for n, _ in found}):
            status, detail = changes[number]
            reason = f"register update: {detail or status}"[:300]
            self.report.withdrawn += [
                Withdrawal(d, self.register, number, status, reason) for n, d in found if n == number
            ]
            if not self.dry_run:
                conn.execute(
                    update(_REG)
                    .where(live, _REG.c.number == number)
                    .values(status=status, reason=reason, withdrawn_at=now, withdrawal_handled_at=None)
                )

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

    def vanished_numbers(self) -> tuple[list[str], int]:
        """Live entries of the register that this snapshot does not list, and how many
        live entries there are."""
        live = (_REC.c.register == self.register) & (_REC.c.status != "inactive")
        vanished: list[str] = []
        total = 0
        with self.db.engine.connect() as conn:
            for number in conn.execute(select(_REC.c.number).where(live)).scalars():
                total += 1
                if number not in self.seen:
                    vanished.append(number)
        return sorted(vanished), total

    def withdraw(self, numbers: list[str], detail: str) -> None:
        for i in range(0, len(numbers), self.batch_size):
            self.flush([Withdraw(n, detail) for n in numbers[i : i + self.batch_size]], None)


class _AsRow:
    """Attribute access over a pending row dict, so row_to_entry reads both."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.__dict__.update(data)


def _read(run: _Run, parser: Parser, path: str, batch_size: int) -> None:
    """Stream the file through ``parser`` into batches; resumes after ``resumed_from``."""
    with open(path, "rb") as f:
        batch: list[Op] = []
        last = run.report.resumed_from
        for line, op in parser(f, run.counter, path):
            if line <= run.report.resumed_from:
                continue
            if isinstance(op, Upsert) and op.warning:
                run.warn(line, op.warning)
            # Several ops may share a position (one XML element, several entries):
            # a batch only ends between positions, so a resume never splits them.
            if len(batch) >= batch_size and line != last:
                run.flush(batch, last)
                batch = []
            batch.append(op)
            last = line
        run.flush(batch, last)


def _plan(
    db: Database,
    register: str,
    kind: str,
    path: str,
    parser: Parser,
    *,
    snapshot: bool,
    batch_size: int,
    progress: ProgressFn | None,
    now: Callable[[], datetime],
    digest: str,
    vanished_detail: str,
    full: bool = True,
) -> tuple[ImportReport, int]:
    """Read the whole file and work out what it would change, writing nothing. Returns
    the report and (for a snapshot) the register's live entries before the file."""
    report = ImportReport(register, kind, path, digest, 0, dry_run=True)
    run = _Run(db, register, kind, path, snapshot, batch_size, progress, now, report, dry_run=True)
    run.total_bytes = os.path.getsize(path)
    if full:
        _read(run, parser, path, batch_size)
    else:
        # Only the guard's question (which entries vanish, whose claim goes): every line is
        # still parsed and validated, but nothing is compared with the mirror.
        with open(path, "rb") as f:
            for line, op in parser(f, run.counter, path):
                if isinstance(op, Upsert):
                    run.seen.add(op.entry.number)
                report.lines = line
    total = 0
    if snapshot:
        report.vanished, total = run.vanished_numbers()
        run.withdraw(report.vanished, vanished_detail)
    return report, total


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
    dry_run: bool = False,
    guard: WithdrawalGuard | None = None,
    accept_withdrawals: bool = False,
    accepted_by: str = "system",
    vanished_detail: str = "no longer in the register extract",
    version: str = "",
    now: Callable[[], datetime] = utcnow,
) -> ImportReport:
    """Import one register file; see the module docstring. Raises RegisterFileError (a
    malformed line) or ImportRefused (a snapshot withdrawing more than ``guard`` allows
    without ``accept_withdrawals``)."""
    digest = file_digest(path, version=version)
    plan: ImportReport | None = None
    overridden = False
    if not dry_run and not force and imported(db, register, digest, kind=kind):
        report = ImportReport(register, kind, path, digest, 0)
        _Run(db, register, kind, path, snapshot, batch_size, progress, now, report).start(force=False)
        return report
    if dry_run or snapshot:
        plan, live = _plan(db, register, kind, path, parser, snapshot=snapshot, batch_size=batch_size,
                           progress=None if snapshot and not dry_run else progress, now=now,
                           digest=digest, vanished_detail=vanished_detail, full=dry_run)
        if dry_run:
            return plan
        allowed = (guard or WithdrawalGuard()).allowed(live)
        if len(plan.vanished) > allowed:
            if not accept_withdrawals:
                raise WithdrawalsRefused(
                    f"the file would withdraw {len(plan.vanished):,} of {live:,} active entries "
                    f"(the guard allows {allowed:,}); it may be cut short. Check it with a dry "
                    "run, and apply it only if the register really changed that much",
                    path=path,
                    plan=plan,
                )
            overridden = True
            append(db, events.WITHDRAWALS_ACCEPTED, actor=accepted_by[:100], detail={
                "register": register, "kind": kind, "file": os.path.basename(path)[:100],
                "withdrawals": len(plan.vanished), "active": live, "allowed": allowed,
                "doctors": len({w.doctor_id for w in plan.withdrawn}),
            })
    report = ImportReport(register, kind, path, digest, 0)
    run = _Run(db, register, kind, path, snapshot, batch_size, progress, now, report)
    run.total_bytes = os.path.getsize(path)
    if not run.start(force=force):
        return report
    report.withdrawals_accepted = overridden
    try:
        _read(run, parser, path, batch_size)
        if plan is not None and snapshot:
            # What the plan found vanished (and the operator accepted): applying the
            # listed entries never changes which live entries the file leaves out.
            report.vanished = plan.vanished
            run.withdraw(plan.vanished, vanished_detail)
        run.finish()
    except RegisterFileError as exc:
        run.fail(exc)
        raise
    return report
