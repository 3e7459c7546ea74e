"""Checkpoints shipped outside the database, and comparing the database with them.

Someone who can bypass the append-only triggers can delete the newest records *and* the
checkpoints that cover them; the database alone then looks like a shorter, intact chain.
A copy of each checkpoint kept elsewhere (a file on another host, a log store) still names
the seq and hash the log had reached, so ``hub audit verify --against FILE`` catches it.
The shipped form is the JSON line ``Checkpoint.as_dict`` gives (``hub audit checkpoint``
prints it; the worker appends it to ``CURBSIDE_AUDIT_CHECKPOINT_LOG`` and logs it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, select

from hub.audit.chain import format_time
from hub.audit.errors import AuditError
from hub.audit.keys import CheckpointKey
from hub.audit.signing import Checkpoint, load_checkpoints, signature_problem
from hub.persistence.models.audit import RECORDS

LOOKUP_CHUNK = 500


class ShippedCheckpointError(AuditError, ValueError):
    """The shipped-checkpoint file cannot be read; the message names the file and line."""


def checkpoint_line(cp: Checkpoint) -> str:
    return json.dumps(cp.as_dict(), sort_keys=True)


def ship(cp: Checkpoint, path: Path) -> None:
    """Append ``cp`` as one JSON line, durably (the copy is only evidence once on disk)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, (checkpoint_line(cp) + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class ShippedCheckpoint:
    line: int
    checkpoint: Checkpoint

    @property
    def where(self) -> str:
        cp = self.checkpoint
        return f"shipped checkpoint of {format_time(cp.created_at)} (line {self.line}, seq {cp.seq})"


def _parse(line: str, number: int, path: Path) -> ShippedCheckpoint:
    try:
        d = json.loads(line)
        cp = Checkpoint(
            id=int(d["id"]),
            seq=int(d["seq"]),
            record_hash=str(d["hash"]),
            created_at=datetime.fromisoformat(str(d["time"]).replace("Z", "+00:00")),
            algorithm=str(d["alg"]),
            key_id=str(d["kid"]),
            signature=str(d["signature"]),
        )
    except (ValueError, TypeError, KeyError):
        raise ShippedCheckpointError(f"{path} line {number}: not a checkpoint line") from None
    if cp.seq < 1:
        raise ShippedCheckpointError(f"{path} line {number}: not a checkpoint line")
    return ShippedCheckpoint(number, cp)


def read_shipped(path: Path, lines: Iterable[str] | None = None) -> list[ShippedCheckpoint]:
    """Every checkpoint line of ``path`` (blank lines skipped, any other line must parse)."""
    if lines is None:
        try:
            with path.open(encoding="utf-8") as f:
                return read_shipped(path, f)
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise ShippedCheckpointError(f"cannot read {path}: {reason}") from None
    return [_parse(text, n, path) for n, text in enumerate(lines, 1) if text.strip()]


@dataclass
class ShippedFindings:
    """What the shipped copy shows; ``truncation`` / ``rewrite`` are the chain problems."""

    truncation: str | None = None
    rewrite: tuple[int, str] | None = None
    problems: list[str] | None = None


def compare_with_shipped(
    conn: Connection,
    shipped: Sequence[ShippedCheckpoint],
    keys: Sequence[CheckpointKey] | None,
    *,
    last_seq: int,
) -> ShippedFindings:
    """Compare the database with the shipped checkpoints that carry a valid signature.

    ``last_seq`` is the newest record the chain walk reached. A shipped checkpoint beyond
    it means records were deleted; one whose record now has another hash means a rewrite;
    one missing from ``audit_checkpoints`` means checkpoint rows were deleted.
    """
    findings = ShippedFindings(problems=[])
    assert findings.problems is not None
    trusted: list[ShippedCheckpoint] = []
    for s in shipped:
        problem = signature_problem(s.checkpoint, keys) if keys is not None else None
        if problem is None:
            trusted.append(s)
        else:
            # An unsigned line proves nothing (anyone can write to a log file), but say so.
            cp = s.checkpoint
            reason = problem.removeprefix(f"checkpoint #{cp.id} (seq {cp.seq}) ")
            findings.problems.append(f"{s.where} {reason}")
    if not trusted:
        return findings
    top = max(trusted, key=lambda s: s.checkpoint.seq)
    if top.checkpoint.seq > last_seq:
        findings.truncation = (
            f"records after {last_seq} are missing: {top.where} covers seq {top.checkpoint.seq}"
        )
    hashes = _record_hashes(conn, sorted({s.checkpoint.seq for s in trusted if s.checkpoint.seq <= last_seq}))
    for s in sorted(trusted, key=lambda s: s.checkpoint.seq):
        stored = hashes.get(s.checkpoint.seq)
        if stored is not None and stored != s.checkpoint.record_hash:
            findings.rewrite = (
                s.checkpoint.seq,
                f"record {s.checkpoint.seq} no longer matches the {s.where}: "
                "the log was rewritten",
            )
            break
    in_db = {(cp.seq, cp.record_hash, cp.signature) for cp in load_checkpoints(conn)}
    gone = [s for s in trusted
            if (s.checkpoint.seq, s.checkpoint.record_hash, s.checkpoint.signature) not in in_db]
    if gone:
        findings.problems.append(
            f"{len(gone)} shipped checkpoint(s) are missing from audit_checkpoints "
            f"(checkpoint rows were deleted), newest: {gone[-1].where}"
        )
    return findings


def _record_hashes(conn: Connection, seqs: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for i in range(0, len(seqs), LOOKUP_CHUNK):
        chunk = seqs[i : i + LOOKUP_CHUNK]
        rows = conn.execute(select(RECORDS.c.seq, RECORDS.c.hash).where(RECORDS.c.seq.in_(chunk)))
        out.update({seq: h for seq, h in rows})
    return out
