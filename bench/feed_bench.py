"""Feed figures: the merged feed of a doctor with 10 linked networks served from the relay's
cache (target p99 < 50 ms), and relay throughput in items/s against 10 live upstreams.

    python bench/feed_bench.py                       # SQLite + SQL store
    python bench/feed_bench.py --doctors 40 --requests 2000

With CURBSIDE_TEST_DATABASE_URL and CURBSIDE_TEST_REDIS_URL set it also runs on PostgreSQL +
Redis (private schema, dropped afterwards). The upstreams are hub/demo/community.py apps on
real sockets (threaded werkzeug servers in this process, so they share the CPU with the
relay: the throughput figure is a floor). Feed requests go through Flask's test client with
a real SSO session cookie (no socket), timing the whole WSGI request.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from werkzeug.serving import make_server

from connectors.base import LinkCredentials
from hub import create_app
from hub.demo.community import Post, connector_config, create_community_app
from hub.links import links_for
from hub.persistence.db import Base, Database
from hub.persistence.models.links import AccountLink, RelayState
from hub.persistence.schema import upgrade
from hub.settings import Settings
from hub.worker import queue_for

KINDS = ("oidc", "oauth2-json", "activitystreams")
NETWORKS = 10
POSTS = 50


@contextmanager
def backend(name: str) -> Iterator[tuple[str, str]]:
    if name == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db", "sql"
        return
    base = os.environ["CURBSIDE_TEST_DATABASE_URL"]
    schema = "b_" + uuid.uuid4().hex[:10]
    admin = sa.create_engine(base)
    with admin.begin() as c:
        c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}?options=-csearch_path%3D{schema}", os.environ["CURBSIDE_TEST_REDIS_URL"]
    finally:
        with admin.begin() as c:
            c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def start_networks(hub: Any, members: list[str]) -> list[tuple[str, Any]]:
    out = []
    for i in range(NETWORKS):
        server = make_server("127.0.0.1", 0, lambda e, s: None, threaded=True)
        base = f"http://127.0.0.1:{server.server_port}"
        app = create_community_app(name=f"net{i}", base_url=base, client_id="curbside",
                                   client_secret="s", redirect_uris=["http://x/cb"],
                                   members={m: f"Dr. {m}" for m in members})
        state = app.extensions["community"]
        now = datetime.now(UTC)
        state.posts = [Post(f"{m}-{i}-{n}", m, f"Post {n} on net{i} <b>bold</b>", "Body " * 20,
                            (now - timedelta(minutes=n * 7 + i)).isoformat())
                       for m in members for n in range(POSTS)]
        server.app = app
        threading.Thread(target=server.serve_forever, daemon=True).start()
        kind = KINDS[i % len(KINDS)]
        cfg = connector_config(base, kind=kind, client_id="curbside", client_secret="s")
        links_for(hub).networks.add(f"net{i}", kind, cfg, poll_interval=60,
                                    rate_per_minute=6000)
        out.append((f"net{i}", state))
    return out


def seed_links(hub: Any, doctor_id: str, member: str, networks: list[tuple[str, Any]]) -> None:
    """Links as the callback would leave them (skipping the browser dance)."""
    links = links_for(hub)
    for name, state in networks:
        token = secrets.token_urlsafe(16)
        state.access[token] = member
        with hub.db.session() as s:
            row = AccountLink(doctor_id=doctor_id, network=name, state="active",
                              active_key=f"{name}|x|{member}", issuer="x", subject=member,
                              proves_control=True, linked_at=datetime.now(UTC))
            s.add(row)
            s.flush()
            s.add(RelayState(link_id=row.id, next_due=datetime.now(UTC)))
            link_id = row.id
        links.vault.save(link_id, LinkCredentials(access_token=token, refresh_token="r"))


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def run(name: str, doctors: int, requests_n: int) -> None:
    with backend(name) as (db_url, store_url):
        tmp = tempfile.mkdtemp()
        settings = Settings.from_env(
            {}, issuer="http://127.0.0.1:1", insecure_transport=True, database_url=db_url,
            outbound_allow_local=True,  # the bench's feed servers run on this machine
            store_url=store_url, instance_dir=tmp, argon2_time_cost=1, argon2_memory_cost=1024)
        db = Database(db_url)
        upgrade(db)
        Base.metadata.create_all(db.engine, checkfirst=True)
        db.engine.dispose()
        app = create_app(settings, store_prefix=f"b{secrets.token_hex(3)}:")
        hub = app.extensions["curbside"]
        queue_for(hub, immediate=True)
        members = [f"m{d}" for d in range(doctors)]
        networks = start_networks(hub, members)
        accounts = [hub.accounts.create(email=f"{m}@bench.test", password="bench-password-1",
                                        given_name="B", family_name=m) for m in members]
        for account, member in zip(accounts, members, strict=True):
            seed_links(hub, account.id, member, networks)
        activitystreams_fix(hub)

        relay = links_for(hub).relay
        start = time.perf_counter()
        results = relay.run_due(max_workers=16, budget=600)
        elapsed = time.perf_counter() - start
        stored = sum(r.stored for r in results)
        bad = [r.outcome for r in results if r.outcome not in ("ok", "not_modified")]
        print(f"[{name}] relay: {len(results)} links ({doctors} doctors x {NETWORKS} networks), "
              f"{stored} items in {elapsed:.2f} s = {stored / elapsed:,.0f} items/s, "
              f"{len(results) / elapsed:,.1f} pulls/s; failures: {len(bad)} {set(bad) or ''}")
        # A second round: everything answers 304 (ETag), the steady state of a quiet network.
        with hub.db.session() as s:
            s.execute(sa.update(RelayState).values(next_due=datetime.now(UTC)))
        start = time.perf_counter()
        again = relay.run_due(max_workers=16, budget=600)
        el2 = time.perf_counter() - start
        nm = sum(r.outcome == "not_modified" for r in again)
        print(f"[{name}] relay, nothing new: {len(again)} pulls in {el2:.2f} s = "
              f"{len(again) / el2:,.1f} pulls/s ({nm} answered 304)")

        cookie, _ = hub.sessions.create(accounts[0].id, ["pwd"])
        client = app.test_client()
        client.set_cookie(hub.sessions.cookie_name, cookie)
        for path in ("/api/feed?limit=30", "/feed"):
            for _ in range(20):  # warm up
                client.get(path)
            times = []
            for _ in range(requests_n):
                t0 = time.perf_counter()
                resp = client.get(path)
                times.append((time.perf_counter() - t0) * 1000)
                assert resp.status_code == 200
            if path.startswith("/api"):
                doc = resp.get_json(force=True)
                nets = {i["_curbside"]["network"] for i in doc["items"]}
                count = len(doc["items"])
            print(f"[{name}] GET {path}: {requests_n} requests, p50 {pct(times, 50):.1f} ms, "
                  f"p95 {pct(times, 95):.1f} ms, p99 {pct(times, 99):.1f} ms, "
                  f"max {max(times):.1f} ms, mean {statistics.mean(times):.1f} ms")
        print(f"[{name}] the doctor's cache: {NETWORKS * POSTS} items from {NETWORKS} networks; "
              f"first page {count} items from {len(nets)} networks")
        hub.db.engine.dispose()


def activitystreams_fix(hub: Any) -> None:
    """AS2 links need the collection URL the actor names (set at link time by complete_link);
    the bench seeds it the same way the connector would find it."""
    links = links_for(hub)
    with hub.db.session() as s:
        rows = s.execute(sa.select(AccountLink.id, AccountLink.network)).all()
    for link_id, network in rows:
        net = links.networks.get(network)
        if net is None or net.kind != "activitystreams":
            continue
        creds = links.vault.get(link_id)
        base = net.connector.config.actor_url.rsplit("/as/", 1)[0]  # type: ignore[attr-defined]
        from dataclasses import replace

        links.vault.save(link_id, replace(creds, endpoint=f"{base}/as/outbox"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--doctors", type=int, default=20)
    ap.add_argument("--requests", type=int, default=1000)
    args = ap.parse_args()
    run("sqlite", args.doctors, args.requests)
    if os.environ.get("CURBSIDE_TEST_DATABASE_URL") and os.environ.get("CURBSIDE_TEST_REDIS_URL"):
        run("postgres-redis", args.doctors, args.requests)


if __name__ == "__main__":
    main()
