"""One HTTP client for every connector: timeouts, retries, size cap, conditional GET, SSRF guard.

Why each piece exists:

* **A time budget per call.** ``HttpOptions.timeout`` bounds one call *including* retries and
  backoff: each attempt gets an equal share as its connect+read timeout, and the body is read
  against the same deadline, so a slow-drip upstream cannot hold a worker past the budget.
* **Retries only for idempotent GETs** (RFC 9110 §9.2.2), on the hub's one retry policy
  (:mod:`connectors.resilience`, tenacity underneath) with exponential backoff: connection
  failures, timeouts and 500/502/503/504 are tried again. ``Retry-After`` is not slept on
  (it could exceed the budget): a 429 surfaces as :class:`UpstreamUnavailable` carrying
  ``retry_after`` for the hub's scheduler. Token and revocation POSTs are never retried (an
  authorization code is single-use, RFC 6749 §4.1.2).
* **A size cap while streaming** (default 2 MiB, counted after content decoding, so a gzip
  bomb is cut off too); a ``Content-Length`` above the cap is refused before reading.
* **Conditional GET** (RFC 9110 §13.1): ``If-None-Match`` / ``If-Modified-Since``; a 304 is
  returned as such and connectors turn it into ``ActivityPage(not_modified=True)``.
* **SSRF guard.** Feed URLs come from doctors and AS2/JSON paging links from upstreams. Every
  new socket's *connected* peer address is checked (so DNS rebinding and redirects are covered,
  not just the first lookup): loopback, private, link-local, CGNAT and reserved ranges are
  refused unless ``allow_private_networks`` (tests only). ``trust_env`` is off so proxy
  variables and ``.netrc`` credentials from the environment never apply. A caller that
  injects its own ``session`` (the hub does) keeps that session's adapters and so its own
  guard; ``allow_private_networks`` then has no effect.
"""

from __future__ import annotations

import email.utils
import http.client
import ipaddress
import json
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from connectors.errors import (
    BlockedAddress,
    ConfigError,
    ConnectorError,
    InvalidUpstreamData,
    UpstreamRejected,
    UpstreamUnavailable,
)
from connectors.resilience import RetryPolicy, Timeouts, call_with_retries

DEFAULT_USER_AGENT = "Curbside-Connectors/0.1 (+https://curbside.example/bot)"
MiB = 1024 * 1024
_MAX_URL = 2048
_CHUNK = 64 * 1024
_RETRY_STATUSES = frozenset({500, 502, 503, 504})


@dataclass(frozen=True, kw_only=True)
class HttpOptions:
    """The ``http`` block of every connector config."""

    timeout: float = 10.0  # seconds for one call, all retries and backoff included
    connect_timeout: float = 3.05  # cap on each attempt's TCP/TLS connect
    retries: int = 2  # extra attempts for GETs on connection errors and 500/502/503/504
    backoff_factor: float = 0.2  # seconds before retry 1, doubling (connectors.resilience)
    max_bytes: int = 2 * MiB  # response body cap, after decoding
    user_agent: str = DEFAULT_USER_AGENT
    insecure_transport: bool = False  # allow http:// for token-bearing endpoints: tests/demos
    allow_private_networks: bool = False  # allow loopback/private peers: tests/demos

    def __post_init__(self) -> None:
        if not 0 < self.timeout <= 300:
            raise ConfigError("http.timeout: must be in (0, 300] seconds")
        if not 0 < self.connect_timeout <= 60:
            raise ConfigError("http.connect_timeout: must be in (0, 60] seconds")
        if not 0 <= self.retries <= 5:
            raise ConfigError("http.retries: must be between 0 and 5")
        if not 0 <= self.backoff_factor <= 10:
            raise ConfigError("http.backoff_factor: must be between 0 and 10")
        if not 1024 <= self.max_bytes <= 64 * MiB:
            raise ConfigError("http.max_bytes: must be between 1 KiB and 64 MiB")
        if not self.user_agent.isprintable() or not 0 < len(self.user_agent) <= 200:
            raise ConfigError("http.user_agent: 1-200 printable characters")
        if self.attempt_budget() < 0.05:
            raise ConfigError("http.timeout: too small for the retries and backoff configured")

    def total_backoff(self) -> float:
        return float(sum(self.backoff_factor * 2 ** (n - 1) for n in range(1, self.retries + 1)))

    def attempt_budget(self) -> float:
        return (self.timeout - self.total_backoff()) / (self.retries + 1)

    def attempt_timeouts(self) -> tuple[float, float]:
        """(connect, read) for one attempt, so that all attempts fit in ``timeout``."""
        per = self.attempt_budget()
        # Connecting rarely needs long; reading (the upstream thinking) gets the larger share.
        connect = min(self.connect_timeout, per * 0.3)
        return connect, per - connect

    def retry_policy(self) -> RetryPolicy:
        """The shared policy with this config's numbers: the budget is ``timeout`` and each
        attempt an equal share of what the waits leave."""
        connect, read = self.attempt_timeouts()
        return RetryPolicy(connect_timeout=connect, read_timeout=read, retries=self.retries,
                           backoff=self.backoff_factor, deadline=self.timeout)


@dataclass(frozen=True)
class Response:
    status: int
    url: str
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()

    @property
    def etag(self) -> str | None:
        return _header_value(self.headers.get("ETag"))

    @property
    def last_modified(self) -> str | None:
        return _header_value(self.headers.get("Last-Modified"))

    def json(self) -> Any:
        """Parsed JSON or :class:`InvalidUpstreamData` (never ``ValueError``/``RecursionError``)."""
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError) as exc:  # RecursionError: "[[[[..." nesting bombs
            raise InvalidUpstreamData(reason="malformed_json", detail=str(exc)[:200]) from None


def _header_value(value: str | None) -> str | None:
    if not value or len(value) > 512 or not value.isprintable():
        return None
    return value


def _peer_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _checked(sock: socket.socket) -> socket.socket:
    try:
        peer = sock.getpeername()[0]
        allowed = _peer_allowed(peer)
    except (OSError, ValueError):
        allowed, peer = False, "?"
    if not allowed:
        sock.close()
        raise BlockedAddress(detail=f"peer address {peer} is not public")
    return sock


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _checked(super()._new_conn())


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _checked(super()._new_conn())


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _Adapter(HTTPAdapter):
    def __init__(self, *, guard: bool) -> None:
        self._guard = guard  # read by init_poolmanager, which HTTPAdapter.__init__ calls
        # No transport-level retries: the whole GET is retried by connectors.resilience.
        super().__init__(max_retries=0, pool_connections=4, pool_maxsize=8)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        if self._guard:
            self.poolmanager.pool_classes_by_scheme = {
                "http": _GuardedHTTPPool,
                "https": _GuardedHTTPSPool,
            }


def _retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    value = headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), 86400.0)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(delta, 0.0), 86400.0)


# Everything requests/urllib3/http.client/socket may raise for a broken peer or URL.
_TRANSPORT_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
    ValueError,  # includes UnicodeError from IDNA and LocationParseError
)


class _Refused(UpstreamUnavailable):
    """The injected session's own guard refused the request (the hub's outbound checks):
    unavailable to the caller as before, but final: another attempt would be refused too."""

    default_reason = "connection"


def _transient(exc: BaseException) -> bool:
    """Worth another attempt of a GET: the network or the upstream hiccupped."""
    return (isinstance(exc, UpstreamUnavailable) and not isinstance(exc, _Refused)
            and (exc.reason in ("timeout", "connection")
                 or exc.reason in {f"http_{s}" for s in _RETRY_STATUSES}))


def _reason(exc: BaseException) -> str:
    """"timeout" or "connection": requests reports a read timeout after retries as a
    ConnectionError wrapping MaxRetryError(ReadTimeoutError), so look inside."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, urllib3.exceptions.NewConnectionError):
            return "connection"  # (urllib3 derives it from ConnectTimeoutError, oddly)
        if isinstance(cur, requests.Timeout | urllib3.exceptions.TimeoutError | TimeoutError):
            return "timeout"
        if isinstance(cur, urllib3.exceptions.MaxRetryError) and cur.reason is not None:
            cur = cur.reason
            continue
        nxt = cur.args[0] if cur.args and isinstance(cur.args[0], BaseException) else None
        cur = nxt or cur.__cause__ or cur.__context__
    return "connection"


class HttpClient:
    """A ``requests.Session`` configured once per connector instance (thread-safe enough for
    ``requests``' usual use: one session shared by a worker's threads)."""

    def __init__(
        self,
        network: str,
        options: HttpOptions,
        *,
        session: requests.Session | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.network = network
        self.options = options
        self._monotonic = monotonic
        self._session = session or requests.Session()
        self._session.trust_env = False
        self._session.max_redirects = 5
        self._session.headers["User-Agent"] = options.user_agent
        self._retry = options.retry_policy()
        # An injected session brings its owner's transport policy (the hub's guards every
        # address, deadline and body, hub/outbound.py): its adapters are kept as they are.
        if session is None:
            guard = not options.allow_private_networks
            self._session.mount("https://", _Adapter(guard=guard))
            self._session.mount("http://", _Adapter(guard=guard))

    def close(self) -> None:
        self._session.close()

    # -- public calls -------------------------------------------------------------------

    def get(
        self,
        url: str,
        *,
        accept: str = "application/json",
        bearer: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        secure: bool = True,
    ) -> Response:
        """GET with retries. Returns 2xx and 304; raises for everything else.

        ``secure`` demands https (unless ``insecure_transport``): always for token-bearing
        calls; feeds pass ``secure=False`` since they carry no credentials.
        """
        self._check_url(url, secure=secure or bearer is not None)
        headers = {"Accept": accept}
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"  # RFC 6750 §2.1
        if (tag := _header_value(etag)) is not None:
            headers["If-None-Match"] = tag
        if (since := _header_value(last_modified)) is not None:
            headers["If-Modified-Since"] = since
        deadline = self._monotonic() + self.options.timeout

        def attempt(timeouts: Timeouts) -> Response:
            resp = self._send("GET", url, timeouts, deadline, headers=headers,
                              allow_redirects=True)
            if resp.status in _RETRY_STATUSES:
                raise self._status_error(resp)
            return resp

        resp = call_with_retries(attempt, self._retry, retryable=_transient,
                                 clock=self._monotonic)
        if resp.status == 304 or 200 <= resp.status < 300:
            if secure and not self._scheme_ok(resp.url, secure=True):
                raise UpstreamRejected(reason="insecure_redirect", network=self.network)
            return resp
        raise self._status_error(resp)

    def post_form(
        self,
        url: str,
        data: Mapping[str, str],
        *,
        headers: Mapping[str, str] | None = None,
        accept: str = "application/json",
    ) -> Response:
        """POST ``application/x-www-form-urlencoded``; never retried, never redirected (a
        redirect would replay the code and client secret to another URL).

        Returns 2xx and 4xx other than 429 (OAuth error bodies are the caller's to read).
        """
        self._check_url(url, secure=True)
        hdrs = {"Accept": accept, **(headers or {})}
        opts = self.options
        resp = self._send("POST", url, opts.attempt_timeouts(), self._monotonic() + opts.timeout,
                          headers=hdrs, data=dict(data), allow_redirects=False)
        if 200 <= resp.status < 300 or (400 <= resp.status < 500 and resp.status != 429):
            return resp
        raise self._status_error(resp)

    # -- internals ----------------------------------------------------------------------

    def _scheme_ok(self, url: str, *, secure: bool) -> bool:
        scheme = urlsplit(url).scheme
        if scheme == "https":
            return True
        return scheme == "http" and (not secure or self.options.insecure_transport)

    def _check_url(self, url: str, *, secure: bool) -> None:
        if not isinstance(url, str) or len(url) > _MAX_URL or not url.isprintable():
            raise UpstreamRejected(reason="bad_url", network=self.network)
        try:
            parts = urlsplit(url)
            host = parts.hostname
            has_credentials = bool(parts.username or parts.password)
            _ = parts.port  # raises ValueError for a malformed port
        except ValueError:
            raise UpstreamRejected(reason="bad_url", network=self.network) from None
        if not host or has_credentials or not self._scheme_ok(url, secure=secure):
            raise UpstreamRejected(reason="bad_url", network=self.network)

    def _send(
        self, method: str, url: str, timeouts: Timeouts, deadline: float, **kwargs: Any
    ) -> Response:
        """One attempt; the body must be read by ``deadline`` (the whole call's)."""
        try:
            raw = self._session.request(method, url, stream=True, timeout=timeouts, **kwargs)
        except ConnectorError as exc:
            exc.network = self.network
            raise
        except requests.Timeout as exc:
            raise self._unavailable("timeout", exc) from None
        except requests.TooManyRedirects as exc:
            raise UpstreamRejected(
                reason="too_many_redirects", detail=str(exc)[:200], network=self.network
            ) from None
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema) as exc:
            raise UpstreamRejected(
                reason="bad_url", detail=str(exc)[:200], network=self.network
            ) from None
        except requests.ConnectionError as exc:
            if isinstance(getattr(exc, "reason", None), str):
                # An injected session's guard refused and named why (hub/outbound.py).
                raise _Refused(detail=f"{type(exc).__name__}: {str(exc)[:300]}",
                               network=self.network) from None
            raise self._unavailable(_reason(exc), exc) from None
        except _TRANSPORT_ERRORS as exc:
            raise self._unavailable(_reason(exc), exc) from None
        with raw:
            body = self._read_body(raw, deadline) if raw.status_code != 304 else b""
            return Response(
                status=raw.status_code,
                url=raw.url,
                headers=CaseInsensitiveDict(raw.headers),
                body=body,
            )

    def _read_body(self, raw: requests.Response, deadline: float) -> bytes:
        cap = self.options.max_bytes
        declared = raw.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap:
            raise InvalidUpstreamData(
                reason="too_large", detail=f"Content-Length {declared}", network=self.network
            )
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in raw.iter_content(_CHUNK):
                size += len(chunk)
                if size > cap:
                    raise InvalidUpstreamData(
                        reason="too_large", detail=f"more than {cap} bytes", network=self.network
                    )
                if self._monotonic() > deadline:
                    raise UpstreamUnavailable(reason="timeout", network=self.network,
                                              detail="body not read within the budget")
                chunks.append(chunk)
        except ConnectorError:
            raise
        except _TRANSPORT_ERRORS as exc:
            raise self._unavailable(_reason(exc), exc) from None
        return b"".join(chunks)

    def _unavailable(self, reason: str, exc: BaseException) -> UpstreamUnavailable:
        return UpstreamUnavailable(
            reason=reason, detail=f"{type(exc).__name__}: {str(exc)[:300]}", network=self.network
        )

    def _status_error(self, resp: Response) -> ConnectorError:
        status = resp.status
        if status == 429 or status >= 500:
            return UpstreamUnavailable(
                reason=f"http_{status}",
                retry_after=_retry_after(resp.headers),
                network=self.network,
            )
        if status == 401:
            # RFC 6750 §3.1: the access token is expired or revoked; refresh or relink.
            return UpstreamRejected(reason="invalid_token", network=self.network)
        return UpstreamRejected(reason=f"http_{status}", network=self.network)
