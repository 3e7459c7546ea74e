"""Concurrent writers never fork the chain: one valid chain, no gaps, nothing lost."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from hub.audit import AuditEvent, append, verify_chain
from hub.persistence.db import Database
from hub.persistence.models.audit import AuditRecord

WRITERS = 8
PER_WRITER = 25


def _write(url: str, writer: int, count: int, barrier: threading.Barrier | None = None) -> None:
    db = Database(url)  # its own engine, so its own connections
    try:
        if barrier is not None:
            barrier.wait()
        for i in range(count):
            personal = {"email": f"w{writer}@example.org"} if i % 2 else None
            append(
                db,
                AuditEvent.AUTH_LOGIN_SUCCESS,
                actor=f"writer:{writer}",
                personal=personal,
                subject=f"w{writer}" if personal else None,
                detail={"i": i},
            )
    finally:
        db.engine.dispose()


def _assert_one_chain(db: Database, writers: int, per_writer: int) -> None:
    report = verify_chain(db)
    assert report.ok, str(report)
    assert report.records == writers * per_writer
    with db.session() as s:
        seqs = s.scalars(select(AuditRecord.seq).order_by(AuditRecord.seq)).all()
        actors = Counter(s.scalars(select(AuditRecord.actor)).all())
    assert seqs == list(range(1, writers * per_writer + 1))
    assert actors == {f"writer:{w}": per_writer for w in range(writers)}


def _run_threads(target: Callable[[int, threading.Barrier], None]) -> None:
    barrier = threading.Barrier(WRITERS)  # all start together, to maximise contention
    with ThreadPoolExecutor(WRITERS) as pool:
        futures = [pool.submit(target, w, barrier) for w in range(WRITERS)]
        for f in futures:
            f.result(timeout=120)  # re-raises a writer's exception here


def test_threads_share_one_chain(db: Database) -> None:
    _run_threads(lambda w, barrier: _write(db.url, w, PER_WRITER, barrier))
    _assert_one_chain(db, WRITERS, PER_WRITER)


def test_threads_appending_in_their_own_sessions(db: Database) -> None:
    """The hub's usual form: append inside the request's own transaction."""

    def run(writer: int, barrier: threading.Barrier) -> None:
        local = Database(db.url)
        try:
            barrier.wait()
            for i in range(PER_WRITER):
                with local.session() as s:
                    append(s, AuditEvent.DOCTOR_LINK_ADD, actor=f"writer:{writer}", detail={"i": i})
        finally:
            local.engine.dispose()

    _run_threads(run)
    _assert_one_chain(db, WRITERS, PER_WRITER)


def test_processes_share_one_chain(db: Database) -> None:
    writers = WRITERS
    # fork is quick; the parent's pooled connections must not be shared with children.
    db.engine.dispose()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write, args=(db.url, w, PER_WRITER)) for w in range(writers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * writers
    _assert_one_chain(db, writers, PER_WRITER)
