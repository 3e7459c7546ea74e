"""Operators see the hub: ``GET /metrics`` (Prometheus, summed over gunicorn workers, behind a
bearer token) and JSON logs with request ids that never carry a secret.

Most tests run ``hub serve`` with two workers on a real port, as production does."""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from hub.ops.metrics import Scrape
from hub.services import Hub
from hub.settings import Settings
from tests.flows.conftest import Browser, RelyingParty, RunningHub, callback_params

TOKEN = secrets.token_urlsafe(32)
PASSWORD = "correct horse battery"  # tests/flows/conftest.py's doctors' password


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parse(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(families: dict[str, Any], name: str, **labels: str) -> float:
    """The sample ``name`` with exactly these labels (0 when absent, as Prometheus reads it)."""
    family = families.get(re.sub(r"(_total|_count|_sum|_bucket)$", "", name))
    for s in family.samples if family else []:
        if s.name == name and s.labels == labels:
            return float(s.value)
    return 0.0


@dataclass
class Served:
    base: str
    log: Path
    multiproc_dir: Path
    hub: RunningHub
    client: dict[str, Any]
    metrics_port: int | None = None

    def scrape(self, base: str | None = None) -> dict[str, Any]:
        r = requests.get(f"{base or self.base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert r.status_code == 200, r.text[:300]
        assert r.headers["Content-Type"].startswith("text/plain; version=")
        return parse(r.text)

    def records(self) -> list[dict[str, Any]]:
        """Every line the server wrote, each a JSON object (json.loads fails on any other)."""
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]


def _serve(tmp: Path, *, workers: int, extra: dict[str, str]) -> Iterator[Served]:
    port = _free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CURBSIDE_", "PROMETHEUS_"))}
    env.update({"CURBSIDE_DATABASE_URL": f"sqlite:///{tmp}/hub.db", "CURBSIDE_INSTANCE_DIR": str(tmp),
                "CURBSIDE_ISSUER": issuer, "CURBSIDE_INSECURE_TRANSPORT": "1",
                "CURBSIDE_ARGON2_MEMORY_COST": "1024", "CURBSIDE_ARGON2_TIME_COST": "1",
                "CURBSIDE_LOG_FORMAT": "json", "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"), **extra})
    cli = [sys.executable, "-m", "hub.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    hub = Hub.build(Settings.from_env(env))
    running = RunningHub(issuer, None, hub)
    client = running.client(redirect_uris=["https://network.example/cb"])
    log = tmp / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen([*cli, "serve", "--port", str(port), "--workers", str(workers)], env=env,
                                  cwd=tmp, stdout=out, stderr=subprocess.STDOUT)
        try:
            for _ in range(600):
                try:
                    requests.get(f"{issuer}/jwks", timeout=10)
                    break
                except requests.ConnectionError:
                    assert server.poll() is None, log.read_text()[-3000:]
                    time.sleep(0.1)
            yield Served(issuer, log, tmp / "metrics", running, client)
        finally:
            server.terminate()
            server.wait(timeout=30)
            hub.db.engine.dispose()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from _serve(tmp_path_factory.mktemp("served"), workers=2,
                      extra={"CURBSIDE_METRICS_TOKEN": TOKEN, "CURBSIDE_TRUSTED_PROXIES": "1"})


def _sign_in(served: Served) -> tuple[Browser, RelyingParty, dict[str, str], dict[str, Any], str]:
    email = f"dr-{secrets.token_hex(4)}@example.org"
    served.hub.doctor(email=email)
    browser = Browser(served.hub)
    rp = RelyingParty(served.hub, served.client, scope="openid profile offline_access")
    url, _ = rp.authorization_url()
    params = callback_params(browser.through(browser.get(url), email))
    token = rp.exchange(params)
    return browser, rp, params, token, email


# --- GET /metrics -------------------------------------------------------------------------

def test_metrics_are_refused_without_the_token(served: Served) -> None:
    bare = requests.get(f"{served.base}/metrics", timeout=10)
    assert bare.status_code == 401
    assert bare.headers["WWW-Authenticate"].startswith("Bearer")
    assert "curbside_" not in bare.text
    wrong = requests.get(f"{served.base}/metrics", timeout=10,
                         headers={"Authorization": f"Bearer {secrets.token_urlsafe(32)}"})
    assert wrong.status_code == 401
    basic = requests.get(f"{served.base}/metrics", auth=("prometheus", TOKEN), timeout=10)
    assert basic.status_code == 401  # the token is a bearer token, not a password


def test_metrics_show_the_requests_and_database_gauges_with_the_token(served: Served) -> None:
    # Counters of events that have not happened yet (sign-ins, checks) appear with the first.
    families = served.scrape()
    for name in ("curbside_http_requests", "curbside_http_request_duration_seconds",
                 "curbside_logout_queue_depth",
                 "curbside_logout_queue_oldest_age_seconds", "curbside_feed_relay_lag_seconds",
                 "curbside_feed_relay_due_links", "curbside_audit_head_sequence",
                 "curbside_audit_head_timestamp_seconds", "curbside_collector_up"):
        assert name in families, sorted(families)
    for collector in ("logout_queue", "feed_relay", "audit_head"):
        assert value(families, "curbside_collector_up", collector=collector) == 1


def test_a_sign_in_and_token_exchange_move_the_counters(served: Served) -> None:
    client_id = served.client["client_id"]
    before = served.scrape()
    _, rp, _, token, _ = _sign_in(served)
    assert token["access_token"]
    after = served.scrape()

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("curbside_signins_total", client_id=client_id) == 1
    assert moved("curbside_tokens_issued_total", grant_type="authorization_code") == 1
    assert moved("curbside_http_requests_total", route="/token", method="POST", status="200") == 1
    assert moved("curbside_http_request_duration_seconds_count", route="/token", method="POST") == 1
    assert moved("curbside_http_request_duration_seconds_bucket", route="/token", method="POST", le="+Inf") == 1
    assert moved("curbside_http_requests_total", route="/authorize", method="GET", status="200") == 1
    assert moved("curbside_http_requests_total", route="/login", method="POST", status="200") == 1
    assert moved("curbside_http_requests_total", route="/consent", method="POST", status="302") == 1

    refreshed = rp.session.refresh_token(rp.meta["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    assert value(served.scrape(), "curbside_tokens_issued_total", grant_type="refresh_token") \
        == value(after, "curbside_tokens_issued_total", grant_type="refresh_token") + 1


def test_requests_are_labelled_by_route_template_not_path(served: Served) -> None:
    raw = f"client-{secrets.token_hex(6)}"
    requests.get(f"{served.base}/operator/clients/{raw}", allow_redirects=False, timeout=10)
    requests.get(f"{served.base}/no/such/{raw}", timeout=10)
    r = requests.get(f"{served.base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert raw not in r.text
    families = parse(r.text)
    routes = {s.labels["route"] for s in families["curbside_http_requests"].samples}
    assert "/operator/clients/<client_id>" in routes
    assert value(families, "curbside_http_requests_total", route="<unmatched>", method="GET", status="404") >= 1


def test_counts_of_both_workers_are_summed(served: Served) -> None:
    before = value(served.scrape(), "curbside_http_requests_total", route="/jwks", method="GET", status="200")
    marker = f"sum-{secrets.token_hex(6)}"
    sent = 0
    pids: set[int] = set()
    while sent < 400 and (sent < 20 or len(pids) < 2):
        # A new connection each time, so the kernel hands requests to either worker.
        r = requests.get(f"{served.base}/jwks", headers={"X-Request-ID": f"{marker}-{sent:04d}",
                                                         "Connection": "close"}, timeout=10)
        assert r.status_code == 200
        sent += 1
        if sent % 10 == 0:
            pids = {rec["pid"] for rec in served.records()
                    if rec.get("logger") == "hub.access" and rec.get("request_id", "").startswith(marker)}
    assert len(pids) == 2, "one worker answered every request"
    after = value(served.scrape(), "curbside_http_requests_total", route="/jwks", method="GET", status="200")
    assert after - before == sent
    files = {p.name for p in served.multiproc_dir.iterdir()}
    assert {f"counter_{pid}.db" for pid in pids} <= files


def test_a_dead_worker_is_marked_and_its_counts_stay(served: Served) -> None:
    """gunicorn's child_exit hook runs prometheus-client's mark_process_dead: a worker that
    dies (here: killed) keeps its counts in the sum."""
    before = value(served.scrape(), "curbside_http_requests_total", route="/jwks", method="GET", status="200")
    r = requests.get(f"{served.base}/jwks", headers={"X-Request-ID": f"victim-{secrets.token_hex(6)}"}, timeout=10)
    rid = r.headers["X-Request-ID"]
    pid = next(rec["pid"] for rec in served.records() if rec.get("request_id") == rid)
    os.kill(pid, 9)
    for _ in range(100):  # the master starts a replacement
        try:
            after = served.scrape()
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    assert value(after, "curbside_http_requests_total", route="/jwks", method="GET", status="200") >= before + 1


# --- JSON logs and request ids --------------------------------------------------------------

def test_every_log_line_is_json_with_the_request_fields(served: Served) -> None:
    r = requests.get(f"{served.base}/.well-known/openid-configuration", timeout=10)
    rid = r.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    records = served.records()  # raises on any line that is not JSON
    assert any(rec["logger"] == "gunicorn.error" and "Booting worker" in rec["message"] for rec in records)
    access = [rec for rec in records if rec.get("request_id") == rid]
    assert len(access) == 1
    entry = access[0]
    assert entry["logger"] == "hub.access" and entry["level"] == "INFO"
    assert entry["method"] == "GET" and entry["route"] == "/.well-known/openid-configuration"
    assert entry["status"] == 200 and entry["duration_ms"] >= 0
    assert datetime.fromisoformat(entry["timestamp"]).tzinfo is not None


def test_a_trusted_proxys_request_id_is_kept_when_well_formed(served: Served) -> None:
    given = f"edge-{secrets.token_hex(8)}"
    r = requests.get(f"{served.base}/jwks", headers={"X-Request-ID": given}, timeout=10)
    assert r.headers["X-Request-ID"] == given
    assert any(rec.get("request_id") == given and rec["route"] == "/jwks" for rec in served.records())
    for hostile in ("short", "x" * 129, "with space in it", '{"json":"injected"}', "new\u2028line-123456"):
        r = requests.get(f"{served.base}/jwks", headers={"X-Request-ID": hostile.encode().decode("latin-1")},
                         timeout=10)
        assert r.status_code == 200
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-ID"]), hostile
    assert not any(rec.get("request_id") == "x" * 129 for rec in served.records())


def test_json_logs_of_a_sign_in_carry_no_secret(served: Served) -> None:
    browser, rp, params, token, email = _sign_in(served)
    # An RP-initiated logout and an authorization request with hints: both carry personal
    # data or tokens in their query strings.
    hint = token["id_token"]
    browser.get(f"{served.base}/logout?{urlencode({'id_token_hint': hint, 'state': 'st-1234567'})}")
    browser.get(f"{served.base}/authorize?" + urlencode({
        "client_id": served.client["client_id"], "response_type": "code", "scope": "openid",
        "redirect_uri": "https://network.example/cb", "login_hint": email, "id_token_hint": hint}))
    requests.get(f"{served.base}/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"},
                 timeout=10)
    time.sleep(0.2)
    text = served.log.read_text()
    served.records()  # every line is JSON
    secrets_seen = {"authorization code": params["code"], "state": params["state"],
                    "access token": token["access_token"], "refresh token": token["refresh_token"],
                    "id token": token["id_token"], "id token signature": token["id_token"].rsplit(".", 1)[1],
                    "client secret": served.client["client_secret"], "password": PASSWORD,
                    "email": email, "code verifier": rp.verifier,
                    **{f"cookie {c.name}": c.value for c in browser.s.cookies if len(c.value) >= 8}}
    for what, secret in secrets_seen.items():
        assert secret not in text, f"the {what} is in the logs"
    assert "id_token_hint" not in text and "login_hint" not in text


def test_a_request_id_is_not_taken_from_an_untrusted_client(running_hub: RunningHub) -> None:
    # running_hub trusts no proxy (CURBSIDE_TRUSTED_PROXIES=0): anyone can send the header.
    given = f"forged-{secrets.token_hex(8)}"
    r = requests.get(f"{running_hub.issuer}/jwks", headers={"X-Request-ID": given}, timeout=10)
    assert r.status_code == 200
    assert r.headers["X-Request-ID"] != given
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-ID"])


def test_metrics_are_off_unless_configured(running_hub: RunningHub) -> None:
    r = requests.get(f"{running_hub.issuer}/metrics", timeout=10)
    assert r.status_code == 404
    assert "curbside_" not in r.text


# --- a separate metrics address -----------------------------------------------------------

def test_metrics_bind_serves_them_only_on_the_separate_port(tmp_path: Path) -> None:
    metrics_port = _free_port()
    for served in _serve(tmp_path, workers=1, extra={"CURBSIDE_METRICS_TOKEN": TOKEN,
                                                     "CURBSIDE_METRICS_BIND": f"127.0.0.1:{metrics_port}"}):
        assert requests.get(f"{served.base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"},
                            timeout=10).status_code == 404
        requests.get(f"{served.base}/jwks", timeout=10)
        separate = f"http://127.0.0.1:{metrics_port}"
        assert requests.get(f"{separate}/metrics", timeout=10).status_code == 401
        families = served.scrape(separate)
        assert value(families, "curbside_http_requests_total", route="/jwks", method="GET", status="200") >= 1
        assert value(families, "curbside_collector_up", collector="audit_head") == 1


# --- the database gauges -------------------------------------------------------------------

def test_queue_gauges_read_the_database(running_hub: RunningHub) -> None:
    from hub.persistence.models.links import AccountLink, LinkNetwork, RelayState
    from hub.persistence.models.relying import LogoutDelivery

    hub = running_hub.hub
    client = running_hub.client()
    doctor = running_hub.doctor()
    network = f"net-{secrets.token_hex(4)}"
    now = datetime.now(UTC)
    with hub.db.session() as s:
        s.add(LinkNetwork(name=network, display_name="Lagging network", kind="generic", config_enc="-",
                          enabled=True))
        s.flush()
        link = AccountLink(doctor_id=doctor.id, network=network, state="active")
        s.add(link)
        s.flush()
        s.add(RelayState(link_id=link.id, next_due=now - timedelta(seconds=600)))
        s.add(LogoutDelivery(client_id=client["client_id"], uri="https://network.example/bc",
                             trigger="test", status="pending", created_at=now - timedelta(hours=2)))
        link_id = link.id
    try:
        families = parse(Scrape(hub.db.engine).exposition().decode())
        assert value(families, "curbside_feed_relay_lag_seconds", network=network) >= 600
        assert value(families, "curbside_feed_relay_due_links", network=network) == 1
        assert value(families, "curbside_logout_queue_depth") >= 1
        assert value(families, "curbside_logout_queue_oldest_age_seconds") >= 7200
    finally:
        from sqlalchemy import delete

        with hub.db.session() as s:
            s.execute(delete(LogoutDelivery).where(LogoutDelivery.client_id == client["client_id"]))
            s.execute(delete(RelayState).where(RelayState.link_id == link_id))
            s.execute(delete(AccountLink).where(AccountLink.id == link_id))
            s.execute(delete(LinkNetwork).where(LinkNetwork.name == network))


def test_the_logout_worker_logs_json(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CURBSIDE_", "PROMETHEUS_"))}
    env.update({"CURBSIDE_DATABASE_URL": f"sqlite:///{tmp_path}/hub.db", "CURBSIDE_INSTANCE_DIR": str(tmp_path),
                "CURBSIDE_ISSUER": "https://id.curbside.example", "CURBSIDE_LOG_FORMAT": "json"})
    cli = [sys.executable, "-m", "hub.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    hub = Hub.build(Settings.from_env(env))
    client = RunningHub("https://id.curbside.example", None, hub).client()
    from hub.persistence.models.relying import LogoutDelivery

    with hub.db.session() as s:  # a network whose endpoint does not answer
        s.add(LogoutDelivery(client_id=client["client_id"], uri=f"https://127.0.0.1:{_free_port()}/bc",
                             sub="subject-1", sid="sid-1", trigger="test", status="pending"))
    hub.db.engine.dispose()
    done = subprocess.run([*cli, "logout-worker", "--once"], env=env, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    records = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert any(r["logger"] == "hub.relying.backchannel" and r["level"] == "INFO"
               and "back-channel logout" in r["message"] for r in records), done.stderr[-2000:]
