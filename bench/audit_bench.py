"""Audit log figures: append throughput with 1, 4 and 8 concurrent writers, and the time
to verify (and export) a chain of a million records.

    python bench/audit_bench.py                 # SQLite; PostgreSQL too if configured
    python bench/audit_bench.py --records 100000 --appends 1000

PostgreSQL runs when CURBSIDE_TEST_DATABASE_URL is set, in a private schema that is
dropped afterwards. The million records are generated with bulk inserts whose chain is
computed here in Python (appending them one by one would take far longer than verifying).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from hub.audit import AuditEvent, append, export, verify_chain
from hub.audit.chain import GENESIS_HASH, commitment, new_salt, record_hash
from hub.audit.detail import canonical_json
from hub.persistence.db import Base, Database
from hub.persistence.models.audit import AUDIT_TABLES, PERSONAL_DATA, RECORDS

CHUNK = 10_000


@contextmanager
def sqlite_db() -> Iterator[Database]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'audit-bench.db'}")
        try:
            yield db
        finally:
            db.engine.dispose()


@contextmanager
def postgres_db(base: str) -> Iterator[Database]:
    schema = "bench_" + uuid.uuid4().hex[:10]
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    db = Database(f"{base}{sep}options=-csearch_path%3D{schema}")
    try:
        yield db
    finally:
        db.engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def reset(db: Database) -> None:
    Base.metadata.drop_all(db.engine, tables=list(AUDIT_TABLES))
    Base.metadata.create_all(db.engine, tables=list(AUDIT_TABLES))


def _writer(url: str, w: int, count: int, go: Any, done: Any) -> None:
    """One writer process: its own engine and connection, like a gunicorn worker."""
    db = Database(url)
    db.engine.connect().close()  # connect before the clock starts
    go.wait()
    for i in range(count):
        personal = {"email": f"doc{w}@example.org"} if i % 4 == 0 else None
        append(
            db,
            AuditEvent.AUTH_LOGIN_SUCCESS,
            actor=f"doctor:{w}",
            client_id="rp-bench",
            address="192.0.2.1" if personal else None,
            personal=personal,
            subject=f"doctor:{w}" if personal else None,
            detail={"i": i, "acr": "mfa"},
        )
    done.put(time.perf_counter())
    db.engine.dispose()


def append_throughput(db: Database, writers: int, total: int) -> float:
    """records/s for ``total`` appends spread over ``writers`` processes, every fourth
    record carrying personal data; each append is its own transaction (standalone form)."""
    reset(db)
    db.engine.dispose()  # no pooled connection may be shared with forked children
    per_writer = total // writers
    ctx = multiprocessing.get_context("fork")
    go, done = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(db.url, w, per_writer, go, done)) for w in range(writers)]
    for p in procs:
        p.start()
    time.sleep(0.5 + 0.1 * writers)  # let every writer connect
    start = time.perf_counter()
    go.set()
    ends = [done.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    if any(p.exitcode for p in procs):
        raise SystemExit("a writer process failed")
    elapsed = max(ends) - start
    report = verify_chain(db)
    assert report.ok and report.records == per_writer * writers, str(report)
    return per_writer * writers / elapsed


def generate(db: Database, n: int) -> float:
    """Bulk-insert a valid chain of ``n`` records (10 % with personal data); seconds taken."""
    reset(db)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    prev = GENESIS_HASH
    start = time.perf_counter()
    records = RECORDS
    personal_table = PERSONAL_DATA
    seq = 0
    with db.engine.connect() as conn:
        while seq < n:
            rows: list[dict[str, object]] = []
            people: list[dict[str, object]] = []
            for _ in range(min(CHUNK, n - seq)):
                seq += 1
                when = t0 + timedelta(milliseconds=seq)
                detail = canonical_json({"n": seq, "scope": "openid profile"})
                pc = None
                if seq % 10 == 0:
                    salt, data = new_salt(), canonical_json({"email": f"d{seq % 997}@example.org"})
                    pc = commitment(salt, data)
                    people.append({"seq": seq, "subject": f"d{seq % 997}", "salt": salt, "data": data})
                h = record_hash(
                    seq=seq,
                    prev_hash=prev,
                    occurred_at=when,
                    event="doctor:consent:grant",
                    actor=f"doctor:{seq % 997}",
                    client_id="rp-bench",
                    detail=detail,
                    personal=pc,
                )
                rows.append(
                    {
                        "seq": seq,
                        "occurred_at": when,
                        "event": "doctor:consent:grant",
                        "actor": f"doctor:{seq % 997}",
                        "client_id": "rp-bench",
                        "detail": detail,
                        "personal_commitment": pc,
                        "prev_hash": prev,
                        "hash": h,
                    }
                )
                prev = h
            conn.execute(sa.insert(records), rows)
            if people:
                conn.execute(sa.insert(personal_table), people)
            conn.commit()
    return time.perf_counter() - start


def bench_backend(name: str, db: Database, appends: int, n: int) -> None:
    print(f"\n== {name} ==")
    for writers in (1, 4, 8):
        rate = append_throughput(db, writers, appends)
        print(f"append, {writers} writer{'s' if writers > 1 else ' '}: {rate:8.0f} records/s")
    gen = generate(db, n)
    print(f"generate {n:,} records (bulk insert, chain computed in Python): {gen:.1f} s")
    start = time.perf_counter()
    report = verify_chain(db)
    verify_s = time.perf_counter() - start
    assert report.ok and report.records == n, str(report)
    print(f"verify_chain over {n:,} records: {verify_s:.1f} s ({n / verify_s:,.0f} records/s)")
    start = time.perf_counter()
    with open(os.devnull, "w") as sink:
        exported = export(db, None, None, "jsonl", sink)
    export_s = time.perf_counter() - start
    print(f"export jsonl of {exported:,} records: {export_s:.1f} s")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process so far: {rss:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="chain length for verify")
    parser.add_argument("--appends", type=int, default=2_000, help="appends per throughput run")
    args = parser.parse_args()
    with sqlite_db() as db:
        bench_backend("SQLite (WAL, synchronous=NORMAL)", db, args.appends, args.records)
    pg = os.environ.get("CURBSIDE_TEST_DATABASE_URL", "")
    if pg:
        with postgres_db(pg) as db:
            bench_backend("PostgreSQL", db, args.appends, args.records)
    else:
        print("\n(PostgreSQL skipped: CURBSIDE_TEST_DATABASE_URL is not set)")


if __name__ == "__main__":
    main()
