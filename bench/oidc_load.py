"""Load generator for the OpenID Provider under gunicorn pinned to one core.

Prints requests/s and p50/p99 latency for discovery, JWKS, client_credentials, refresh and
full sign-ins (authorize -> login form -> consent -> code -> token -> ID-token check ->
userinfo). The load runs in separate processes on the other core(s).

    python bench/oidc_load.py                      # SQLite + SQL store
    python bench/oidc_load.py --backend pg-redis   # PostgreSQL + Redis (local services)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import multiprocessing as mp
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench password 123"
HIDDEN = re.compile(r'name="pending" value="([^"]+)"')


def _env(args: argparse.Namespace, tmp: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURBSIDE_")}
    env.update(
        {
            "CURBSIDE_ISSUER": f"http://127.0.0.1:{port}",
            "CURBSIDE_INSECURE_TRANSPORT": "1",
            "CURBSIDE_INSTANCE_DIR": str(tmp),
            "CURBSIDE_LOG_LEVEL": "WARNING",
            # "Without the password hash": the cheapest argon2id, so the figure shows our overhead.
            "CURBSIDE_ARGON2_TIME_COST": str(args.argon2_time),
            "CURBSIDE_ARGON2_MEMORY_COST": str(args.argon2_memory),
            "CURBSIDE_LOGIN_MAX_PER_ACCOUNT": "100000000",
            "CURBSIDE_LOGIN_MAX_PER_ADDRESS": "100000000",
            "CURBSIDE_LOGIN_MAX_PER_ACCOUNT_ADDRESS": "100000000",
            "CURBSIDE_LOGIN_MAX_PER_DEVICE": "100000000",
        }
    )
    if args.backend == "pg-redis":
        env["CURBSIDE_DATABASE_URL"] = args.pg_url
        env["CURBSIDE_STORE_URL"] = args.redis_url
    else:
        env["CURBSIDE_DATABASE_URL"] = f"sqlite:///{tmp}/bench.db"
    return env


def _reset_pg(url: str) -> None:
    import sqlalchemy as sa

    eng = sa.create_engine(url)
    with eng.begin() as c:
        c.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public"))
    eng.dispose()


def _setup(env: dict[str, str]) -> dict[str, Any]:
    hub = [sys.executable, "-m", "hub.cli"]
    subprocess.run([*hub, "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run(
        [
            *hub,
            "doctor",
            "create",
            "--email",
            "bench@example.org",
            "--given-name",
            "Bench",
            "--password-stdin",
        ],
        env=env,
        input=PASSWORD + "\n",
        text=True,
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        [
            *hub,
            "client",
            "create",
            "--name",
            "Bench",
            "--redirect-uri",
            "https://bench.example/cb",
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
            "--grant-type",
            "client_credentials",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


class Conn:
    """One keep-alive HTTP/1.1 connection with a tiny cookie jar."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def req(
        self,
        method: str,
        path: str,
        body: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body)
            h["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            try:
                self.c.request(method, path, body=data, headers=h)
                r = self.c.getresponse()
                payload = r.read()
                break
            except (http.client.HTTPException, OSError):
                self.c.close()
                self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt == 2:
                    raise
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                self.cookies[name] = rest.split(";")[0]
        if r.getheader("Connection", "").lower() == "close":
            self.c.close()
            self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        return r.status, {k.lower(): v for k, v in r.getheaders()}, payload


def _basic(creds: dict[str, Any]) -> str:
    raw = f"{creds['client_id']}:{creds['client_secret']}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def sign_in(
    conn: Conn,
    creds: dict[str, Any],
    jwks: Any,
    issuer: str,
    *,
    scope: str = "openid profile email",
    consent: bool = True,
) -> dict[str, Any]:
    from joserfc import jwt

    conn.cookies.clear()
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    nonce, state = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    q = urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": creds["client_id"],
            "redirect_uri": "https://bench.example/cb",
            "scope": scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **({"prompt": "consent"} if consent else {}),
        }
    )
    st, _, page = conn.req("GET", f"/authorize?{q}")
    pending = HIDDEN.search(page.decode()).group(1)  # type: ignore[union-attr]
    st, h, page = conn.req(
        "POST", "/login", {"pending": pending, "email": "bench@example.org", "password": PASSWORD}
    )
    if st == 200:  # consent page
        pending = HIDDEN.search(page.decode()).group(1)  # type: ignore[union-attr]
        st, h, page = conn.req("POST", "/consent", {"pending": pending, "decision": "allow"})
    assert st == 302, (st, page[:300])
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(h["location"]).query))
    assert params["state"] == state and params["iss"] == issuer
    st, _, body = conn.req(
        "POST",
        "/token",
        {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": "https://bench.example/cb",
            "code_verifier": verifier,
        },
        {"Authorization": _basic(creds)},
    )
    tok = json.loads(body)
    claims = jwt.decode(tok["id_token"], jwks, algorithms=["RS256"]).claims
    assert (
        claims["nonce"] == nonce and claims["aud"] == creds["client_id"] and claims["iss"] == issuer
    )
    st, _, ui = conn.req(
        "GET", "/userinfo", headers={"Authorization": f"Bearer {tok['access_token']}"}
    )
    assert st == 200 and json.loads(ui)["sub"] == claims["sub"]
    return tok


# Set in each load process by _init_load: every process reaches it once its connections are
# set up, and so does measure(), which starts counting the server's CPU there.
_LOADED: Any = None


def _worker(args: tuple[str, int, dict[str, Any], float, int, str]) -> list[float]:
    import threading

    scenario, port, creds, seconds, threads, server_kind = args
    from joserfc.jwk import KeySet

    # The browser part of a sign-in is each provider's own: ours, or the reference's
    # (bench/reference_load.py); everything after the code is the same client.
    flow = sign_in
    if server_kind == "reference":
        from reference_load import sign_in as flow

    issuer = f"http://127.0.0.1:{port}"
    lat: list[float] = []
    lock = threading.Lock()
    ready = threading.Barrier(threads + 1)  # this process's connections are set up
    go = threading.Event()
    deadline = [0.0]
    failures: list[BaseException] = []

    def run() -> None:
        try:
            load()
        except Exception as e:  # a dead connection would quietly lower the load
            with lock:
                failures.append(e)
            ready.abort()
            raise

    def load() -> None:
        conn = Conn(port)
        jwks = KeySet.import_key_set(json.loads(conn.req("GET", "/jwks")[2]))
        rt = None
        if scenario == "refresh":
            # Outside the measured span: the sign-ins that give each connection its token.
            rt = flow(conn, creds, jwks, issuer, scope="openid offline_access")["refresh_token"]
        ready.wait()
        go.wait()
        mine: list[float] = []
        while time.perf_counter() < deadline[0]:
            t0 = time.perf_counter()
            if scenario == "discovery":
                st, _, _ = conn.req("GET", "/.well-known/openid-configuration")
            elif scenario == "jwks":
                st, _, _ = conn.req("GET", "/jwks")
            elif scenario == "client_credentials":
                st, _, _ = conn.req(
                    "POST",
                    "/token",
                    {"grant_type": "client_credentials"},
                    {"Authorization": _basic(creds)},
                )
            elif scenario == "refresh":
                st, _, body = conn.req(
                    "POST",
                    "/token",
                    {"grant_type": "refresh_token", "refresh_token": rt},
                    {"Authorization": _basic(creds)},
                )
                new = json.loads(body)["refresh_token"]
                assert new != rt  # rotated on use
                rt = new
            else:
                flow(conn, creds, jwks, issuer)
                st = 200
            assert st == 200, st
            mine.append(time.perf_counter() - t0)
        with lock:
            lat.extend(mine)

    ts = [threading.Thread(target=run) for _ in range(threads)]
    for t in ts:
        t.start()
    try:
        ready.wait()
        _LOADED.wait(timeout=300)
    except threading.BrokenBarrierError:
        _LOADED.abort()  # measure() stops waiting too
    deadline[0] = time.perf_counter() + seconds
    go.set()
    for t in ts:
        t.join()
    if failures:
        raise RuntimeError(f"{len(failures)} of {threads} connections failed: {failures[0]!r}")
    return lat


def _rss_mib(root_pid: int) -> float:
    """Resident memory of the gunicorn master and its workers, from /proc."""
    total = 0
    for pid in [root_pid, *_children(root_pid)]:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _cpu_seconds(root_pid: int) -> float:
    """User+system CPU of the gunicorn master and its workers, from /proc."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in [root_pid, *_children(root_pid)]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def measure(scenario: str, port: int, creds: dict[str, Any], *, seconds: float, procs: int,
            threads: int, server_pid: int, server_kind: str = "hub"
            ) -> tuple[float, float, float, float]:
    ctx = mp.get_context("spawn")
    loaded = ctx.Barrier(procs + 1)
    with ctx.Pool(procs, initializer=_init_load, initargs=(loaded,)) as pool:
        pending = pool.map_async(_worker,
                                 [(scenario, port, creds, seconds, threads, server_kind)] * procs)
        # The server's CPU is counted from the moment every connection is set up (process
        # start-up, JWKS, the refresh scenario's sign-ins are not the operation measured).
        try:
            loaded.wait(timeout=300)
        except threading.BrokenBarrierError:
            pending.get()  # raises the load process's error
            raise
        cpu0 = _cpu_seconds(server_pid)
        parts = pending.get()
        cpu = _cpu_seconds(server_pid) - cpu0
    lat = sorted(x for p in parts for x in p)
    n = len(lat)
    # Server CPU per operation: what one core sustains when the load generator and the
    # database (sharing the other core) keep up.
    cpu_ms = cpu / n * 1000 if n else float("nan")
    return n / seconds, lat[n // 2] * 1000, lat[min(n - 1, int(n * 0.99))] * 1000, cpu_ms


def _init_load(loaded: Any) -> None:
    global _LOADED
    _LOADED = loaded
    cores = os.sched_getaffinity(0)
    if len(cores) > 1:
        os.sched_setaffinity(0, cores - {0})


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--backend", choices=["sqlite", "pg-redis"], default="sqlite")
    ap.add_argument(
        "--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/curbside_bench"
    )
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--workers", type=int, default=3, help="gunicorn workers (all on core 0)")
    ap.add_argument("--worker-class", default="gthread")
    ap.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    ap.add_argument("--procs", type=int, default=2, help="load processes")
    ap.add_argument("--conc", type=int, default=8, help="connections per load process")
    ap.add_argument("--argon2-time", type=int, default=1)
    ap.add_argument("--argon2-memory", type=int, default=8)
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="curbside-bench-"))
    port = 18000 + secrets.randbelow(1000)
    env = _env(args, tmp, port)
    if args.backend == "pg-redis":
        _ensure_pg_db(args.pg_url)
        # The Redis is shared: never flushed. The hub's keys there are random tokens with
        # lifetimes, and the load's throttle limits are set out of reach above.
        _reset_pg(args.pg_url)
    creds = _setup(env)
    cmd = [
        "taskset",
        "-c",
        "0",
        sys.executable,
        "-m",
        "gunicorn",
        "hub.wsgi:app",
        "-b",
        f"127.0.0.1:{port}",
        "-w",
        str(args.workers),
        "-k",
        args.worker_class,
        "--threads",
        str(args.threads),
        "--keep-alive",
        "30",
        "--log-level",
        "warning",
        "--no-control-socket",
    ]
    server = subprocess.Popen(cmd, env=env, cwd=ROOT)
    try:
        _wait(port)
        print(
            f"hub under gunicorn ({args.workers} x {args.worker_class}, {args.threads} threads) pinned to "
            f"core 0; backend {args.backend}; load {args.procs} procs x {args.conc} conns; "
            f"argon2id t={args.argon2_time} m={args.argon2_memory}KiB"
        )
        print(f"{'scenario':<20}{'per second':>12}{'p50 ms':>10}{'p99 ms':>10}"
              f"{'server CPU ms/op':>18}{'=> per core/s':>15}{'server RSS MiB':>16}")
        for scenario in args.only or [
            "discovery",
            "jwks",
            "client_credentials",
            "refresh",
            "sign_in",
        ]:
            rate, p50, p99, cpu_ms = measure(scenario, port, creds, seconds=args.seconds, procs=args.procs,
                                             threads=args.conc, server_pid=server.pid)
            print(f"{scenario:<20}{rate:>12.0f}{p50:>10.1f}{p99:>10.1f}{cpu_ms:>18.2f}"
                  f"{1000 / cpu_ms:>15.0f}{_rss_mib(server.pid):>16.0f}", flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


def _ensure_pg_db(url: str) -> None:
    import sqlalchemy as sa

    base, _, name = url.rpartition("/")
    eng = sa.create_engine(base + "/postgres", isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        if not c.execute(
            sa.text("SELECT 1 FROM pg_database WHERE datname=:n"), {"n": name}
        ).scalar():
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    eng.dispose()


def _wait(port: int) -> None:
    for _ in range(200):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/.well-known/openid-configuration")
            if c.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the hub did not start")


if __name__ == "__main__":
    main()
