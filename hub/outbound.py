"""The hub's one way out: every HTTP request the hub itself makes (sector documents, back-
channel logout, partner networks, live registers) goes through a :class:`GuardedSession`
that :class:`Outbound`, built once from settings in ``build_hub`` (hub/composition.py), hands out.

A ``GuardedSession`` is a ``requests.Session`` whose only adapter

* resolves the name itself, checks **every** address it resolves to and connects the socket
  to a checked address: there is no second lookup, so no DNS-rebinding window between the
  check and the connect. SNI, certificate verification and the Host header stay on the name
  (only urllib3's ``_new_conn``, which makes the TCP socket, is replaced);
* refuses loopback, private (RFC 1918, RFC 4193 ULA), link-local (169.254.169.254 included),
  multicast, unspecified, reserved, shared (CGNAT, RFC 6598) and other special-purpose
  addresses (RFC 6890), also when an IPv6 address carries one (IPv4-mapped RFC 4291 §2.5.5.2,
  6to4 RFC 3056, NAT64 RFC 6052); and plain ``http``. ``allow_local`` (the setting
  ``CURBSIDE_OUTBOUND_ALLOW_LOCAL``, demos and tests only) lifts both;
* sees every redirect hop (requests sends each one through it), so a redirect to a refused
  address or to http is refused like a first request;
* holds one deadline for the whole request: name resolution, connect, TLS, every hop and
  every byte of every body. A watchdog shuts the socket down at the deadline, so a server
  that drips one byte at a time is cut off as surely as one that never answers;
* reads the body before the caller sees the response and refuses one larger than
  ``max_bytes`` (counted after content decoding, so a gzip bomb stops at the cap);
* never uses a proxy or ``.netrc`` credentials from the environment (``trust_env`` off), and
  refuses a request given a proxy: the checks would apply to the proxy, not the destination.

Every refusal raises :class:`OutboundError` (a ``requests.ConnectionError``, so code that
already handles a failed connection keeps working) with a ``reason`` code.
"""

from __future__ import annotations

import contextvars
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as ResolveTimeout
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import BaseAdapter, HTTPAdapter
from requests.utils import select_proxy
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family
from urllib3.util.timeout import Timeout

KiB = 1024
MiB = 1024 * KiB
USER_AGENT = "Curbside-Hub/0.1 (+https://curbside.example/bot)"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Reason codes of OutboundError, and what a caller may tell the party that gave the URL
# (no resolved address: that would turn the hub into an oracle for internal names).
PUBLIC_REASONS = {
    "refused_address": "it points to a loopback, private, link-local or otherwise non-public address",
    "refused_scheme": "the hub calls https URLs only",
    "refused_proxy": "the hub does not call through a proxy",
    "deadline": "the server did not answer in time",
    "too_large": "the answer was too large",
}


class OutboundError(requests.ConnectionError):
    """The hub refused to make or to finish an outbound request.

    ``reason`` is a key of :data:`PUBLIC_REASONS`; ``str(e)`` says what exactly (for logs and
    the admin console); :attr:`public` is the part safe to show whoever supplied the URL.
    """

    def __init__(self, reason: str, detail: str, *, request: Any = None) -> None:
        super().__init__(f"{reason}: {detail}", request=request)
        self.reason = reason
        self.detail = detail

    @property
    def public(self) -> str:
        return PUBLIC_REASONS.get(self.reason, "the request was refused")


class OutboundTimeout(OutboundError, requests.Timeout):
    """The deadline passed (reason ``deadline``); a ``requests.Timeout`` too, so callers that
    retry timeouts (the live registers' policy) treat it as one."""


def _error(reason: str, detail: str, request: Any) -> OutboundError:
    cls = OutboundTimeout if reason == "deadline" else OutboundError
    return cls(reason, detail, request=request)


class _Refused(Exception):
    """Raised deep inside urllib3 and turned into OutboundError at the session. Deliberately
    not an OSError: urllib3 would retry it and requests would wrap it beyond recognition."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


# -- which addresses ------------------------------------------------------------------------
# Special-purpose blocks (RFC 6890 registries) that ipaddress does not flag on every
# supported Python version (python/cpython#113171 changed several in 3.12.4 / 3.11.10).
_SPECIAL_V4 = tuple(ipaddress.IPv4Network(n) for n in (
    "192.0.0.0/24",    # IETF protocol assignments (RFC 6890 §2.2.2)
    "192.88.99.0/24",  # 6to4 relay anycast, deprecated (RFC 7526)
    "198.18.0.0/15",   # benchmarking (RFC 2544)
))
_SPECIAL_V6 = tuple(ipaddress.IPv6Network(n) for n in (
    "::/96",           # IPv4-compatible, deprecated (RFC 4291 §2.5.5.1)
    "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215)
    "100::/64",        # discard-only (RFC 6666)
    "2001::/23",       # IETF protocol assignments, Teredo included (RFC 2928, RFC 4380)
    "2001:db8::/32",   # documentation (RFC 3849)
    "3fff::/20",       # documentation (RFC 9637)
    "5f00::/16",       # SRv6 SIDs (RFC 9602)
    "fec0::/10",       # site-local, deprecated (RFC 3879)
))
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")  # shared address space (RFC 6598)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")   # well-known NAT64 prefix (RFC 6052 §2.1)


def refusal(ip: IPAddress) -> str | None:
    """Why the hub does not connect to ``ip`` (an adjective for a message), or None."""
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv6 address that carries an IPv4 one reaches that IPv4 host: judge that one.
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d
            return _embedded(refusal(ip.ipv4_mapped), "IPv4-mapped")
        if ip in _NAT64:  # 64:ff9b::a.b.c.d through the network's NAT64 gateway
            return _embedded(refusal(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)), "NAT64")
        if ip.sixtofour is not None:  # 2002:aabb:ccdd::/48 tunnels to a.b.c.d
            return _embedded(refusal(ip.sixtofour), "6to4")
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:  # 169.254.0.0/16 (cloud metadata at .169.254), fe80::/10
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "shared (CGNAT)"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    special = _SPECIAL_V4 if isinstance(ip, ipaddress.IPv4Address) else _SPECIAL_V6
    if any(ip in net for net in special) or not ip.is_global:
        return "special-purpose"
    return None


def _embedded(inner: str | None, form: str) -> str | None:
    return None if inner is None else f"{inner} ({form})"


# -- one deadline per request ----------------------------------------------------------------
class _Deadline:
    """The deadline of one request. It keeps a second descriptor of every socket the request
    uses; at the deadline a watchdog shuts them down, which wakes any read, plain or TLS,
    blocked on them (a socket is shut for every descriptor, so it works once TLS has taken
    the socket over, and during the handshake too)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self._watched: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def remaining(self) -> float:
        left = self.at - time.monotonic()
        if self.expired or left <= 0:
            raise _Refused("deadline", f"no complete answer within {self.seconds:g} s")
        return left

    def passed(self) -> bool:
        # A socket timeout clamped to the deadline may fire a moment before the watchdog.
        return self.expired or time.monotonic() >= self.at - 0.05

    def watch(self, sock: socket.socket) -> None:
        copy = socket.fromfd(sock.fileno(), sock.family, sock.type)
        with self._lock:
            self._watched.append(copy)
            if self.expired:
                _shut(copy)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._watched:
                _shut(sock)

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            for sock in self._watched:
                sock.close()
            self._watched.clear()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # not connected any more


_current: contextvars.ContextVar[_Deadline | None] = contextvars.ContextVar("outbound_deadline",
                                                                             default=None)


@contextmanager
def _within(seconds: float, request: Any) -> Iterator[_Deadline]:
    """Run one request (all its hops) under one deadline; turn refusals into OutboundError."""
    with _Deadline(seconds) as deadline:
        token = _current.set(deadline)
        try:
            yield deadline
        except _Refused as exc:
            raise _error(exc.reason, str(exc), request) from None
        except OutboundError:
            raise
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError):
            if deadline.passed():  # the watchdog's shutdown surfaces as a broken connection
                raise _error("deadline", f"no complete answer within {seconds:g} s", request) from None
            raise
        finally:
            _current.reset(token)


# -- resolving and connecting ----------------------------------------------------------------
_resolver_lock = threading.Lock()
_resolver: ThreadPoolExecutor | None = None


def _resolve(host: str, port: int, deadline: _Deadline | None) -> list[Any]:
    """getaddrinfo bounded by the deadline (a resolver that stalls cannot hold a request;
    its lookup finishes in the background)."""
    global _resolver
    family = allowed_gai_family()
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:  # an IP literal: nothing to look up
        return socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
    if deadline is None:
        return socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    with _resolver_lock:
        if _resolver is None:
            _resolver = ThreadPoolExecutor(max_workers=8, thread_name_prefix="outbound-dns")
    future = _resolver.submit(socket.getaddrinfo, host, port, family, socket.SOCK_STREAM)
    try:
        return future.result(timeout=deadline.remaining())
    except ResolveTimeout:
        raise _Refused("deadline", f"resolving {host} took longer than {deadline.seconds:g} s") from None


class _GuardedConnectionMixin:
    """urllib3 connection whose TCP socket goes to a checked address only."""

    allow_local = False
    allowed_networks: tuple[Network, ...] = ()
    # Provided by urllib3's HTTPConnection:
    _dns_host: str
    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        deadline = _current.get()
        host = self._dns_host
        try:
            infos = _resolve(host, self.port, deadline)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[arg-type]
        if not infos:
            raise NameResolutionError(self.host, self, socket.gaierror("no address"))  # type: ignore[arg-type]
        if not self.allow_local:
            # Every address, not just the first: a name that also resolves to an internal
            # address is refused whole rather than raced.
            for info in infos:
                ip = ipaddress.ip_address(info[4][0])
                why = refusal(ip)
                if why is not None and not any(ip in net for net in self.allowed_networks):
                    raise _Refused("refused_address", f"{host} resolves to {ip}, a {why} address")
        sock = self._connect(infos, deadline)
        if deadline is not None:
            deadline.watch(sock)
        return sock

    def _connect(self, infos: list[Any], deadline: _Deadline | None) -> socket.socket:
        error: OSError | None = None
        for family, kind, proto, _name, address in infos:
            sock = None
            try:
                sock = socket.socket(family, kind, proto)
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                timeout = self.timeout if isinstance(self.timeout, int | float) else None
                if deadline is not None:
                    left = deadline.remaining()
                    timeout = left if timeout is None else min(timeout, left)
                sock.settimeout(timeout)
                if self.source_address:
                    sock.bind(self.source_address)
                sock.connect(address)
                return sock
            except OSError as exc:
                error = exc
                if sock is not None:
                    sock.close()
        if isinstance(error, TimeoutError):
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.")
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")  # type: ignore[arg-type]

    def request(self, *args: Any, **kwargs: Any) -> None:
        # A pooled connection serves later requests: each one's deadline watches it.
        deadline = _current.get()
        sock = getattr(self, "sock", None)
        if deadline is not None and sock is not None:
            deadline.watch(sock)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class _HTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


def _pools(allow_local: bool, allowed: tuple[Network, ...]) -> dict[str, type[HTTPConnectionPool]]:
    rules = {"allow_local": allow_local, "allowed_networks": allowed}
    return {"http": type("GuardedHTTPPool", (HTTPConnectionPool,), {
                "ConnectionCls": type("GuardedHTTPConnection", (_HTTPConnection,), rules)}),
            "https": type("GuardedHTTPSPool", (HTTPSConnectionPool,), {
                "ConnectionCls": type("GuardedHTTPSConnection", (_HTTPSConnection,), rules)})}


# -- requests ----------------------------------------------------------------------------------
def _clamp(timeout: Any, left: float) -> Timeout:
    """The caller's (connect, read) timeouts, none longer than what is left of the deadline."""
    if isinstance(timeout, tuple):
        connect, read = timeout
    elif isinstance(timeout, Timeout):
        connect, read = timeout.connect_timeout, timeout.read_timeout
    else:
        connect = read = timeout

    def one(t: Any) -> float:
        return min(float(t), left) if isinstance(t, int | float) else left

    return Timeout(connect=one(connect), read=one(read))


class GuardedAdapter(HTTPAdapter):
    def __init__(self, *, allow_local: bool, deadline: float, max_bytes: int,
                 allowed_networks: tuple[Network, ...] = ()) -> None:
        self.allow_local = allow_local
        self._pools = _pools(allow_local, allowed_networks)  # read by init_poolmanager
        self.deadline = deadline
        self.max_bytes = max_bytes
        super().__init__(pool_connections=4, pool_maxsize=8, max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        raise _Refused("refused_proxy", "requests through a proxy are not allowed")

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        deadline = _current.get()
        if deadline is None:  # used without GuardedSession.send: hold a deadline here
            with _within(self.deadline, request):
                return self.send(request, stream, timeout, verify, cert, proxies)
        scheme = urlsplit(request.url or "").scheme.lower()
        if scheme != "https" and not (scheme == "http" and self.allow_local):
            raise _Refused("refused_scheme", f"{scheme or 'a relative'} URL; only https is called")
        if proxies and select_proxy(request.url or "", proxies):
            raise _Refused("refused_proxy", "requests through a proxy are not allowed")
        return super().send(request, stream=True, timeout=_clamp(timeout, deadline.remaining()),
                            verify=verify, cert=cert, proxies=None)

    def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
        response = super().build_response(req, resp)
        # Read the body now, under the deadline and the cap, so that no later reader (requests'
        # redirect handling included, which reads a redirect's body in full) can be held or
        # flooded. Callers that stream get it from memory.
        declared = response.headers.get("Content-Length", "").strip()
        try:
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise _Refused("too_large", f"Content-Length {declared} is over {self.max_bytes} bytes")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(64 * KiB):
                size += len(chunk)
                if size > self.max_bytes:
                    raise _Refused("too_large", f"the body is over {self.max_bytes} bytes")
                chunks.append(chunk)
            # A body that ends with the connection: the watchdog's shutdown reads as its end.
            deadline = _current.get()
            if deadline is not None:
                deadline.remaining()  # raises once the deadline has passed
        except BaseException:
            response.close()
            raise
        response._content = b"".join(chunks)  # what Response.content itself caches
        response._content_consumed = True
        return response


class GuardedSession(requests.Session):
    """A ``requests.Session`` that only goes out through :class:`GuardedAdapter`."""

    def __init__(self, *, allow_local: bool = False, deadline: float = 10.0, max_bytes: int = MiB,
                 max_redirects: int = 5, user_agent: str = USER_AGENT,
                 allowed_networks: tuple[Network, ...] = (), ca_bundle: str | None = None) -> None:
        if not 0 < deadline <= 300 or max_bytes < 1:
            raise ValueError("deadline must be in (0, 300] seconds and max_bytes positive")
        self._sealed = False
        super().__init__()  # mounts plain adapters, replaced below
        self.trust_env = False  # no proxy variables, no .netrc credentials from the environment
        self.max_redirects = max_redirects
        self.headers["User-Agent"] = user_agent
        if ca_bundle:
            self.verify = ca_bundle  # certificates are still checked, against these CAs
        self.deadline = deadline
        adapter = GuardedAdapter(allow_local=allow_local, deadline=deadline, max_bytes=max_bytes,
                                 allowed_networks=allowed_networks)
        self.adapters.clear()
        super().mount("https://", adapter)
        super().mount("http://", adapter)
        self._sealed = True

    def mount(self, prefix: str, adapter: BaseAdapter) -> None:
        # Whoever is handed this session (a connector, a verifier) cannot swap the guard out.
        if self._sealed and not isinstance(adapter, GuardedAdapter):
            raise TypeError("a GuardedSession only takes a GuardedAdapter")
        super().mount(prefix, adapter)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if _current.get() is not None:  # a redirect hop: under the first request's deadline
            return super().send(request, **kwargs)
        with _within(self.deadline, request):
            return super().send(request, **kwargs)


@dataclass(frozen=True)
class Outbound:
    """How the hub's requests leave it; one per Hub, from settings (``build_hub``)."""

    allow_local: bool = False
    # Non-public networks an operator reaches on purpose (a register mirror on a private
    # link); https only, like every public address.
    allowed_networks: tuple[Network, ...] = ()
    # CA certificates to verify servers with instead of the default bundle (a private CA).
    ca_bundle: str | None = None

    def session(self, *, deadline: float = 10.0, max_bytes: int = MiB,
                max_redirects: int = 5) -> GuardedSession:
        """A session for one purpose: its deadline bounds each request, retries included."""
        return GuardedSession(allow_local=self.allow_local, deadline=deadline, max_bytes=max_bytes,
                              max_redirects=max_redirects, allowed_networks=self.allowed_networks,
                              ca_bundle=self.ca_bundle)
