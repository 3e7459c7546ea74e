"""Health probes, and what partners and doctors get while Redis or PostgreSQL is down.

Each outage is real: a redis-server of the test's own, stopped and started again; a TCP
relay between the hub and PostgreSQL, cut and restored. The hub is never restarted.
"""

from __future__ import annotations

import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from hub import create_app
from tests.flows.conftest import Browser, RelyingParty, RunningHub, _Late, make_settings

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A redis-server of this test's own, without persistence, on a port of its own."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for(lambda: _accepts(self.port), "redis-server to listen")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)  # in case a test left it frozen
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


class TcpRelay:
    """Forwards a local port to PostgreSQL; ``cut`` is the database going away (listener and
    every open connection closed), ``restore`` its coming back on the same address."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = _free_port()
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        if self._listener is not None:
            try:  # wakes the accept() blocked in the relay's thread (close alone does not)
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._open = self._open, []
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@contextmanager
def serving(backend: Any, tmp: Any, **settings: Any) -> Iterator[RunningHub]:
    """A hub of the test's own on a real socket, as tests/flows/conftest.py's running_hub."""
    from werkzeug.serving import make_server

    late = _Late()
    server = make_server("127.0.0.1", 0, late, threaded=True)
    issuer = f"http://127.0.0.1:{server.server_port}"
    app = create_app(make_settings(backend, tmp, issuer=issuer, **settings),
                     store_prefix=f"o{secrets.token_hex(4)}:")
    late.app = app
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield RunningHub(issuer, app, app.extensions["curbside"])
    finally:
        server.shutdown()
        server.server_close()
        # Its connections go now, not at some later collection: the test PostgreSQL is
        # shared by parallel runs and has a connection limit.
        app.extensions["curbside"].db.hot.dispose()
        app.extensions["curbside"].db.engine.dispose()


def _readyz_until(hub: RunningHub, status: int) -> requests.Response:
    """/readyz keeps its answer for a second: poll until it reports ``status``."""
    deadline = time.monotonic() + 10
    while True:
        r = requests.get(f"{hub.issuer}/readyz", timeout=10)
        if r.status_code == status or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


def _assert_outage_json(r: requests.Response) -> None:
    assert r.status_code == 503, (r.status_code, r.text[:300])
    assert r.json()["error"] == "temporarily_unavailable"
    assert int(r.headers["Retry-After"]) > 0
    assert r.headers["Cache-Control"] == "no-store"


def _assert_outage_page(r: requests.Response) -> None:
    assert r.status_code == 503, (r.status_code, r.text[:300])
    assert r.headers["Content-Type"].startswith("text/html")
    assert "briefly unavailable" in r.text and "Traceback" not in r.text
    assert int(r.headers["Retry-After"]) > 0


# -- probes ------------------------------------------------------------------------------

def test_probes_answer_ready_without_a_session(running_hub: RunningHub) -> None:
    live = requests.get(f"{running_hub.issuer}/healthz", timeout=5)
    assert live.status_code == 200 and live.json() == {"status": "alive"}
    ready = requests.get(f"{running_hub.issuer}/readyz", timeout=5)
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    assert set(ready.json()["checks"].values()) == {"ok"}
    for r in (live, ready):
        assert r.headers["Cache-Control"] == "no-store"
        assert "Set-Cookie" not in r.headers
    assert requests.head(f"{running_hub.issuer}/readyz", timeout=5).status_code == 200


# -- Redis -------------------------------------------------------------------------------

def test_a_redis_outage_is_503_with_retry_after_and_heals_without_a_restart(
        backend: Any, database: Any, tmp_path: Any) -> None:
    redis_server = RedisServer()
    redis_server.start()
    try:
        with serving(backend, tmp_path, store_url=redis_server.url) as hub:
            hub.hub.keys.ensure()
            doctor = hub.doctor()
            client = hub.client()
            rp = RelyingParty(hub, client, scope="openid profile offline_access")
            browser = Browser(hub)
            tokens = rp.sign_in(browser, doctor.email)
            userinfo = f"{hub.issuer}/userinfo"
            bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
            assert requests.get(userinfo, headers=bearer, timeout=5).status_code == 200
            # A sign-in page already open when Redis goes away.
            open_page = Browser(hub)
            login_page = open_page.get(rp.authorization_url()[0])
            assert 'action="/login"' in login_page.text
            assert _readyz_until(hub, 200).status_code == 200

            redis_server.stop()
            ready = _readyz_until(hub, 503)
            assert ready.status_code == 503 and ready.json()["failing"] == ["store"]
            assert int(ready.headers["Retry-After"]) > 0
            assert requests.get(f"{hub.issuer}/healthz", timeout=5).status_code == 200

            # The partner network is told, at its registered redirect URI (RFC 6749 §4.1.2.1).
            url, sent = rp.authorization_url()
            back = Browser(hub).get(url)
            assert back.status_code == 303
            assert back.headers["Location"].startswith(client["redirect_uris"][0] + "?")
            answer = {k: v[0] for k, v in parse_qs(urlsplit(back.headers["Location"]).query).items()}
            assert answer["error"] == "temporarily_unavailable"
            assert answer["state"] == sent["state"] and answer["iss"] == hub.issuer
            # A doctor on a page of the hub's own gets a page saying what to do.
            _assert_outage_page(open_page.login(login_page, doctor.email))
            # Token, refresh, userinfo, introspection and revocation: 503 + Retry-After.
            creds = (client["client_id"], client["client_secret"])
            _assert_outage_json(requests.post(f"{hub.issuer}/token", auth=creds, timeout=5, data={
                "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}))
            _assert_outage_json(requests.post(f"{hub.issuer}/token", auth=creds, timeout=5,
                                              data={"grant_type": "client_credentials"}))
            _assert_outage_json(requests.get(userinfo, headers=bearer, timeout=5))
            _assert_outage_json(requests.post(f"{hub.issuer}/introspect", auth=creds, timeout=5,
                                              data={"token": tokens["access_token"]}))
            _assert_outage_json(requests.post(f"{hub.issuer}/revoke", auth=creds, timeout=5,
                                              data={"token": tokens["access_token"]}))
            # Authlib, as a partner uses it, reports an HTTP 503, not a refused grant: the
            # partner keeps the refresh token and tries again.
            with pytest.raises(requests.HTTPError) as refused:
                rp.session.refresh_token(rp.meta["token_endpoint"],
                                         refresh_token=tokens["refresh_token"])
            _assert_outage_json(refused.value.response)

            redis_server.start()  # empty: every session and access token is gone
            assert _readyz_until(hub, 200).status_code == 200
            again = rp.sign_in(Browser(hub), doctor.email)
            r = requests.get(userinfo, headers={"Authorization": f"Bearer {again['access_token']}"},
                             timeout=5)
            assert r.status_code == 200 and r.json()["sub"]
            # The refresh token lives in the database: it outlived the outage.
            refreshed = rp.session.refresh_token(rp.meta["token_endpoint"],
                                                 refresh_token=tokens["refresh_token"])
            assert refreshed["access_token"]
    finally:
        redis_server.stop()


def test_a_frozen_redis_costs_a_request_one_timeout_not_five_seconds(
        backend: Any, database: Any, tmp_path: Any) -> None:
    redis_server = RedisServer()
    redis_server.start()
    try:
        with serving(backend, tmp_path, store_url=redis_server.url, redis_timeout=0.5,
                     redis_connect_timeout=0.5) as hub:
            hub.hub.keys.ensure()
            client = hub.client()
            creds = (client["client_id"], client["client_secret"])
            token = f"{hub.issuer}/token"
            assert requests.post(token, auth=creds, data={"grant_type": "client_credentials"},
                                 timeout=5).status_code == 200
            assert redis_server.proc is not None
            redis_server.proc.send_signal(signal.SIGSTOP)  # accepts connections, never answers
            started = time.monotonic()
            r = requests.post(token, auth=creds, data={"grant_type": "client_credentials"},
                              timeout=10)
            took = time.monotonic() - started
            _assert_outage_json(r)
            assert took < 2.0, took  # one redis_timeout (and a retry on a new connection)
            redis_server.proc.send_signal(signal.SIGCONT)
            _wait_for(lambda: requests.post(token, auth=creds, timeout=5, data={
                "grant_type": "client_credentials"}).status_code == 200, "the hub to recover")
    finally:
        redis_server.stop()


# -- PostgreSQL --------------------------------------------------------------------------

def test_a_hub_on_an_unreachable_database_says_so(backend: Any, tmp_path: Any) -> None:
    closed = f"postgresql+psycopg://postgres@127.0.0.1:{_free_port()}/none"
    with serving(backend, tmp_path, database_url=closed, store_url="sql") as hub:
        assert requests.get(f"{hub.issuer}/healthz", timeout=5).status_code == 200
        ready = requests.get(f"{hub.issuer}/readyz", timeout=10)
        assert ready.status_code == 503
        assert "database" in ready.json()["failing"] and "store" in ready.json()["failing"]
        _assert_outage_json(requests.get(f"{hub.issuer}/jwks", timeout=10))  # nothing loaded yet
        _assert_outage_json(requests.post(f"{hub.issuer}/token", auth=("a", "b"), timeout=10,
                                          data={"grant_type": "client_credentials"}))
        _assert_outage_json(requests.post(f"{hub.issuer}/introspect", auth=("a", "b"),
                                          timeout=10, data={"token": "t"}))
        _assert_outage_json(requests.post(f"{hub.issuer}/register", timeout=10, json={
            "redirect_uris": ["https://network.example/cb"]},
            headers={"Authorization": "Bearer an-initial-access-token"}))
        _assert_outage_page(Browser(hub).get(
            f"{hub.issuer}/authorize?client_id=x&redirect_uri=https://network.example/cb"))
        _assert_outage_page(requests.get(f"{hub.issuer}/account", timeout=10))


@pytest.fixture
def relayed_database(backend: Any, database: Any) -> Iterator[tuple[Any, TcpRelay]]:
    """The backend's PostgreSQL database reached through a relay the test can cut."""
    if database.is_sqlite:
        pytest.skip("SQLite is in-process: there is no server to lose")
    from sqlalchemy import make_url

    url = make_url(backend.database_url)
    relay = TcpRelay((url.host or "127.0.0.1", url.port or 5432))
    relay.restore()
    relayed = type(backend)(backend.name, url.set(host="127.0.0.1", port=relay.port)
                            .render_as_string(hide_password=False), backend.store_url,
                            backend.redis_prefix)
    try:
        yield relayed, relay
    finally:
        relay.cut()


def test_a_database_outage_keeps_the_jwks_and_heals_without_a_restart(
        relayed_database: tuple[Any, TcpRelay], tmp_path: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    backend, relay = relayed_database
    # Every /jwks reloads the keys, so the outage is met by the reload, not hidden by the cache.
    monkeypatch.setattr("hub.domain.keys.RELOAD_EVERY", 0.0)
    with serving(backend, tmp_path) as hub:
        hub.hub.keys.ensure()
        doctor = hub.doctor()
        rp = RelyingParty(hub, hub.client(), scope="openid profile offline_access")
        tokens = rp.sign_in(Browser(hub), doctor.email)
        jwks = requests.get(f"{hub.issuer}/jwks", timeout=5)
        assert jwks.status_code == 200

        relay.cut()
        during = requests.get(f"{hub.issuer}/jwks", timeout=10)
        assert during.status_code == 200 and during.json() == jwks.json()
        rp.validate_id_token(tokens["id_token"])  # a partner fetching keys now still validates
        ready = _readyz_until(hub, 503)
        assert ready.status_code == 503 and "database" in ready.json()["failing"]
        _assert_outage_json(requests.post(f"{hub.issuer}/token", timeout=10,
                                          auth=(rp.creds["client_id"], rp.creds["client_secret"]),
                                          data={"grant_type": "refresh_token",
                                                "refresh_token": tokens["refresh_token"]}))
        _assert_outage_json(requests.get(f"{hub.issuer}/userinfo", timeout=10, headers={
            "Authorization": f"Bearer {tokens['access_token']}"}))
        url, _ = rp.authorization_url()
        _assert_outage_page(Browser(hub).get(url))  # the client itself is in the database

        relay.restore()
        assert _readyz_until(hub, 200).status_code == 200
        again = rp.sign_in(Browser(hub), doctor.email)
        r = requests.get(f"{hub.issuer}/userinfo", timeout=5,
                         headers={"Authorization": f"Bearer {again['access_token']}"})
        assert r.status_code == 200
        assert rp.session.refresh_token(rp.meta["token_endpoint"],
                                        refresh_token=tokens["refresh_token"])["access_token"]


def test_outage_log_is_one_line_per_part_not_one_traceback_per_request(
        backend: Any, tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    closed = f"postgresql+psycopg://postgres@127.0.0.1:{_free_port()}/none"
    with serving(backend, tmp_path, database_url=closed, store_url="sql") as hub:
        caplog.clear()
        for _ in range(20):
            _assert_outage_json(requests.post(f"{hub.issuer}/token", auth=("a", "b"), timeout=10,
                                              data={"grant_type": "client_credentials"}))
    outage_lines = [r for r in caplog.records if r.name == "hub.outage"]
    assert len(outage_lines) <= 1
    assert not [r for r in caplog.records if r.exc_info]
