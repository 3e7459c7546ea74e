"""The hub's one way out (hub/outbound.py), over real sockets: which addresses it refuses,
that a redirect hop is checked like a first request, one deadline per request however slowly
a server drips, the body cap; then the same refusals through the hub's own flows (dynamic
registration's sector document, back-channel logout, partner connectors, live registers)."""

from __future__ import annotations

import datetime as dt
import gzip
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from requests.adapters import HTTPAdapter
from werkzeug.serving import make_server

from hub import create_app
from hub.domain.client_metadata import SECTOR_DEADLINE
from hub.outbound import GuardedSession, Outbound, OutboundError, refusal
from hub.protocol.registration import issue_initial_token
from hub.relying import backchannel
from tests.conftest import Backend, _pg_schema_url
from tests.flows.conftest import Browser, RelyingParty, RunningHub, _Late, make_settings


# -- servers ------------------------------------------------------------------------------------
class Listener:
    """A TCP server that runs ``handle`` per connection and counts connections: a count of 0
    proves the hub never even connected."""

    def __init__(self, handle: Callable[[socket.socket], None] | None = None, *,
                 host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.handle = handle or (lambda conn: time.sleep(3))
        self.tls = tls
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            self.handle(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def answer(status: str = "200 OK", body: bytes = b"ok", headers: str = "") -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        _read_request(conn)
        conn.sendall(f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
                     f"{headers}\r\n".encode() + body)
    return handle


def drip(head: bytes, pattern: bytes, every: float, for_seconds: float) -> Callable[[socket.socket], None]:
    """Send ``head`` then ``pattern`` over and over, one byte every ``every`` seconds: each
    read gets data well within any per-read timeout, so only a whole-request deadline stops it."""
    def handle(conn: socket.socket) -> None:
        _read_request(conn)
        conn.sendall(head)
        end = time.monotonic() + for_seconds
        n = 0
        while pattern and time.monotonic() < end:
            conn.sendall(pattern[n % len(pattern):n % len(pattern) + 1])
            n += 1
            time.sleep(every)
    return handle


@pytest.fixture
def listeners() -> Iterator[Callable[..., Listener]]:
    made: list[Listener] = []

    def make(*args: Any, **kw: Any) -> Listener:
        made.append(Listener(*args, **kw))
        return made[-1]

    yield make
    for one in made:
        one.close()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, str]:
    """A server context for 127.0.0.1 and the CA file a client trusts it with."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "curbside test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder: Path = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return ctx, str(folder / "cert.pem")


def refused(exc: pytest.ExceptionInfo[OutboundError], reason: str) -> bool:
    return isinstance(exc.value, OutboundError) and exc.value.reason == reason


# -- addresses ----------------------------------------------------------------------------------
@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "::1", "0.0.0.0", "::", "10.1.2.3", "172.16.0.1", "192.168.1.1",
    "fd00::1", "169.254.169.254", "fe80::1", "100.64.0.1", "224.0.0.1", "ff02::1", "240.0.0.1",
    "255.255.255.255", "192.0.0.8", "198.18.0.1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
    "::ffff:10.0.0.1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::", "2002:a00:1::",
    "::7f00:1", "fec0::1", "2001:db8::1",
])
def test_non_public_addresses_are_refused(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8",
                                     "64:ff9b::808:808", "2002:808:808::"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("url", [
    "https://127.0.0.1:{port}/", "https://localhost:{port}/", "https://[::ffff:127.0.0.1]:{port}/",
    "https://2130706433:{port}/",  # 127.0.0.1 as one decimal number
    "https://0177.0.0.1:{port}/",  # octal
    "https://0x7f.1:{port}/",  # hex, short form
])
def test_loopback_in_any_spelling_is_refused_before_connecting(url: str, listeners: Any) -> None:
    target = listeners()
    with pytest.raises(OutboundError) as exc:
        GuardedSession(deadline=3).get(url.format(port=target.port), timeout=1)
    assert refused(exc, "refused_address") and "loopback" in str(exc.value)
    assert target.connections == 0


def test_ipv6_loopback_is_refused_before_connecting(listeners: Any) -> None:
    try:
        target = listeners(host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with pytest.raises(OutboundError) as exc:
        GuardedSession(deadline=3).get(f"https://[::1]:{target.port}/", timeout=1)
    assert refused(exc, "refused_address")
    assert target.connections == 0


@pytest.mark.parametrize("url", ["https://169.254.169.254/latest/meta-data/", "https://10.0.0.1/",
                                 "https://[fd00::1]/", "https://100.64.0.1/"])
def test_metadata_and_private_addresses_are_refused_at_once(url: str) -> None:
    start = time.monotonic()
    with pytest.raises(OutboundError) as exc:
        GuardedSession(deadline=5).get(url)
    assert refused(exc, "refused_address")
    assert time.monotonic() - start < 1  # refused, not attempted and timed out


def test_plain_http_is_refused_without_the_setting(listeners: Any) -> None:
    target = listeners(answer())
    with pytest.raises(OutboundError) as exc:
        GuardedSession(deadline=3, allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),)).get(
            f"http://127.0.0.1:{target.port}/")
    assert refused(exc, "refused_scheme")
    assert target.connections == 0


def test_a_proxy_is_refused(listeners: Any) -> None:
    proxy = listeners(answer())
    with pytest.raises(OutboundError) as exc:
        GuardedSession(deadline=3).get("https://example.org/",
                                       proxies={"https": f"http://127.0.0.1:{proxy.port}"})
    assert refused(exc, "refused_proxy")
    assert proxy.connections == 0


def test_the_guard_cannot_be_unmounted() -> None:
    with pytest.raises(TypeError):
        GuardedSession().mount("https://", HTTPAdapter())


def test_local_addresses_and_http_are_allowed_with_the_setting(listeners: Any) -> None:
    target = listeners(answer(body=b'["https://a.example/cb"]'))
    r = GuardedSession(allow_local=True, deadline=3).get(f"http://localhost:{target.port}/")
    assert r.status_code == 200 and r.json() == ["https://a.example/cb"]


# -- redirects ----------------------------------------------------------------------------------
def test_tls_to_an_allowed_address_keeps_certificate_checks(listeners: Any, tls: Any) -> None:
    ctx, ca = tls
    server = listeners(answer(body=b"fine"), tls=ctx)
    session = GuardedSession(deadline=3, allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))
    assert session.get(f"https://127.0.0.1:{server.port}/", verify=ca).text == "fine"
    with pytest.raises(requests.exceptions.SSLError):  # not the certificate of this name
        session.get(f"https://127.0.0.1:{server.port}/")


@pytest.mark.parametrize("target_url,reason", [
    ("https://127.0.0.2:{port}/", "refused_address"),
    ("https://[::ffff:127.0.0.2]:{port}/", "refused_address"),
    ("http://127.0.0.1:{port}/", "refused_scheme"),
])
def test_a_redirect_to_a_refused_address_is_refused(listeners: Any, tls: Any, target_url: str,
                                                    reason: str) -> None:
    """The first hop goes to an address the session allows (127.0.0.1 over TLS); the
    redirect it answers with is checked like a first request."""
    ctx, ca = tls
    inner = listeners(answer(body=b"secret"), host="0.0.0.0")
    location = target_url.format(port=inner.port)
    outer = listeners(answer("302 Found", b"", f"Location: {location}\r\n"), tls=ctx)
    session = GuardedSession(deadline=3, allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))
    with pytest.raises(OutboundError) as exc:
        session.get(f"https://127.0.0.1:{outer.port}/start", verify=ca)
    assert refused(exc, reason)
    assert outer.connections == 1 and inner.connections == 0


# -- one deadline, one size cap -------------------------------------------------------------------
@pytest.mark.parametrize("head,pattern", [
    (b"HTTP/1.1 200 OK\r\n", b"X-Slow: yes\r\n"),  # the headers drip
    (b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", b"x"),  # the body drips
])
def test_a_dripping_server_is_cut_at_the_deadline(listeners: Any, head: bytes, pattern: bytes) -> None:
    slow = listeners(drip(head, pattern, 0.05, 8))
    start = time.monotonic()
    with pytest.raises(OutboundError) as exc:
        # A per-read timeout of 30 s: only the whole-request deadline can stop this.
        GuardedSession(allow_local=True, deadline=1.0).get(f"http://127.0.0.1:{slow.port}/",
                                                          timeout=30)
    elapsed = time.monotonic() - start
    assert refused(exc, "deadline") and isinstance(exc.value, requests.Timeout)
    assert 0.9 < elapsed < 2.0, elapsed


def test_a_dripping_tls_handshake_is_cut_at_the_deadline(listeners: Any) -> None:
    # A TLS record header announcing 16 KiB, then one byte at a time.
    slow = listeners(lambda conn: drip(b"", b"\x00", 0.1, 8)(conn) if conn.send(b"\x16\x03\x03\x40\x00")
                     else None)
    start = time.monotonic()
    with pytest.raises(OutboundError) as exc:
        GuardedSession(allow_local=True, deadline=1.0).get(f"https://127.0.0.1:{slow.port}/", timeout=30)
    assert refused(exc, "deadline")
    assert time.monotonic() - start < 1.5


def test_redirect_hops_share_one_deadline(listeners: Any) -> None:
    hops: list[Listener] = []

    def slow_redirect(conn: socket.socket) -> None:
        _read_request(conn)
        time.sleep(0.4)
        nxt = f"http://127.0.0.1:{hops[0].port}/again"
        conn.sendall(f"HTTP/1.1 302 Found\r\nLocation: {nxt}\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n".encode())

    hops.append(listeners(slow_redirect))
    start = time.monotonic()
    with pytest.raises(OutboundError) as exc:
        GuardedSession(allow_local=True, deadline=1.0, max_redirects=10).get(
            f"http://127.0.0.1:{hops[0].port}/", timeout=30)
    assert refused(exc, "deadline")
    assert time.monotonic() - start < 1.5


@pytest.mark.parametrize("handle", [
    answer(body=b"x" * 200_000),  # declared too large: refused before reading
    drip(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * 200_000, b"", 0, 0),  # undeclared
    answer(body=gzip.compress(b"\0" * 50_000_000), headers="Content-Encoding: gzip\r\n"),  # a bomb
])
def test_an_oversized_body_is_refused(listeners: Any, handle: Any) -> None:
    big = listeners(handle)
    with pytest.raises(OutboundError) as exc:
        GuardedSession(allow_local=True, deadline=5, max_bytes=100_000).get(f"http://127.0.0.1:{big.port}/")
    assert refused(exc, "too_large")


# -- through the hub ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def own_backend(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """A database of these hubs' own: the back-channel worker delivers every due row of its
    database, and must neither take nor refuse rows other tests' hubs queued."""
    import hub.persistence.models  # noqa: F401  (every table)
    from hub.persistence.db import Base, Database
    from hub.persistence.schema import upgrade

    gen = None
    if backend.name == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('outbound-db') / 'curbside.db'}"
    else:
        gen = _pg_schema_url(backend.database_url.split("?")[0])
        url = next(gen)
    db = Database(url)
    upgrade(db)
    Base.metadata.create_all(db.engine, checkfirst=True)
    db.engine.dispose()
    yield Backend(backend.name, url, backend.store_url, backend.redis_prefix + "o")
    if gen is not None:
        next(gen, None)


def _running(backend: Backend, tmp: Path, *, allow_local: bool) -> Iterator[RunningHub]:
    late = _Late()
    server = make_server("127.0.0.1", 0, late, threaded=True)
    issuer = f"http://127.0.0.1:{server.server_port}"
    app = create_app(make_settings(backend, tmp, issuer=issuer, outbound_allow_local=allow_local),
                     store_prefix=f"ob{int(allow_local)}{backend.redis_prefix}:")
    app.extensions["curbside"].keys.ensure()
    late.app = app
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield RunningHub(issuer, app, app.extensions["curbside"])
    server.shutdown()
    app.extensions["curbside"].db.engine.dispose()


@pytest.fixture(scope="module")
def strict_hub(own_backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """A hub as deployed: CURBSIDE_OUTBOUND_ALLOW_LOCAL unset."""
    yield from _running(own_backend, tmp_path_factory.mktemp("strict"), allow_local=False)


@pytest.fixture(scope="module")
def local_hub(own_backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    yield from _running(own_backend, tmp_path_factory.mktemp("local"), allow_local=True)


GOOD = {"client_name": "Sector Test", "redirect_uris": ["https://a.example/cb"],
        "post_logout_redirect_uris": ["https://a.example/bye"]}


def register(hub: RunningHub, token: str, **md: Any) -> requests.Response:
    return requests.post(f"{hub.issuer}/register", json={**GOOD, **md},
                         headers={"Authorization": f"Bearer {token}"}, timeout=30)


@pytest.mark.parametrize("url", ["https://127.0.0.1:{port}/sector.json", "https://localhost:{port}/sector.json",
                                 "https://[::ffff:127.0.0.1]:{port}/sector.json"])
def test_registration_refuses_a_loopback_sector_document_and_fetches_nothing(
        strict_hub: RunningHub, listeners: Any, url: str) -> None:
    sector = listeners(answer(body=b'["https://a.example/cb"]'))
    token = issue_initial_token(strict_hub.hub)
    r = register(strict_hub, token, sector_identifier_uri=url.format(port=sector.port))
    assert r.status_code == 400 and r.json()["error"] == "invalid_client_metadata", r.text
    assert "sector_identifier_uri" in r.json()["error_description"]
    assert sector.connections == 0
    assert register(strict_hub, token).status_code == 201  # the refusal spent no use


def test_a_dripping_sector_document_is_cut_at_the_deadline(local_hub: RunningHub, listeners: Any,
                                                          tls: Any) -> None:
    ctx, ca = tls
    # This hub trusts the test CA, so the TLS handshake completes and the body drips.
    local_hub.hub.outbound = Outbound(allow_local=True, ca_bundle=ca)
    slow = listeners(drip(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n[", b" ", 0.3,
                          SECTOR_DEADLINE + 8), tls=ctx)
    token = issue_initial_token(local_hub.hub)
    start = time.monotonic()
    r = register(local_hub, token, sector_identifier_uri=f"https://127.0.0.1:{slow.port}/sector.json")
    assert r.status_code == 400 and r.json()["error"] == "invalid_client_metadata", r.text
    assert "in time" in r.json()["error_description"]
    assert time.monotonic() - start < SECTOR_DEADLINE + 1.5
    assert slow.connections == 1


def test_a_loopback_back_channel_endpoint_gets_nothing_and_the_refusal_is_recorded(
        strict_hub: RunningHub, listeners: Any) -> None:
    receiver = listeners(answer())
    rp = RelyingParty(strict_hub, strict_hub.client(
        client_name="Loopback BCL", backchannel_logout_uri=f"https://localhost:{receiver.port}/bcl"))
    doctor = strict_hub.doctor()
    rp.sign_in(Browser(strict_hub), doctor.email)
    strict_hub.hub.end_doctor_sessions(doctor.id, reason="test", actor="admin-1")
    backchannel.process_due(strict_hub.hub)
    assert receiver.connections == 0
    status = backchannel.delivery_status(strict_hub.hub.db, rp.creds["client_id"])
    assert status["failed"] == 1 and status["pending"] == 0  # at once: retrying cannot help
    last = status["recent"][0]
    assert last["status"] == "failed" and last["attempts"] == 1
    assert last["last_error"].startswith("refused_address") and "loopback" in last["last_error"]


def test_a_partner_connector_cannot_reach_loopback_even_if_its_config_allows(
        strict_hub: RunningHub, listeners: Any) -> None:
    from connectors.base import LinkCredentials
    from connectors.errors import ConnectorError
    from hub.links import links_for

    partner = listeners(answer(body=b"{}"))
    networks = links_for(strict_hub.hub).networks
    networks.add("loopnet", "feed", {"http": {"insecure_transport": True, "allow_private_networks": True},
                                     "allowed_hosts": ["127.0.0.1"]})
    connector: Any = networks.get("loopnet").connector  # type: ignore[union-attr]
    with pytest.raises(ConnectorError):
        connector.fetch_activity(LinkCredentials(endpoint=f"http://127.0.0.1:{partner.port}/feed.xml",
                                                 token_type="none"))
    assert partner.connections == 0


def test_a_live_register_on_loopback_is_not_called(strict_hub: RunningHub, listeners: Any) -> None:
    from hub.verification import registry
    from hub.verification.base import RegisterUnavailable

    register_server = listeners(answer(body=b"{}"))
    verifier: Any = registry.for_hub(strict_hub.hub)["us-nppes"]
    verifier.api_url = f"https://127.0.0.1:{register_server.port}/api/"
    with pytest.raises(RegisterUnavailable):
        verifier.lookup_live("1234567893")
    assert register_server.connections == 0
