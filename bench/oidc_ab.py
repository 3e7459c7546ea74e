"""Compare two checkouts of the hub on one core, in the same minutes.

This machine's speed drifts by a quarter or more from minute to minute, so figures taken
one after the other cannot tell a 10 % change from the drift. This script runs both trees
at once, as two gunicorn servers pinned to core 0 on one database, and alternates the load
between them in short rounds; it prints each round and the median ratio of B's server CPU
per operation to A's (below 1: B is cheaper).

    git worktree add /tmp/base HEAD~1
    python bench/oidc_ab.py --a /tmp/base --b . --scenario sign_in --rounds 8

Both trees must accept the same schema (B's migrations are applied; A must run on them).
``--a reference`` runs the reference provider of bench/reference_load.py (panva's
oidc-provider on node) as A instead, so the hub is compared with it in the same minutes;
``--reference-store memory redis`` runs it twice, on its in-memory adapter and on its Redis
adapter (a key prefix of the run's own, deleted afterwards), and every round loads all
three servers, so each ratio is taken in the same minutes:

    python bench/oidc_ab.py --a reference --reference-store memory redis --b . \
        --scenario client_credentials --rounds 10 --seconds 3
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import oidc_load  # noqa: E402  (the sibling script: same setup, load and CPU accounting)
import reference_load  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", required=True, help="checkout A (the baseline), or 'reference'")
    ap.add_argument("--b", required=True, help="checkout B (the change)")
    ap.add_argument("--scenario", default="sign_in",
                    choices=["discovery", "jwks", "client_credentials", "refresh", "sign_in"])
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=4, help="load per server per round")
    ap.add_argument("--threads", type=int, default=8, help="gunicorn threads per server")
    ap.add_argument("--a-args", default="", help="extra gunicorn arguments for A, e.g. "
                    "'--http-parser python' (both trees may be the same checkout)")
    ap.add_argument("--b-args", default="", help="extra gunicorn arguments for B")
    ap.add_argument("--pg-url",
                    default="postgresql+psycopg://postgres@127.0.0.1:5432/curbside_bench")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    ap.add_argument("--reference-store", nargs="+", choices=reference_load.STORES,
                    default=["memory"], help="with --a reference: the reference's store(s); "
                    "each one is its own A server, loaded in the same rounds")
    args = ap.parse_args()
    if args.b == "reference" and len(args.reference_store) > 1:
        ap.error("--b reference runs on one --reference-store only")
    setup = argparse.Namespace(backend="pg-redis", argon2_time=1, argon2_memory=8,
                               pg_url=args.pg_url, redis_url=args.redis_url)

    # A terminated run still stops its servers and deletes its Redis keys (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix="curbside-ab-"))
    port = 18000 + secrets.randbelow(500)
    env = oidc_load._env(setup, tmp, port)
    oidc_load._ensure_pg_db(args.pg_url)
    oidc_load._reset_pg(args.pg_url)
    creds = oidc_load._setup(env)
    # name -> (process, port, credentials, kind); several A servers when the reference
    # runs on more than one store.
    servers: dict[str, tuple[subprocess.Popen[bytes], int, dict[str, str], str]] = {}
    prefixes: list[str] = []
    a_names: list[str] = []
    try:
        for name, root, p, extra in (("A", args.a, port, args.a_args),
                                     ("B", args.b, port + 500, args.b_args)):
            if root == "reference":
                for i, store in enumerate(args.reference_store):
                    ref_creds = reference_load.new_client()
                    prefix = reference_load.new_prefix()
                    prefixes.append(prefix)
                    label = name if len(args.reference_store) == 1 else f"{name}:{store}"
                    servers[label] = (reference_load.start(p + i, ref_creds, store=store,
                                                           redis_url=args.redis_url,
                                                           redis_prefix=prefix),
                                      p + i, ref_creds, "reference")
                    if name == "A":
                        a_names.append(label)
                continue
            server_env = {**env, "CURBSIDE_ISSUER": f"http://127.0.0.1:{p}"}
            cmd = ["taskset", "-c", "0", sys.executable, "-m", "gunicorn", "hub.wsgi:app",
                   "-b", f"127.0.0.1:{p}", "-w", "1", "-k", "gthread", "--threads",
                   str(args.threads), "--keep-alive", "30", "--log-level", "warning",
                   "--no-control-socket", *extra.split()]
            servers[name] = (subprocess.Popen(cmd, env=server_env, cwd=Path(root).resolve()), p,
                             creds, "hub")
            if name == "A":
                a_names.append(name)
        b_name = "B"
        for server, p, server_creds, kind in servers.values():
            oidc_load._wait(p)
            oidc_load.measure(args.scenario, p, server_creds, seconds=1.5, procs=2, threads=8,
                              server_pid=server.pid, server_kind=kind)  # warm-up
        cpu: dict[str, list[float]] = {name: [] for name in servers}
        names = list(servers)
        for r in range(args.rounds):
            # Rotate the order so no server always runs first (or last) in a round.
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                server, p, server_creds, kind = servers[name]
                rate, _, _, ms = oidc_load.measure(args.scenario, p, server_creds,
                                                   seconds=args.seconds, procs=2, threads=8,
                                                   server_pid=server.pid, server_kind=kind)
                cpu[name].append(ms)
            print(f"round {r}: " + "   ".join(f"{n} {cpu[n][-1]:.3f} ms/op" for n in names)
                  + "   " + "   ".join(f"B/{a} {cpu[b_name][-1] / cpu[a][-1]:.3f}"
                                       for a in a_names), flush=True)
        for a in a_names:
            ratios = sorted(b / x for x, b in zip(cpu[a], cpu[b_name], strict=True))
            print(f"{args.scenario}: median {a} {statistics.median(cpu[a]):.3f} ms/op, "
                  f"B {statistics.median(cpu[b_name]):.3f} ms/op, "
                  f"median B/{a} {statistics.median(ratios):.3f} "
                  f"(range {ratios[0]:.3f}-{ratios[-1]:.3f}, "
                  f"quartiles {_quartiles(ratios)})")
    finally:
        for server, *_ in servers.values():
            server.send_signal(signal.SIGTERM)
        for server, *_ in servers.values():
            server.wait(timeout=30)
        for prefix in prefixes:
            reference_load.drop_keys(args.redis_url, prefix)
        shutil.rmtree(tmp, ignore_errors=True)


def _quartiles(values: list[float]) -> str:
    if len(values) < 4:
        return "n/a"
    q1, _, q3 = statistics.quantiles(values, n=4)
    return f"{q1:.3f}-{q3:.3f}"


if __name__ == "__main__":
    mp.freeze_support()
    main()
