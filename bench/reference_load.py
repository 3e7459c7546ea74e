"""Reference figures: panva's oidc-provider (bench/reference) under the same load as the hub.

Same scenarios and method as bench/oidc_load.py: the server (node) is pinned to core 0, the
load runs in separate processes on the other core(s). By default the reference keeps
everything in memory (its development adapter, its best case); ``--reference-store redis``
puts it on the Redis adapter of bench/reference/redis_adapter.mjs (the design oidc-provider
documents as its example adapter) under a key prefix of the run's own, whose keys are
deleted afterwards. Its sign-in is the built-in devInteractions flow (login form, then
consent form), whose login accepts any password.

    python bench/reference_load.py --seconds 8
    python bench/reference_load.py --seconds 8 --reference-store redis
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

from oidc_load import Conn, _basic, _rss_mib, _wait, measure

REF = Path(__file__).resolve().parent / "reference"
ACTION = re.compile(r'<form[^>]*action="([^"]+)"')
REDIRECT = "https://bench.example/cb"


def _path(url: str) -> str:
    return urllib.parse.urlsplit(url)._replace(scheme="", netloc="").geturl()


def _follow(conn: Conn, method: str, url: str, body: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    """Request, then follow redirects within the provider; stop at a page or at the client."""
    st, h, page = conn.req(method, _path(url), body)
    while st in (302, 303) and not h["location"].startswith(REDIRECT):
        st, h, page = conn.req("GET", _path(h["location"]))
    return st, h, page


def sign_in(
    conn: Conn, creds: dict[str, Any], jwks: Any, issuer: str, *, scope: str = "openid profile email"
) -> dict[str, Any]:
    from joserfc import jwt

    conn.cookies.clear()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    nonce, state = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    q = urllib.parse.urlencode({
        "response_type": "code", "client_id": creds["client_id"], "redirect_uri": REDIRECT, "scope": scope,
        "state": state, "nonce": nonce, "code_challenge": challenge, "code_challenge_method": "S256",
        "prompt": "consent",
    })
    # authorize -> 303 -> login form
    st, h, page = _follow(conn, "GET", f"/authorize?{q}")
    assert st == 200 and b'name="prompt" value="login"' in page, (st, page[:300])
    # login POST -> 303 resume -> 303 -> consent form
    form = {"prompt": "login", "login": "bench@example.org", "password": "bench password 123"}
    st, h, page = _follow(conn, "POST", ACTION.search(page.decode()).group(1), form)
    assert st == 200 and b'name="prompt" value="consent"' in page, (st, page[:300])
    # consent POST -> 303 resume -> 303 to the client with the code
    st, h, page = _follow(conn, "POST", ACTION.search(page.decode()).group(1), {"prompt": "consent"})
    assert st in (302, 303), (st, page[:300])
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(h["location"]).query))
    assert params["state"] == state and params["iss"] == issuer, params
    st, _, body = conn.req(
        "POST", "/token",
        {"grant_type": "authorization_code", "code": params["code"], "redirect_uri": REDIRECT,
         "code_verifier": verifier},
        {"Authorization": _basic(creds)},
    )
    tok = json.loads(body)
    claims = jwt.decode(tok["id_token"], jwks, algorithms=["RS256"]).claims
    assert claims["nonce"] == nonce and claims["aud"] == creds["client_id"] and claims["iss"] == issuer
    st, _, ui = conn.req("GET", "/userinfo", headers={"Authorization": f"Bearer {tok['access_token']}"})
    assert st == 200 and json.loads(ui)["sub"] == claims["sub"], (st, ui[:300])
    return tok


STORES = ("memory", "redis")
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def start(port: int, creds: dict[str, Any], *, store: str = "memory",
          redis_url: str = DEFAULT_REDIS_URL, redis_prefix: str = "") -> subprocess.Popen[bytes]:
    """The reference server pinned to core 0 (installs its npm packages when they are missing).

    ``store="redis"`` needs ``redis_prefix``, a prefix no one else uses (see ``new_prefix``);
    ``drop_keys`` deletes its keys once the server has stopped.
    """
    if not (REF / "node_modules/ioredis").is_dir():
        cmd = ["npm", "ci"] if (REF / "package-lock.json").exists() else ["npm", "install"]
        subprocess.run([*cmd, "--no-audit", "--no-fund"], cwd=REF, check=True)
    if store not in STORES:
        raise SystemExit(f"reference store {store!r}: one of {', '.join(STORES)}")
    if store == "redis" and not redis_prefix:
        raise SystemExit("the reference's Redis store needs a key prefix of its own")
    env = {**os.environ, "NODE_ENV": "production", "BENCH_CLIENT_ID": creds["client_id"],
           "BENCH_CLIENT_SECRET": creds["client_secret"], "REFERENCE_STORE": store,
           "REFERENCE_REDIS_URL": redis_url, "REFERENCE_REDIS_PREFIX": redis_prefix}
    return subprocess.Popen(["taskset", "-c", "0", "node", "server.mjs", str(port)], cwd=REF, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def new_client() -> dict[str, Any]:
    return {"client_id": "bench", "client_secret": secrets.token_urlsafe(32)}


def new_prefix() -> str:
    """A Redis key prefix for one run: the Redis is shared, so the run never flushes it."""
    return f"bench-reference:{secrets.token_hex(6)}:"


def drop_keys(redis_url: str, prefix: str) -> int:
    """Delete the keys under ``prefix`` (SCAN + UNLINK: other users' keys are left alone)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    dropped = 0
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) == 1000:
                dropped += client.unlink(*batch)
                batch.clear()
        if batch:
            dropped += client.unlink(*batch)
    finally:
        client.close()
    return dropped


def stop(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--procs", type=int, default=2, help="load processes")
    ap.add_argument("--conc", type=int, default=8, help="connections per load process")
    ap.add_argument("--port", type=int, default=0, help="default: random")
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--reference-store", choices=STORES, default="memory",
                    help="memory (its development adapter) or redis (its example adapter's design)")
    ap.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    args = ap.parse_args()

    # A terminated run still stops its servers and deletes its Redis keys (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    port = args.port or 19000 + secrets.randbelow(1000)
    creds = new_client()
    prefix = new_prefix()
    server = start(port, creds, store=args.reference_store, redis_url=args.redis_url,
                   redis_prefix=prefix)
    try:
        _wait(port)
        version = json.loads((REF / "node_modules/oidc-provider/package.json").read_text())["version"]
        node = subprocess.run(["node", "--version"], capture_output=True, text=True,
                              check=True).stdout.strip()
        print(f"oidc-provider {version} on node {node} (NODE_ENV=production) pinned to core 0; "
              f"{args.reference_store} store; load {args.procs} procs x {args.conc} conns")
        print(f"{'scenario':<20}{'per second':>12}{'p50 ms':>10}{'p99 ms':>10}"
              f"{'server CPU ms/op':>18}{'=> per core/s':>15}{'server RSS MiB':>16}")
        for scenario in args.only or ["discovery", "jwks", "client_credentials", "refresh", "sign_in"]:
            rate, p50, p99, cpu_ms = measure(scenario, port, creds, seconds=args.seconds, procs=args.procs,
                                             threads=args.conc, server_pid=server.pid,
                                             server_kind="reference")
            print(f"{scenario:<20}{rate:>12.0f}{p50:>10.1f}{p99:>10.1f}{cpu_ms:>18.2f}"
                  f"{1000 / cpu_ms:>15.0f}{_rss_mib(server.pid):>16.0f}", flush=True)
    finally:
        stop(server)
        if args.reference_store == "redis":
            drop_keys(args.redis_url, prefix)


if __name__ == "__main__":
    main()
