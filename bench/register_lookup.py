"""Benchmark: mirror lookups as a sign-in does them.

Loads a generated GMC mirror (default 200,000 entries, the published 45-column LRMP
layout) into SQLite (and PostgreSQL when
CURBSIDE_TEST_DATABASE_URL is set), then times random lookups: the raw mirror read and the
whole Verifier.check (mirror read + name matching + judgement). Prints p50/p99 in ms.
Target: p99 < 5 ms.

    python bench/register_lookup.py [--entries N] [--lookups N]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from register_import import GIVEN, SURNAMES, generate_gmc  # noqa: E402


def percentiles(samples: list[float]) -> str:
    samples.sort()
    p50 = statistics.median(samples) * 1000
    p99 = samples[int(len(samples) * 0.99) - 1] * 1000
    return f"p50={p50:.2f} ms p99={p99:.2f} ms"


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def bench(label: str, url: str, path: str, entries: int, lookups: int) -> None:
    from hub.persistence.db import Database
    from hub.persistence.schema import upgrade
    from hub.verification import mirror, uk_gmc
    from hub.verification.base import RegistrationClaim

    db = Database(url)
    upgrade(db)  # the real schema (the mirror's tables reference doctors)
    uk_gmc.import_full(db, path)
    verifier = uk_gmc.GmcVerifier(db)
    rng = random.Random(7)

    def pick() -> int:
        return rng.randrange(entries)

    def raw() -> None:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            mirror.lookup(conn, "uk-gmc", str(1000000 + pick()))

    def check() -> None:
        i = pick()
        verifier.check(
            RegistrationClaim("GB", str(1000000 + i), "physician", GIVEN[(i // 8) % 8], SURNAMES[i % 8])
        )

    timed(check, 200)  # warm up the pool and caches
    print(f"{label:<11} mirror.lookup  {percentiles(timed(raw, lookups))}")
    print(f"{label:<11} Verifier.check {percentiles(timed(check, lookups))}")
    db.engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=200_000)
    ap.add_argument("--lookups", type=int, default=5000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lrmp.csv"
        generate_gmc(path, args.entries)
        bench("sqlite", f"sqlite:///{tmp}/bench.db", str(path), args.entries, args.lookups)
        pg = os.environ.get("CURBSIDE_TEST_DATABASE_URL")
        if pg:
            import sqlalchemy as sa

            schema = "bench_" + uuid.uuid4().hex[:10]
            admin = sa.create_engine(pg)
            with admin.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            try:
                sep = "&" if "?" in pg else "?"
                url = f"{pg}{sep}options=-csearch_path%3D{schema}"
                bench("postgresql", url, str(path), args.entries, args.lookups)
            finally:
                with admin.begin() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()


if __name__ == "__main__":
    main()
