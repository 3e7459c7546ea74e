"""Benchmark: import a generated 1,000,000-row GMC LRMP file into the register mirror.

Prints rows/s and the importing process's peak RSS for SQLite, and for PostgreSQL too when
CURBSIDE_TEST_DATABASE_URL is set (a private schema is created and dropped).
Targets: under 2 minutes and under 300 MiB per import.

    python bench/register_import.py [--rows N] [--batch-size N]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HEADER = (
    "GMC Ref No,Surname,Given Name,Other Names,Gender,Qualification,Year Of Qualification,"
    "Place of Qualification,PR Date,FR Date,Specialist Register Date,GP Register Date,"
    "Registration Status,Specialty\n"
)
SURNAMES = ["Smith", "Jones", "Patel", "O'Brien", "Nowak", "García López", "Williams", "Okafor"]
GIVEN = ["Anna", "James", "Siobhán", "Raj", "Zofia", "Chidi", "Gareth", "Mei"]
STATUSES = ["Registered with Licence"] * 8 + ["Registered without a Licence", "Suspended"]


def generate(path: Path, rows: int) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(HEADER)
        for i in range(rows):
            s, g = SURNAMES[i % 8], GIVEN[(i // 8) % 8]
            status = STATUSES[i % 10]
            f.write(
                f'{1000000 + i},"{s}",{g},,W,MB BS,2001,University of London,'
                f"5082001,6082002,,,{status},{'Cardiology' if i % 7 == 0 else ''}\n"
            )


def _child(url: str, path: str, batch_size: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    from hub.db import Base, Database
    from hub.models import registers as m
    from hub.verification import uk_gmc

    db = Database(url)
    tables = [
        t.__table__ for t in (m.RegisterRecord, m.RegisterImport, m.RegisterSnapshotKey, m.DoctorRegistration)
    ]
    Base.metadata.create_all(db.engine, tables=tables)
    bar = _bar()
    start = time.perf_counter()
    report = uk_gmc.import_full(db, path, batch_size=batch_size, progress=bar)
    elapsed = time.perf_counter() - start
    if bar is not None:
        bar.close()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.put((report.lines - 1, report.rows_changed, elapsed, peak_kib))


class _bar:  # noqa: N801 - a tiny progress printer; rich is used when installed
    def __new__(cls):  # type: ignore[no-untyped-def]
        try:
            from rich.progress import Progress
        except ImportError:
            return None
        self = super().__new__(cls)
        self.progress = Progress(transient=True)
        self.progress.start()
        self.task = self.progress.add_task("importing", total=None)
        return self

    def __call__(self, p) -> None:  # type: ignore[no-untyped-def]
        self.progress.update(self.task, completed=p.bytes_read, total=p.total_bytes)

    def close(self) -> None:
        self.progress.stop()


def run(label: str, url: str, path: str, batch_size: int) -> None:
    ctx = mp.get_context("spawn")
    q: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    proc = ctx.Process(target=_child, args=(url, path, batch_size, q))
    proc.start()
    rows, changed, elapsed, peak_kib = q.get()
    proc.join()
    print(
        f"{label:<11} rows={rows:,} written={changed:,} time={elapsed:6.1f}s "
        f"rate={rows / elapsed:,.0f} rows/s peak_rss={peak_kib / 1024:.0f} MiB"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch-size", type=int, default=5000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lrmp.csv"
        t = time.perf_counter()
        generate(path, args.rows)
        size = path.stat().st_size / 2**20
        print(f"generated {args.rows:,} rows ({size:.0f} MiB) in {time.perf_counter() - t:.1f}s")
        run("sqlite", f"sqlite:///{tmp}/bench.db", str(path), args.batch_size)
        pg = os.environ.get("CURBSIDE_TEST_DATABASE_URL")
        if pg:
            import sqlalchemy as sa

            schema = "bench_" + uuid.uuid4().hex[:10]
            admin = sa.create_engine(pg)
            with admin.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            try:
                sep = "&" if "?" in pg else "?"
                run(
                    "postgresql",
                    f"{pg}{sep}options=-csearch_path%3D{schema}",
                    str(path),
                    args.batch_size,
                )
            finally:
                with admin.begin() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()


if __name__ == "__main__":
    main()
