"""Two hubs behind a real load balancer: ``kill -9`` of one loses nothing a client was told.

Two gunicorn instances of the hub (deploy/gunicorn.conf.py), each in its own process group,
share one database and store and the same secrets and instance folder contents. Debian's
HAProxy runs the shipped deploy/haproxy.cfg in front of them (its `bind`, `server` and `log`
lines made local): round robin, no stickiness, health checks on /readyz. Partner networks
sign doctors in with Authlib's client (authorize, login, consent, code, userinfo, refresh,
userinfo, over and over) while every request may land on either hub. Mid-load:

1. only the master of one instance gets SIGKILL, and a supervisor starts it again at once:
   its workers die with it (PR_SET_PDEATHSIG, deploy/gunicorn.conf.py), so the new master
   binds the same port and serves, and takes traffic again;
2. the whole of the other instance (master and workers) gets SIGKILL.

The partners carry on through the live hub each time. Afterwards every access token of a
2xx answer still introspects active, the newest refresh token of every grant still
refreshes, every sign-in and consent the hub acknowledged has its audit record, and `hub
audit verify` passes. A request fails only when it was in flight at a kill: at most one per
partner per kill, and none away from a kill. (HAProxy answers such a request 502, or, when
it came on a reused keep-alive connection, closes that connection without an answer, as
a server may: RFC 9112 §9.3.1 lets the client retry it.)

Skipped without haproxy, unless CURBSIDE_TEST_HAPROXY=required (CI), then it fails.
"""

from __future__ import annotations

import csv
import io
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from cryptography.fernet import Fernet

from tests.conftest import PG_URL, REDIS_URL, _check_redis, _pg_schema_url
from tests.flows.conftest import PASSWORD, Browser, RelyingParty, RunningHub, callback_params

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"), "hub.wsgi:app"]
HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"
PARTNERS = 4  # concurrent clients, each with at most one request in flight
STARTUP = 60.0  # seconds a gunicorn or HAProxy start may take on a busy test machine
ACCESS_LINE = re.compile(r'"(GET|POST) (/[^" ]*)" (\d{3}) ')

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")]


def _haproxy() -> str:
    found = shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if os.path.exists(p)), None)
    if found is None:
        why = "Debian's haproxy is not installed (apt-get install haproxy)"
        if os.environ.get("CURBSIDE_TEST_HAPROXY", "").lower() == "required":
            pytest.fail(f"load-balancer tests are required (CURBSIDE_TEST_HAPROXY=required) but {why}")
        pytest.skip(why)
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(condition: Callable[[], bool], what: str, timeout: float = STARTUP) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _group(pgid: int) -> list[int]:
    """Live processes of a process group."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


# -- the cluster ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Shared:
    """The database and store both instances use."""

    name: str
    database_url: str
    store_url: str


@pytest.fixture(params=["sqlite", "postgres-redis"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shared]:
    if request.param == "sqlite":
        # Two processes on one machine, one SQLite file, the SQL store in it.
        yield Shared("sqlite", f"sqlite:///{tmp_path}/hub.db", "sql")
        return
    if not PG_URL or not REDIS_URL:
        pytest.skip("CURBSIDE_TEST_DATABASE_URL / CURBSIDE_TEST_REDIS_URL not set")
    _check_redis(REDIS_URL)
    # A schema of its own. Redis is shared with other tests, and the hubs use the default
    # key prefix: every key they write here names a random token or one of this test's new
    # doctors, so none can collide.
    schema = _pg_schema_url(PG_URL)
    url = next(schema)
    try:
        yield Shared("postgres-redis", url, REDIS_URL)
    finally:
        next(schema, None)


class Instance:
    """One hub: a gunicorn master and its worker, in a process group of their own."""

    def __init__(self, name: str, env: dict[str, str], folder: Path) -> None:
        self.name, self.folder = name, folder
        self.port = _free_port()
        self.env = env | {"CURBSIDE_BIND": f"127.0.0.1:{self.port}",
                          "PROMETHEUS_MULTIPROC_DIR": str(folder / f"metrics-{name}")}
        self.proc: subprocess.Popen[bytes] | None = None
        self.logs: list[Path] = []

    def start(self) -> None:
        log = self.folder / f"{self.name}-{len(self.logs) + 1}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self.proc = subprocess.Popen(GUNICORN, env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def ready(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, self.log_tail()
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def kill_instance(self) -> None:
        """``kill -9`` of the whole instance, master and workers at once."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def kill_master(self) -> list[int]:
        """``kill -9`` of the master only; returns its workers (to see them gone)."""
        assert self.proc is not None
        workers = [pid for pid in _group(self.proc.pid) if pid != self.proc.pid]
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        return workers

    def served(self, run: int = -1) -> list[tuple[str, str, int]]:
        """(method, path, status) of the requests one run of the instance logged; health
        checks left out."""
        text = self.logs[run].read_text(errors="replace")
        return [(m, p, int(s)) for m, p, s in ACCESS_LINE.findall(text) if p not in ("/readyz", "/healthz")]

    def log_tail(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-1500:]}" for log in self.logs)

    def stop(self) -> None:
        if self.proc is None:
            return
        for pid in _group(self.proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc.poll() is None:
            self.proc.wait(timeout=30)


class LoadBalancer:
    """HAProxy with the shipped configuration, listening on a local port."""

    def __init__(self, folder: Path, port: int, servers: list[Instance]) -> None:
        self.port = port
        self.control = Path(tempfile.mkdtemp(prefix="lb")) / "haproxy.sock"  # short: AF_UNIX path limit
        self.names: list[str] = []  # the shipped file's server names, in order
        self.config = folder / "haproxy.cfg"
        self.config.write_text(self.local_config(HAPROXY_CFG.read_text(), servers))
        self.log = folder / "haproxy.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def local_config(self, shipped: str, servers: list[Instance]) -> str:
        lines, servers_left = [], list(servers)
        for line in shipped.splitlines():
            words = line.split()
            if words[:1] == ["global"]:
                lines += [line, f"    stats socket {self.control} mode 600 level admin"]
            elif words[:1] == ["log"]:
                lines.append("    log stdout format raw local0")
            elif words[:1] == ["bind"]:
                lines.append(f"    bind 127.0.0.1:{self.port}")
            elif words[:1] == ["server"]:
                self.names.append(words[1])
                lines.append(f"    server {words[1]} 127.0.0.1:{servers_left.pop(0).port}")
            else:
                lines.append(line)
        assert not servers_left, "deploy/haproxy.cfg names fewer servers than the test starts"
        return "\n".join(lines) + "\n"

    def start(self, haproxy: str) -> None:
        check = subprocess.run([haproxy, "-c", "-f", str(self.config)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen([haproxy, "-db", "-f", str(self.config)], stdout=out,
                                         stderr=subprocess.STDOUT)
        _wait(lambda: self.control.exists(), "HAProxy to start")

    def states(self) -> dict[str, str]:
        """Each hub's status as HAProxy's health checks see it ("UP", "DOWN", ...)."""
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(self.control))
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        rows = csv.DictReader(io.StringIO(data.decode().lstrip("# ")))
        return {r["svname"]: r["status"] for r in rows if r["pxname"] == "hubs" and r["svname"] in self.names}

    def up(self, name: str) -> bool:
        return self.states().get(name) == "UP"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        shutil.rmtree(self.control.parent, ignore_errors=True)


# -- partner networks under load ---------------------------------------------------------------

@dataclass
class Failure:
    at: float
    step: str
    what: str


@dataclass
class Partner:
    """A partner network signing its doctor in again and again with Authlib's client. A
    failed request (no answer, or a 5xx) ends the round, except a failed refresh or
    userinfo, which the partner tries again at once as a real one would: a refresh token
    replayed within the reuse grace window gets the successor the lost answer carried."""

    cluster: RunningHub
    creds: dict[str, Any]
    email: str
    doctor_id: str
    stop: threading.Event
    requests: int = 0
    failures: list[Failure] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)  # answers that are neither right nor an outage
    logins: int = 0  # login forms the hub answered (so it said the doctor is signed in)
    consents: int = 0
    access_tokens: list[str] = field(default_factory=list)
    refresh_tokens: list[str] = field(default_factory=list)  # the newest of each grant
    rounds: list[float] = field(default_factory=list)  # when each full round ended

    def __post_init__(self) -> None:
        self.rp = RelyingParty(self.cluster, self.creds, scope="openid profile offline_access")

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.round()
            except _RoundFailed:
                time.sleep(0.05)
            except Exception as exc:  # noqa: BLE001 - reported by the test, not lost in a thread
                self.wrong.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.05)

    def call(self, step: str, send: Callable[[], Any], ok: Callable[[Any], bool] = lambda r: True) -> Any:
        """One request: counted; an outage answer raises _RoundFailed, a wrong one is kept."""
        self.requests += 1
        try:
            answer = send()
        except requests.RequestException as exc:  # includes Authlib's HTTP error for a 5xx
            self.failures.append(Failure(time.monotonic(), step, f"{type(exc).__name__}: {exc}"[:200]))
            raise _RoundFailed from None
        except OAuthError as exc:
            self.wrong.append(f"{step}: {exc}")
            raise _RoundFailed from None
        if isinstance(answer, requests.Response) and answer.status_code >= 500:
            self.failures.append(Failure(time.monotonic(), step, f"HTTP {answer.status_code}"))
            raise _RoundFailed
        if not ok(answer):
            status = getattr(answer, "status_code", "")
            self.wrong.append(f"{step}: {status} {str(getattr(answer, 'text', answer))[:200]}")
            raise _RoundFailed
        return answer

    def again(self, step: str, send: Callable[[], Any], ok: Callable[[Any], bool] = lambda r: True) -> Any:
        deadline = time.monotonic() + 5  # well inside the 10 s reuse grace window
        while True:
            try:
                return self.call(step, send, ok)
            except _RoundFailed:
                if self.wrong or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def round(self) -> None:
        browser = Browser(self.cluster)
        url, _ = self.rp.authorization_url()
        page = self.call("authorize", lambda: browser.get(url), lambda r: 'action="/login"' in r.text)
        answer = self.call("login", lambda: browser.login(page, self.email),
                           lambda r: r.status_code in (302, 303) or 'action="/consent"' in r.text)
        self.logins += 1
        if 'action="/consent"' in answer.text:
            consent_page = answer
            answer = self.call("consent", lambda: browser.consent(consent_page),
                               lambda r: r.status_code in (302, 303))
            self.consents += 1
        params = callback_params(answer)
        token = self.call("token", lambda: self.rp.exchange(params))
        self.access_tokens.append(token["access_token"])
        self.refresh_tokens.append(token["refresh_token"])
        self.again("userinfo", self.userinfo, lambda r: r.status_code == 200)
        refreshed = self.again("refresh", lambda: self.refresh(self.refresh_tokens[-1]))
        self.access_tokens.append(refreshed["access_token"])
        self.refresh_tokens[-1] = refreshed["refresh_token"]
        self.again("userinfo", self.userinfo, lambda r: r.status_code == 200)
        self.rounds.append(time.monotonic())

    def userinfo(self) -> requests.Response:
        return self.rp.session.get(self.rp.meta["userinfo_endpoint"], timeout=10)

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        return dict(self.rp.session.refresh_token(self.rp.meta["token_endpoint"], refresh_token=refresh_token,
                                                  timeout=10))

    def rounds_since(self, moment: float) -> int:
        return sum(1 for t in self.rounds if t > moment)


class _RoundFailed(Exception):
    pass


# -- the test ---------------------------------------------------------------------------------

def _hub_env(shared: Shared, issuer: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CURBSIDE_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    return env | {
        "CURBSIDE_ISSUER": issuer, "CURBSIDE_INSECURE_TRANSPORT": "1",
        "CURBSIDE_DATABASE_URL": shared.database_url, "CURBSIDE_STORE_URL": shared.store_url,
        "CURBSIDE_SECRET_KEY": secrets.token_urlsafe(48),
        "CURBSIDE_KEY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "CURBSIDE_TRUSTED_PROXIES": "1",  # HAProxy's X-Forwarded-For names the client
        "CURBSIDE_ARGON2_TIME_COST": "1", "CURBSIDE_ARGON2_MEMORY_COST": "1024",
        "CURBSIDE_ARGON2_PARALLELISM": "1",
        "CURBSIDE_WORKERS": "1", "CURBSIDE_THREADS": "4",
    }


def _prepare(env: dict[str, str], instance_dir: Path) -> tuple[Any, dict[str, Any], list[Any]]:
    """What an operator does once: migrate, create the keys (and the instance folder's
    salt); then this test's partner network and doctors."""
    from hub.domain.client_metadata import validate_metadata
    from hub.persistence.schema import upgrade
    from hub.services import Hub
    from hub.settings import Settings

    hub = Hub.build(Settings.from_env(env | {"CURBSIDE_INSTANCE_DIR": str(instance_dir)}))
    upgrade(hub.db)
    hub.keys.ensure()
    creds = hub.clients.create(validate_metadata({
        "client_name": "Load-Balanced Network", "redirect_uris": ["https://network.example/cb"],
        "grant_types": ["authorization_code", "refresh_token"]}), status="active")
    doctors = [hub.accounts.create(email=f"dr-{i}-{secrets.token_hex(4)}@example.org", password=PASSWORD,
                                   given_name="Anna", family_name="de Vries", email_verified=True)
               for i in range(PARTNERS)]
    return hub, creds, doctors


def _audit_counts(hub: Any, event: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from hub.persistence.models.audit import AuditRecord

    with hub.db.session() as s:
        rows = s.execute(select(AuditRecord.actor, func.count()).where(AuditRecord.event == event)
                         .group_by(AuditRecord.actor)).all()
    return {actor: n for actor, n in rows}


def _load_paths(served: list[tuple[str, str, int]]) -> set[str]:
    return {path for _, path, _ in served}


def test_a_hub_killed_under_load_loses_no_token_and_no_audit_record(shared: Shared, tmp_path: Path) -> None:
    haproxy = _haproxy()
    folders = {name: tmp_path / f"instance-{name}" for name in ("seed", "a", "b")}
    instances: list[Instance] = []
    lb: LoadBalancer | None = None
    partners: list[Partner] = []
    threads: list[threading.Thread] = []
    stop = threading.Event()
    hub: Any = None
    try:
        # Both instances behind one issuer: the load balancer's address.
        lb_port = _free_port()
        issuer = f"http://127.0.0.1:{lb_port}"
        env = _hub_env(shared, issuer)
        hub, creds, doctors = _prepare(env, folders["seed"])
        for name in ("a", "b"):
            if shared.name == "sqlite":  # one machine: one instance folder (and job queue)
                folder = folders["seed"]
            else:  # a folder each, with the same contents (the pairwise salt)
                folder = folders[name]
                shutil.copytree(folders["seed"], folder)
            instances.append(Instance(name, env | {"CURBSIDE_INSTANCE_DIR": str(folder)}, tmp_path))
        a, b = instances
        for instance in instances:
            instance.start()
        lb = LoadBalancer(tmp_path, lb_port, instances)
        _wait(lambda: a.ready() and b.ready(), "both hubs to serve")
        lb.start(haproxy)
        _wait(lambda: lb.states() == dict.fromkeys(lb.names, "UP"), "HAProxy to see both hubs up")

        cluster = RunningHub(issuer, None, hub)
        for doctor in doctors:
            partner = Partner(cluster, creds, doctor.email, doctor.id, stop)
            partners.append(partner)
            threads.append(threading.Thread(target=partner.run, daemon=True))
        for t in threads:
            t.start()

        def every_partner_carries_on(since: float, rounds: int = 2) -> Callable[[], bool]:
            return lambda: all(p.rounds_since(since) >= rounds for p in partners) or any(p.wrong for p in partners)

        # Round robin, no stickiness: each step of a sign-in lands on either hub.
        _wait(every_partner_carries_on(0.0), "the partners' first rounds")
        for instance in instances:
            assert {"/authorize", "/login", "/token", "/userinfo"} <= _load_paths(instance.served()), (
                instance.name, instance.served())

        # 1. kill -9 of hub a's master only, and a supervisor's restart at once: the workers
        # die with their master and free the port, so the new master binds and serves.
        # Meanwhile the partners carry on through hub b.
        killed_master = time.monotonic()
        workers = a.kill_master()
        a.start()
        _wait(lambda: not [pid for pid in workers if _alive(pid)], "hub a's workers to die with their master", 5)
        _wait(a.ready, "hub a to serve again after an immediate restart")
        assert "Connection in use" not in a.logs[-1].read_text(), a.log_tail()
        _wait(every_partner_carries_on(killed_master), "the partners to carry on after the master's kill")
        _wait(lambda: lb.up(lb.names[0]), "HAProxy to see hub a up again")
        _wait(lambda: len(a.served()) >= 20, "traffic on the restarted hub a")

        # 2. kill -9 of the whole of hub b, master and workers at once, mid-load; the partners
        # carry on through hub a.
        killed_whole = time.monotonic()
        b.kill_instance()
        _wait(lambda: not _group(b.proc.pid), "every process of hub b to die", 5)  # type: ignore[union-attr]
        _wait(every_partner_carries_on(killed_whole), "the partners to carry on through hub a")

        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in threads)

        wrong = [w for p in partners for w in p.wrong]
        assert not wrong, wrong
        failures = [f for p in partners for f in p.failures]
        kills = (killed_master, killed_whole)

        def kill_of(f: Failure) -> float | None:
            before = [k for k in kills if k <= f.at]
            return before[-1] if before and f.at - before[-1] < 10 else None

        # Only requests in flight at a kill fail (each partner has one at a time): none away
        # from a kill, at most one per partner per kill; HAProxy sends the others to the
        # live hub (retrying a refused connection there, and marking the dead hub down).
        for f in failures:
            assert kill_of(f) is not None, f"a request failed away from a kill: {f}"
        for p in partners:
            for k in kills:
                failed = [(round(f.at - k, 3), f.step, f.what) for f in p.failures if kill_of(f) == k]
                assert len(failed) <= 1, failed
        at_kill = {k: [f for f in failures if kill_of(f) == k] for k in kills}

        # No token of a 2xx answer is lost: every access token still works at the hub (RFC
        # 7662 introspection by the partner that holds it), and the newest refresh token of
        # every grant still refreshes.
        introspection = partners[0].rp.meta["introspection_endpoint"]
        token_endpoint = partners[0].rp.meta["token_endpoint"]
        for p in partners:
            for token in p.access_tokens:
                answer = p.rp.session.introspect_token(introspection, token=token, timeout=10)
                assert answer.status_code == 200 and answer.json()["active"] is True, answer.text
            for token in p.refresh_tokens:
                p.rp.session.refresh_token(token_endpoint, refresh_token=token, timeout=10)

        # No audit record of an acknowledged sign-in or consent is lost, and the chain holds.
        logins = _audit_counts(hub, "auth:login:success")
        consents = _audit_counts(hub, "doctor:consent:grant")
        for p in partners:
            assert logins.get(p.doctor_id, 0) >= p.logins, (p.doctor_id, logins.get(p.doctor_id), p.logins)
            assert consents.get(p.doctor_id, 0) >= p.consents
        verify = subprocess.run([sys.executable, "-m", "hub.cli", "audit", "verify"], cwd=ROOT, timeout=120,
                                env=env | {"CURBSIDE_INSTANCE_DIR": str(folders["seed"])},
                                capture_output=True, text=True)
        assert verify.returncode == 0, verify.stdout + verify.stderr

        served = {i.name: sum(len(i.served(run)) for run in range(len(i.logs))) for i in instances}
        print(f"\n{shared.name}: {sum(p.requests for p in partners)} load requests (served a={served['a']}, "
              f"b={served['b']}); failed at the whole-instance kill {len(at_kill[killed_whole])}, at the "
              f"master kill {len(at_kill[killed_master])} ("
              f"{sorted(f'{f.step} +{f.at - kill_of(f):.2f}s {f.what[:45]}' for f in failures)}); "
              f"checked {sum(len(p.access_tokens) for p in partners)} access tokens, "
              f"{sum(len(p.refresh_tokens) for p in partners)} refresh tokens, "
              f"{sum(p.logins for p in partners)} sign-in and {sum(p.consents for p in partners)} consent "
              f"audit records")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)
        if lb is not None:
            lb.stop()
        for instance in instances:
            instance.stop()
        if hub is not None:
            hub.db.engine.dispose()
