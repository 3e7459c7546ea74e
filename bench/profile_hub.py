"""Where the hub's CPU goes per operation: the same flows as bench/oidc_load.py, in process.

The hub's WSGI app (``hub.wsgi:app``, the one gunicorn serves, on PostgreSQL + Redis) is
called directly by the load generator's own flows, one request at a time, so the CPU of
each call can be charged to its endpoint and a profile covers the app and nothing else.
What this leaves out is the HTTP server's own work per request (parsing, the gthread
hand-offs, writing); ``--floor`` measures that as gunicorn serving a constant WSGI app under
the load of bench/oidc_load.py (the same gunicorn settings, pinned to core 0).

    python bench/profile_hub.py --scenario sign_in --ops 300           # CPU per endpoint
    python bench/profile_hub.py --scenario sign_in --ops 300 --profile  # + top functions
    python bench/profile_hub.py --floor                                 # gunicorn alone

The CPU per endpoint is measured without the profiler (``time.thread_time`` around each
call, median of ``--repeats`` passes); the profile (cProfile on the thread's CPU clock,
whose per-call overhead inflates small functions) is shown as each function's share of the
profiled app time, converted to ms per operation against the unprofiled figure.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import io
import json
import os
import pstats
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import oidc_load  # noqa: E402

HERE = Path(__file__).resolve().parent


def constant_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The cheapest WSGI app: what gunicorn costs per request with no app work."""
    environ["wsgi.input"].read()
    if environ["PATH_INFO"] == "/jwks":  # the load generator's first request
        body = b'{"keys":[{"kty":"oct","k":"c2VjcmV0LWJlbmNo"}]}'
    else:
        body = b'{"access_token":"x","token_type":"Bearer","expires_in":600}'
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]


class WsgiConn:
    """``oidc_load.Conn``'s interface, answered by calling the WSGI app in this process.

    ``cpu`` collects the thread CPU of every app call per endpoint ("POST /token"), and the
    profiler, when given, runs only inside the app call.
    """

    def __init__(self, app: Any, host: str, profiler: cProfile.Profile | None = None) -> None:
        self.app, self.host, self.profiler = app, host, profiler
        self.cookies: dict[str, str] = {}
        self.cpu: dict[str, list[float]] = collections.defaultdict(list)

    def req(self, method: str, path: str, body: dict[str, str] | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        path_only, _, query = path.partition("?")
        data = urllib.parse.urlencode(body).encode() if body is not None else b""
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": path_only,
            "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": self.host,
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000",
            "HTTP_HOST": f"127.0.0.1:{self.host}", "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(data), "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(data)) if body is not None else "",
        }
        if body is not None:
            environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
        for k, v in (headers or {}).items():
            environ["HTTP_" + k.upper().replace("-", "_")] = v
        if self.cookies:
            environ["HTTP_COOKIE"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        answer: dict[str, Any] = {}

        def start_response(status: str, hdrs: list[tuple[str, str]], exc_info: Any = None) -> None:
            answer["status"], answer["headers"] = status, hdrs

        t0 = time.thread_time()
        if self.profiler:
            self.profiler.enable()
        result = self.app(environ, start_response)
        try:
            payload = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        if self.profiler:
            self.profiler.disable()
        self.cpu[f"{method} {path_only}"].append(time.thread_time() - t0)
        hdrs = answer["headers"]
        for k, v in hdrs:
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                self.cookies[name] = rest.split(";")[0]
        return int(answer["status"].split()[0]), {k.lower(): v for k, v in hdrs}, payload


def _operation(scenario: str, conn: WsgiConn, creds: dict[str, Any], jwks: Any, issuer: str,
               state: dict[str, Any]) -> None:
    if scenario == "client_credentials":
        st, _, _ = conn.req("POST", "/token", {"grant_type": "client_credentials"},
                            {"Authorization": oidc_load._basic(creds)})
        assert st == 200, st
    elif scenario == "refresh":
        st, _, body = conn.req("POST", "/token",
                               {"grant_type": "refresh_token", "refresh_token": state["rt"]},
                               {"Authorization": oidc_load._basic(creds)})
        assert st == 200, (st, body[:200])
        state["rt"] = json.loads(body)["refresh_token"]
    else:
        oidc_load.sign_in(conn, creds, jwks, issuer)


def in_process(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="curbside-profile-"))
    port = 20000 + secrets.randbelow(1000)  # only names the issuer: nothing listens
    setup = argparse.Namespace(backend="pg-redis", argon2_time=1, argon2_memory=8,
                               pg_url=args.pg_url, redis_url=args.redis_url)
    env = oidc_load._env(setup, tmp, port)
    oidc_load._ensure_pg_db(args.pg_url)
    oidc_load._reset_pg(args.pg_url)
    creds = oidc_load._setup(env)
    for k in [k for k in os.environ if k.startswith("CURBSIDE_")]:
        del os.environ[k]
    os.environ.update({k: v for k, v in env.items() if k.startswith("CURBSIDE_")})
    from joserfc.jwk import KeySet

    import hub.wsgi  # the app gunicorn serves, with its start-up checks and collector tuning

    app = hub.wsgi.app
    issuer = f"http://127.0.0.1:{port}"
    conn = WsgiConn(app, str(port))
    jwks = KeySet.import_key_set(json.loads(conn.req("GET", "/jwks")[2]))
    state: dict[str, Any] = {}
    if args.scenario == "refresh":
        state["rt"] = oidc_load.sign_in(conn, creds, jwks, issuer,
                                        scope="openid offline_access")["refresh_token"]
    for _ in range(min(50, args.ops)):  # warm-up: caches, pools, first-call imports
        _operation(args.scenario, conn, creds, jwks, issuer, state)

    passes: list[dict[str, float]] = []
    for _ in range(args.repeats):
        conn.cpu.clear()
        for _ in range(args.ops):
            _operation(args.scenario, conn, creds, jwks, issuer, state)
        passes.append({ep: sum(v) / args.ops * 1000 for ep, v in conn.cpu.items()})
    per_op = {ep: statistics.median(p[ep] for p in passes) for ep in passes[0]}
    total = statistics.median(sum(p.values()) for p in passes)
    print(f"hub in process (PostgreSQL + Redis), {args.scenario}: {args.ops} operations x "
          f"{args.repeats} passes; app CPU per operation, median of passes")
    for ep, ms in per_op.items():
        print(f"  {ep:<32}{ms:8.3f} ms")
    print(f"  {'total':<32}{total:8.3f} ms   "
          f"(passes {min(sum(p.values()) for p in passes):.3f}-"
          f"{max(sum(p.values()) for p in passes):.3f})")

    if args.profile:
        # CPU time, not wall time: a blocking socket read waits for Redis or PostgreSQL,
        # which is not the hub's CPU.
        profiler = cProfile.Profile(time.thread_time)
        conn.profiler = profiler
        for _ in range(args.ops):
            _operation(args.scenario, conn, creds, jwks, issuer, state)
        conn.profiler = None
        stats = pstats.Stats(profiler)
        profiled_total = sum(tt for (_, _, tt, _, _) in stats.stats.values())  # type: ignore[attr-defined]
        scale = total / (profiled_total * 1000 / args.ops)
        print(f"\nprofile: {profiled_total * 1000 / args.ops:.3f} ms/op under cProfile; "
              f"below, each function's share converted to unprofiled ms/op (x{scale:.2f})")
        rows = []
        for (file, line, func), (_cc, nc, tt, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
            rows.append((ct, tt, nc, f"{_short(file)}:{line}({func})"))
        print(f"\n  cumulative (inclusive) ms/op, top {args.top}:")
        print(f"  {'ms/op':>7} {'self':>7} {'calls/op':>9}  function")
        for ct, tt, nc, name in sorted(rows, reverse=True)[:args.top]:
            print(f"  {ct * 1000 / args.ops * scale:7.3f} {tt * 1000 / args.ops * scale:7.3f} "
                  f"{nc / args.ops:9.1f}  {name}")
        print(f"\n  self (exclusive) ms/op, top {args.top}:")
        for ct, tt, nc, name in sorted(rows, key=lambda r: r[1], reverse=True)[:args.top]:
            print(f"  {ct * 1000 / args.ops * scale:7.3f} {tt * 1000 / args.ops * scale:7.3f} "
                  f"{nc / args.ops:9.1f}  {name}")
        if args.dump:
            profiler.dump_stats(args.dump)
            print(f"\nprofile written to {args.dump} (python -m pstats {args.dump})")


def _short(file: str) -> str:
    for marker in ("site-packages/", "/work/", "lib/python3"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def floor(args: argparse.Namespace) -> None:
    port = 21000 + secrets.randbelow(1000)
    cmd = ["taskset", "-c", "0", sys.executable, "-m", "gunicorn", "profile_hub:constant_app",
           "-b", f"127.0.0.1:{port}", "-w", "1", "-k", "gthread", "--threads", "8",
           "--keep-alive", "30", "--log-level", "warning", "--no-control-socket"]
    server = subprocess.Popen(cmd, cwd=HERE)
    try:
        oidc_load._wait(port)
        creds = {"client_id": "x", "client_secret": "y"}
        oidc_load.measure("client_credentials", port, creds, seconds=1.5, procs=2, threads=8,
                          server_pid=server.pid)
        cpu = [oidc_load.measure("client_credentials", port, creds, seconds=args.seconds,
                                 procs=2, threads=8, server_pid=server.pid)[3]
               for _ in range(args.repeats)]
        print(f"gunicorn (1 x gthread, 8 threads, core 0) serving a constant WSGI app, "
              f"POST /token with Basic auth: server CPU {statistics.median(cpu):.3f} ms/request "
              f"(median of {args.repeats}; {min(cpu):.3f}-{max(cpu):.3f})")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="sign_in",
                    choices=["client_credentials", "refresh", "sign_in"])
    ap.add_argument("--ops", type=int, default=300, help="operations per pass")
    ap.add_argument("--repeats", type=int, default=5, help="passes (or --floor rounds)")
    ap.add_argument("--profile", action="store_true", help="then one profiled pass")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--dump", help="write the cProfile stats to this file")
    ap.add_argument("--floor", action="store_true",
                    help="measure gunicorn alone (constant app) under the load generator")
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--pg-url",
                    default="postgresql+psycopg://postgres@127.0.0.1:5432/curbside_bench_profile")
    # Not the load scripts' database 15: a profile may run while they do.
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = ap.parse_args()
    if args.floor:
        floor(args)
    else:
        in_process(args)


if __name__ == "__main__":
    main()
