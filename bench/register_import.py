"""Benchmark: import register files in their published layouts into the register mirror.

Generates, once, a GMC LRMP data file of N rows in the published 45-column layout, a GMC
daily delta of 1 % of them (same layout; a few doctors gain conditions, a few are
suspended), and an Autorisationsregisteret extract (yyyyMMddAutDK.csv, ISO-8859-15, five
``;`` fields) of N rows; then, on each backend, in a fresh process on a freshly migrated
schema (``hub db upgrade``): imports the full GMC file, applies the delta, imports the DK
extract and applies the next day's extract (0.04 % withdrawn). Prints time, rows/s and the
process's peak RSS after each step.

Backends: SQLite (a file in a temporary folder) and PostgreSQL when
CURBSIDE_TEST_DATABASE_URL is set (a private schema, created and dropped). Targets for the
1,000,000-row GMC import: under 2 minutes and under 300 MiB.

    python bench/register_import.py [--rows N] [--batch-size N] [--backend sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import os
import queue
import resource
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.verification.uk_gmc import LRMP_COLUMNS  # noqa: E402

SURNAMES = ["Smith", "Jones", "Patel", "O'Brien", "Nowak", "García López", "Williams", "Okafor"]
GIVEN = ["Anna", "James", "Siobhán", "Raj", "Zofia", "Chidi", "Gareth", "Mei"]
STATUSES = ["Registered with Licence"] * 7 + [
    "Provisionally registered with Licence",
    "Registered without a Licence",
    "Suspended",
]
DK_SURNAMES = ["Sørensen", "Nielsen", "Jørgensen", "Hansen", "Müller-Holm", "Ærø", "Pedersen", "Kristensen"]
DK_GIVEN = ["Søren", "Mette", "Lars", "Freja", "Ida", "Åse", "Jens Peter", "Mads"]
DK_CHARS = "0123456789BCDFGHJKLMNPQRSTVWXYZ"
DK_CODES = ["7170"] * 3 + ["5166", "5433", "5151"]


def gmc_row(i: int, *, status: str | None = None, conditions: str = "N") -> list[str]:
    values = {
        "GMC Ref No": str(1000000 + i),
        "Surname": SURNAMES[i % 8],
        "Given Name": GIVEN[(i // 8) % 8],
        "Gender": "W" if i % 2 else "M",
        "Qualification": "MB BS",
        "Year Of Qualification": "2001",
        "Place of Qualification": "University of London",
        "PR Date": "5082001",
        "FR Date": "6082002",
        "Specialist Register Date": "1012010" if i % 7 == 0 else "",
        "Registration Status": status or STATUSES[i % 10],
        "ARF Due Date": "1012027",
        "Specialty 1": "Cardiology" if i % 7 == 0 else "",
        "FTP Conditions Exist": "Y" if i % 97 == 0 else conditions,
        "FTP Undertakings Exist": "Y" if i % 101 == 0 else "N",
        "Other Names": "Louise" if i % 3 == 0 else "",
        "FTP Warnings Exist": "Y" if i % 89 == 0 else "N",
        "Place of Qualification Country": "United Kingdom",
        "Designated Body": "NHS England",
        "Doctor in Training": "N",
        "GMC Approved Trainer": "N",
    }
    return [values.get(c, "") for c in LRMP_COLUMNS]


def generate_gmc(path: Path, rows: int) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(LRMP_COLUMNS)
        for i in range(rows):
            w.writerow(gmc_row(i))


def generate_gmc_delta(path: Path, rows: int) -> None:
    """1 % of the register changed: every hundredth doctor, alternately gaining
    conditions and being suspended (the delta has the full file's layout)."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(LRMP_COLUMNS)
        for n, i in enumerate(range(0, rows, 100)):
            w.writerow(gmc_row(i, status="Suspended") if n % 2 else gmc_row(i, conditions="Y"))


def dk_id(i: int) -> str:
    out = []
    for _ in range(5):
        i, r = divmod(i, len(DK_CHARS))
        out.append(DK_CHARS[r])
    return "".join(reversed(out))


def generate_dk(path: Path, rows: int, *, skip_every: int = 0) -> None:
    with open(path, "w", encoding="iso-8859-15", newline="") as f:
        for i in range(rows):
            if skip_every and i % skip_every == 0:
                continue
            family, given = DK_SURNAMES[i % 8], DK_GIVEN[(i // 8) % 8]
            f.write(f"{dk_id(i)};0101701234;{family};{given};{DK_CODES[i % 6]}\n")


def generate(folder: Path, rows: int) -> dict[str, Path]:
    files = {
        "gmc_full": folder / "lrmp.csv",
        "gmc_delta": folder / "lrmp_delta.csv",
        "dk_full": folder / "20261201AutDK.csv",
        "dk_daily": folder / "20261202AutDK.csv",
    }
    generate_gmc(files["gmc_full"], rows)
    generate_gmc_delta(files["gmc_delta"], rows)
    generate_dk(files["dk_full"], rows)
    generate_dk(files["dk_daily"], rows, skip_every=2500)  # 0.04 % of authorisations end
    return files


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    """CPU time of this process (user + system): on a shared machine the wall clock
    measures the neighbours too; for SQLite this is the whole import's work."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _child(url: str, files: dict[str, str], batch_size: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        from hub.persistence.db import Database
        from hub.persistence.schema import upgrade
        from hub.verification import dk_sst, uk_gmc

        db = Database(url)
        upgrade(db)  # the real schema: every table and foreign key the import touches
        steps = [
            ("GMC full", uk_gmc.import_full, files["gmc_full"]),
            ("GMC delta", uk_gmc.apply_delta, files["gmc_delta"]),
            ("DK extract", dk_sst.import_full, files["dk_full"]),
            ("DK next day", dk_sst.apply_delta, files["dk_daily"]),
        ]
        for label, importer, path in steps:
            start, cpu = time.perf_counter(), _cpu_seconds()
            report = importer(db, path, batch_size=batch_size)
            elapsed, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
            out.put(("step", label, report.lines, report.rows_changed, len(report.became_inactive),
                     len(report.became_restricted), elapsed, cpu, _rss_mib()))
        db.engine.dispose()
        out.put(("done",))
    except BaseException:  # noqa: BLE001 - reported to the parent, which must not hang
        out.put(("error", traceback.format_exc()))


def run(label: str, url: str, files: dict[str, Path], batch_size: int) -> bool:
    ctx = mp.get_context("spawn")
    q: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    proc = ctx.Process(target=_child, args=(url, {k: str(v) for k, v in files.items()}, batch_size, q))
    proc.start()
    ok = True
    while True:
        try:
            msg = q.get(timeout=5)
        except queue.Empty:
            if proc.is_alive():
                continue
            print(f"{label:<11} the import process died (exit code {proc.exitcode})")
            ok = False
            break
        if msg[0] == "step":
            _, step, lines, changed, inactive, restricted, elapsed, cpu, rss = msg
            print(f"{label:<11} {step:<12} lines={lines:>9,} written={changed:>9,} inactive={inactive:>7,} "
                  f"restricted={restricted:>6,} time={elapsed:6.1f}s cpu={cpu:6.1f}s "
                  f"rate={lines / elapsed:>8,.0f} lines/s peak_rss={rss:.0f} MiB", flush=True)
        elif msg[0] == "error":
            print(f"{label:<11} failed:\n{msg[1]}")
            ok = False
            break
        else:
            break
    proc.join(timeout=30)
    return ok


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A private schema on the PostgreSQL server, dropped afterwards."""
    import sqlalchemy as sa

    schema = "bench_" + uuid.uuid4().hex[:10]
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        sep = "&" if "?" in url else "?"
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch-size", type=int, default=5000)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = ap.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        files = generate(Path(tmp), args.rows)
        size = files["gmc_full"].stat().st_size / 2**20
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"generated {args.rows:,} GMC rows ({size:.0f} MiB, {len(LRMP_COLUMNS)} columns), "
              f"{args.rows // 100:,} delta rows, {args.rows:,} DK rows in {time.perf_counter() - t:.1f}s")
        if args.backend in ("sqlite", "both"):
            ok &= run("sqlite", f"sqlite:///{tmp}/bench.db", files, args.batch_size)
        pg = os.environ.get("CURBSIDE_TEST_DATABASE_URL")
        if args.backend in ("postgresql", "both"):
            if not pg:
                print("postgresql  skipped: CURBSIDE_TEST_DATABASE_URL is not set")
            else:
                with postgres_schema(pg) as url:
                    ok &= run("postgresql", url, files, args.batch_size)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
