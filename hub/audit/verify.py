"""Walking the chain: finds the first record that was changed, removed or inserted.

The walk streams rows in seq order (server-side cursor on PostgreSQL), so memory stays flat
however long the log is. Each record is checked three ways: its stored hash against the
hash recomputed from its fields (content changed?), its ``prev_hash`` against the previous
record's hash (link broken?), and its seq against the previous seq + 1 (gap?). When a link
is broken, one row of look-ahead tells an insertion from a change from a renumbering.
Signed checkpoints then catch what a chain alone cannot: a tail cut off, or a stretch
rewritten with every hash recomputed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from sqlalchemy import Connection, Row, select

from hub.audit.chain import GENESIS_HASH, canonical_detail, commitment, format_time, record_hash
from hub.audit.keys import CheckpointKey
from hub.audit.shipped import ShippedCheckpoint, compare_with_shipped
from hub.audit.signing import Checkpoint, load_checkpoints, signature_problem
from hub.persistence.db import Database
from hub.persistence.models.audit import PERSONAL_DATA, RECORDS

BATCH = 5000

ProblemKind = Literal["changed", "missing", "inserted", "rewritten", "truncated", "personal_data"]


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    kind: ProblemKind
    message: str


@dataclass
class VerifyReport:
    records: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    problem: ChainProblem | None = None
    checkpoints: int = 0
    checkpoint_problems: list[str] = field(default_factory=list)
    signatures_checked: bool = False
    shipped: int | None = None  # shipped checkpoints compared, when a copy was given
    # The newest checkpoint that passed its signature check: when it grows old, the
    # checkpoint writer has stopped (monitor it; nothing else reports that).
    newest_checkpoint: Checkpoint | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None and not self.checkpoint_problems

    def __str__(self) -> str:
        lines = [f"audit log: {'OK' if self.ok else 'TAMPERED'}"]
        lines.append(f"records checked: {self.records} (last seq {self.last_seq})")
        if self.problem is not None:
            lines.append(f"first problem: {self.problem.message}")
        sig = "signatures verified" if self.signatures_checked else "signatures NOT checked (no key)"
        lines.append(f"checkpoints: {self.checkpoints} ({sig})")
        if self.shipped is not None:
            lines.append(f"shipped checkpoints compared: {self.shipped}")
        if (cp := self.newest_checkpoint) is not None:
            lines.append(f"newest checkpoint: #{cp.id}, seq {cp.seq}, written {format_time(cp.created_at)}")
        lines += [f"checkpoint problem: {p}" for p in self.checkpoint_problems]
        return "\n".join(lines)


def verify_chain(
    db: Database,
    *,
    verify_key: CheckpointKey | Sequence[CheckpointKey] | None = None,
    batch: int = BATCH,
    shipped: Sequence[ShippedCheckpoint] | None = None,
) -> VerifyReport:
    """Verify the whole chain and every checkpoint; never raises on tampering.

    ``shipped``: checkpoints kept outside the database (``hub.audit.shipped``); they catch
    the newest records deleted together with the checkpoint rows that covered them.
    """
    keys = _as_keys(verify_key)
    with db.engine.connect() as conn:
        report = verify_on(conn, keys=keys, batch=batch)
        if shipped is not None:
            _against_shipped(conn, report, shipped, keys)
        return report


def _against_shipped(
    conn: Connection,
    report: VerifyReport,
    shipped: Sequence[ShippedCheckpoint],
    keys: Sequence[CheckpointKey] | None,
) -> None:
    report.shipped = len(shipped)
    findings = compare_with_shipped(conn, shipped, keys, last_seq=report.last_seq)
    report.checkpoint_problems += findings.problems or []
    if report.problem is not None:
        return  # the walk already named the first bad record
    if findings.rewrite is not None:
        seq, message = findings.rewrite
        report.problem = ChainProblem(seq, "rewritten", message)
    elif findings.truncation is not None:
        report.problem = ChainProblem(report.last_seq + 1, "truncated", findings.truncation)


def verify_on(
    conn: Connection,
    *,
    keys: Sequence[CheckpointKey] | None,
    anchor: Checkpoint | None = None,
    batch: int = BATCH,
) -> VerifyReport:
    """Verify on an open connection, from record 1 or from a trusted ``anchor`` checkpoint."""
    report = VerifyReport(signatures_checked=keys is not None)
    # Checkpoints first: every record a checkpoint names was committed before it, so the
    # record cursor opened afterwards sees it (no false "truncated" under live appends).
    checkpoints = load_checkpoints(conn)
    report.checkpoints = len(checkpoints)
    trusted: dict[int, list[Checkpoint]] = {}
    for cp in checkpoints:
        problem = signature_problem(cp, keys) if keys is not None else None
        if problem is not None:
            report.checkpoint_problems.append(problem)
        else:
            trusted.setdefault(cp.seq, []).append(cp)
            if report.newest_checkpoint is None or cp.created_at >= report.newest_checkpoint.created_at:
                report.newest_checkpoint = cp
    start = 1 if anchor is None else anchor.seq
    walker = _Walker(trusted, start=start, prev_hash=None if anchor else GENESIS_HASH)
    walker.run(_rows(conn, start, batch), report)
    if report.problem is None and trusted:
        top = max(trusted)
        if top > report.last_seq:
            report.problem = ChainProblem(
                report.last_seq + 1,
                "truncated",
                f"records after {report.last_seq} are missing: "
                f"signed checkpoint #{trusted[top][0].id} covers seq {top}",
            )
    return report


def _as_keys(key: CheckpointKey | Sequence[CheckpointKey] | None) -> list[CheckpointKey] | None:
    if key is None:
        return None
    if isinstance(key, Sequence):
        return list(key)
    return [key]


def _rows(conn: Connection, start: int, batch: int) -> Iterator[Row[Any]]:
    r = RECORDS.c
    p = PERSONAL_DATA.c
    stmt = (
        select(
            r.seq,
            r.occurred_at,
            r.event,
            r.actor,
            r.client_id,
            r.detail,
            r.personal_commitment,
            r.prev_hash,
            r.hash,
            p.seq.label("p_seq"),
            p.salt,
            p.data,
        )  # fmt: skip
        .select_from(RECORDS.outerjoin(PERSONAL_DATA, p.seq == r.seq))
        .where(r.seq >= start)
        .order_by(r.seq)
        .execution_options(yield_per=batch)
    )
    yield from cast(Iterator[Row[Any]], conn.execute(stmt))


def _hash(
    row: Row[Any],
    *,
    seq: int | None = None,
    prev_hash: str | None = None,
    detail: str | None = None,
) -> str:
    return record_hash(
        seq=row.seq if seq is None else seq,
        prev_hash=row.prev_hash if prev_hash is None else prev_hash,
        occurred_at=row.occurred_at,
        event=row.event,
        actor=row.actor,
        client_id=row.client_id,
        detail=row.detail if detail is None else detail,
        personal=row.personal_commitment,
    )


def _consistent(row: Row[Any]) -> bool:
    """Does the stored hash match the row's fields? (Slow path only on a mismatch.)"""
    if _hash(row) == row.hash:
        return True
    canonical = canonical_detail(row.detail)
    return canonical is not None and canonical != row.detail and _hash(row, detail=canonical) == row.hash


class _Peekable:
    def __init__(self, rows: Iterator[Row[Any]]) -> None:
        self._rows = rows
        self._next: Row[Any] | None = None
        self._done = False

    def peek(self) -> Row[Any] | None:
        if self._next is None and not self._done:
            self._next = next(self._rows, None)
            self._done = self._next is None
        return self._next

    def __iter__(self) -> Iterator[Row[Any]]:
        while (row := self.peek()) is not None:
            self._next = None
            yield row


class _Walker:
    def __init__(self, trusted: dict[int, list[Checkpoint]], *, start: int, prev_hash: str | None):
        self.trusted = trusted
        self.prev_seq = start - 1
        # None: the first row is an anchor whose predecessor is not being checked.
        self.prev_hash = prev_hash
        self.prev_prev_hash: str | None = None
        self.last_checkpoint_seq = max((s for s in trusted if s < start), default=0)

    def run(self, rows: Iterator[Row[Any]], report: VerifyReport) -> None:
        it = _Peekable(rows)
        for row in it:
            problem = self.check(row, it)
            if problem is not None:
                report.problem = problem
                return
            report.records += 1
            report.last_seq, report.last_hash = row.seq, row.hash

    def check(self, row: Row[Any], it: _Peekable) -> ChainProblem | None:
        expected = self.prev_seq + 1
        if row.seq != expected:
            what = (
                f"record {expected} is missing"
                if row.seq == expected + 1
                else f"records {expected} to {row.seq - 1} are missing"
            )
            return ChainProblem(expected, "missing", f"{what} (seq gap)")
        consistent = _consistent(row)
        linked = self.prev_hash is None or row.prev_hash == self.prev_hash
        if not linked:
            return self._unlinked(row, it, consistent)
        if not consistent:
            return self._inconsistent(row, it)
        problem = self._against_checkpoints(row) or _personal_problem(row)
        if problem is not None:
            return problem
        self.prev_seq, self.prev_prev_hash, self.prev_hash = row.seq, self.prev_hash, row.hash
        return None

    def _moved_successor(self, nxt: Row[Any] | None) -> bool:
        """Is ``nxt`` the true successor of the last good record, pushed one seq up?"""
        if nxt is None:
            return False
        return nxt.prev_hash == self.prev_hash or (
            self.prev_hash is not None and _hash(nxt, seq=nxt.seq - 1, prev_hash=self.prev_hash) == nxt.hash
        )

    def _inserted(self, e: int) -> ChainProblem:
        return ChainProblem(
            e, "inserted",
            f"a record was inserted between {e - 1} and {e} "
            f"(it now has seq {e}; later records were renumbered)",
        )  # fmt: skip

    def _unlinked(self, row: Row[Any], it: _Peekable, consistent: bool) -> ChainProblem:
        e, p = row.seq, self.prev_seq
        nxt = it.peek()
        if self._moved_successor(nxt):
            # The next row is the true successor of p: this one was slipped in between.
            return self._inserted(e)
        if _hash(row, seq=e + 1) == row.hash:
            return ChainProblem(
                e, "missing",
                f"record {e} is missing (later records were renumbered to close the gap)",
            )  # fmt: skip
        if consistent and nxt is not None and nxt.prev_hash == row.hash and p >= 1:
            # Row e and its successor agree with each other, so it is p that moved.
            return ChainProblem(
                p, "changed",
                f"record {p} was changed (its hash was recomputed; "
                f"record {e} no longer chains to it)",
            )  # fmt: skip
        if nxt is None:
            return ChainProblem(
                e, "inserted",
                f"record {e} was inserted or altered: it does not chain to record {p}",
            )  # fmt: skip
        return ChainProblem(
            e, "changed", f"record {e} was changed (it no longer chains to record {p})"
        )  # fmt: skip

    def _inconsistent(self, row: Row[Any], it: _Peekable) -> ChainProblem:
        e = row.seq
        if (
            self.prev_prev_hash is not None
            and _hash(row, seq=e - 1, prev_hash=self.prev_prev_hash) == row.hash
        ):
            # Row e is the original e - 1 moved up and re-linked to an intruder at e - 1.
            return self._inserted(e - 1)
        if self._moved_successor(it.peek()):
            return self._inserted(e)
        return ChainProblem(e, "changed", f"record {e} was changed")

    def _against_checkpoints(self, row: Row[Any]) -> ChainProblem | None:
        for cp in self.trusted.get(row.seq, ()):
            if cp.record_hash != row.hash:
                return ChainProblem(
                    row.seq, "rewritten",
                    f"records {self.last_checkpoint_seq + 1} to {row.seq} were rewritten "
                    f"with recomputed hashes: record {row.seq} no longer matches signed "
                    f"checkpoint #{cp.id}",
                )  # fmt: skip
        if row.seq in self.trusted:
            self.last_checkpoint_seq = row.seq
        return None


def _personal_problem(row: Row[Any]) -> ChainProblem | None:
    e = row.seq
    if row.personal_commitment is None:
        if row.p_seq is not None:
            return ChainProblem(e, "personal_data", f"personal data was added to record {e}")
        return None
    if row.p_seq is None:
        return ChainProblem(e, "personal_data", f"personal data of record {e} was deleted without an erasure")
    if row.salt is None and row.data is None:
        return None  # erased: the commitment stays, nothing left to compare it with
    if (
        row.salt is None
        or row.data is None
        or commitment(bytes(row.salt), row.data) != row.personal_commitment
    ):
        return ChainProblem(e, "personal_data", f"personal data of record {e} was changed")
    return None
