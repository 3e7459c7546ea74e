"""Prometheus metrics: request counters and latencies, sign-ins, tokens, register checks, and
queue gauges read from the database at scrape time (docs/operator-guide.md, "Monitoring").

Under ``hub serve`` every gunicorn worker writes its counters to files in
``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode) and a scrape, answered
by any one worker, sums them. The mode is chosen by prometheus-client when a metric is
first made, so the metrics here are made on first use, never at import: ``hub serve`` sets
the directory before any worker records anything.

Labels are bounded: a request is labelled by its route template (``/clients/<client_id>``),
never its raw path; an unknown path is ``<unmatched>``, an unknown method ``other``.
"""

from __future__ import annotations

import functools
import hmac
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from flask import request as flask_request
from sqlalchemy import Engine, and_, create_engine, func, select
from sqlalchemy.pool import NullPool

from hub.ops.logging import RequestInfo, bind_request, log_access, request_id_for, unbind_request
from hub.persistence.db import utcnow
from hub.persistence.models.audit import AuditRecord
from hub.persistence.models.links import AccountLink, LinkNetwork, RelayState
from hub.persistence.models.relying import LogoutDelivery

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRICS_PATH = "/metrics"
UNMATCHED = "<unmatched>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds; the hub answers most requests in a few milliseconds, a sign-in's password hash
# takes ~50-100 ms, a register or partner call can take seconds.
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ROUTE_KEY = "curbside.route"
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def prometheus() -> Any:
    """prometheus-client, imported on first use and never at import: it fixes single- or
    multi-process mode from PROMETHEUS_MULTIPROC_DIR when it is first imported, and
    ``hub serve`` sets that directory after the hub's modules are loaded."""
    import prometheus_client.multiprocess  # the package, its exposition and its multiprocess mode

    return prometheus_client


class _Metrics:
    """The counters and histograms every process records into."""

    def __init__(self) -> None:
        prom = prometheus()
        CollectorRegistry, Counter, Histogram = prom.CollectorRegistry, prom.Counter, prom.Histogram
        # The *_created series exist only in one process; multiprocess mode drops them too.
        prom.disable_created_metrics()
        # Our own registry: the default one also holds process and GC collectors, which
        # describe one process and mean nothing summed over workers.
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("curbside_http_requests", "HTTP requests answered, by route "
                                "template, method and status.", ["route", "method", "status"], registry=r)
        self.duration = Histogram("curbside_http_request_duration_seconds", "Time to answer an HTTP "
                                  "request, by route template and method.", ["route", "method"],
                                  buckets=LATENCY_BUCKETS, registry=r)
        self.signins = Counter("curbside_signins", "Sign-ins completed for a network: authorization "
                               "codes issued, by client id.", ["client_id"], registry=r)
        self.tokens = Counter("curbside_tokens_issued", "Token responses issued, by grant type.",
                              ["grant_type"], registry=r)
        self.checks = Counter("curbside_verification_checks", "Register checks concluded, by "
                              "register and verdict.", ["register", "verdict"], registry=r)
        # Label lookups take a lock in prometheus-client; the request path keeps its own
        # children (bounded like the labels: routes x methods x statuses).
        self._request_children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def observe_request(self, route: str, method: str, status: str, seconds: float) -> None:
        key = (route, method, status)
        children = self._request_children.get(key)
        if children is None:
            children = (self.requests.labels(route, method, status), self.duration.labels(route, method))
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)


@functools.cache
def metrics() -> _Metrics:
    return _Metrics()


# One-line calls for the places where an event concludes -------------------------------

def count_signin(client_id: str) -> None:
    metrics().signins.labels(client_id).inc()


def count_token(grant_type: str | None) -> None:
    metrics().tokens.labels(grant_type or "unknown").inc()


def count_check(register: str, verdict: str) -> None:
    metrics().checks.labels(register or "unknown", verdict).inc()


# Gauges read at scrape time ----------------------------------------------------------

def _age(now: datetime, then: datetime | None) -> float:
    if then is None:
        return 0.0
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return max(0.0, (now - then).total_seconds())


def queue_stats(conn: Any, now: datetime | None = None) -> dict[str, Any]:
    """Depth of the back-channel logout queue and age of its oldest pending delivery, overall
    and per client, in one grouped query; ``conn`` is a SQLAlchemy Connection or Session.

    {"pending": n, "oldest_pending_age": seconds (0 when nothing is pending),
     "clients": {client_id: {"pending": n, "oldest_pending_age": seconds}}}
    """
    when = now or utcnow()
    rows = conn.execute(select(LogoutDelivery.client_id, func.count(), func.min(LogoutDelivery.created_at))
                        .where(LogoutDelivery.status == "pending")
                        .group_by(LogoutDelivery.client_id)).all()
    clients = {c: {"pending": int(n), "oldest_pending_age": _age(when, oldest)} for c, n, oldest in rows}
    ages = [v["oldest_pending_age"] for v in clients.values()]
    return {"pending": sum(v["pending"] for v in clients.values()),
            "oldest_pending_age": max(ages, default=0.0), "clients": clients}


class DatabaseCollector:
    """Queue depths and ages read from the tables the workers use, one cheap indexed query
    each, when Prometheus scrapes. A failing query reports ``curbside_collector_up 0``
    instead of failing the scrape."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Any]:
        GaugeMetricFamily = prometheus().metrics_core.GaugeMetricFamily
        up = GaugeMetricFamily("curbside_collector_up", "1 when the collector's database "
                               "query succeeded at this scrape.", labels=["collector"])
        now = datetime.now(UTC)
        for name, read in (("logout_queue", self._logout_queue), ("feed_relay", self._feed_relay),
                           ("audit_head", self._audit_head)):
            try:
                families = list(read(now))
            except Exception:  # noqa: BLE001 - a scrape must answer even when the database does not
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up

    def _logout_queue(self, now: datetime) -> Iterator[Any]:
        GaugeMetricFamily = prometheus().metrics_core.GaugeMetricFamily
        with self.engine.connect() as c:
            stats = queue_stats(c, now)  # the one query of the queue's figures
        yield GaugeMetricFamily("curbside_logout_queue_depth", "Back-channel logout deliveries "
                                "waiting (pending, retries included).", value=stats["pending"])
        yield GaugeMetricFamily("curbside_logout_queue_oldest_age_seconds", "Age of the oldest "
                                "pending back-channel logout delivery (0 when none).",
                                value=stats["oldest_pending_age"])

    def _feed_relay(self, now: datetime) -> Iterator[Any]:
        GaugeMetricFamily = prometheus().metrics_core.GaugeMetricFamily
        with self.engine.connect() as c:
            networks = list(c.scalars(select(LinkNetwork.name).where(LinkNetwork.enabled.is_(True))))
            # The same condition as hub.links.relay.Relay.due: what the scheduler should pull now.
            due = {row.network: (row.oldest, row.links) for row in c.execute(
                select(AccountLink.network, func.min(RelayState.next_due).label("oldest"),
                       func.count().label("links"))
                .join(AccountLink, AccountLink.id == RelayState.link_id)
                .join(LinkNetwork, LinkNetwork.name == AccountLink.network)
                .where(and_(RelayState.next_due <= now, AccountLink.state == "active",
                            AccountLink.paused.is_(False), LinkNetwork.enabled.is_(True)))
                .group_by(AccountLink.network))}
        lag = GaugeMetricFamily("curbside_feed_relay_lag_seconds", "How long the most overdue "
                                "feed pull of a network has been due (0 when none is).",
                                labels=["network"])
        waiting = GaugeMetricFamily("curbside_feed_relay_due_links", "Linked accounts of a "
                                    "network whose feed pull is due.", labels=["network"])
        for network in networks:
            oldest, links = due.get(network, (None, 0))
            lag.add_metric([network], _age(now, oldest))
            waiting.add_metric([network], links)
        yield lag
        yield waiting

    def _audit_head(self, now: datetime) -> Iterator[Any]:
        GaugeMetricFamily = prometheus().metrics_core.GaugeMetricFamily
        with self.engine.connect() as c:
            head = c.execute(select(AuditRecord.seq, AuditRecord.occurred_at)
                             .order_by(AuditRecord.seq.desc()).limit(1)).first()
        seq, at = head if head is not None else (0, None)
        yield GaugeMetricFamily("curbside_audit_head_sequence", "Sequence number of the newest "
                                "audit record (0 when the log is empty).", value=seq)
        yield GaugeMetricFamily("curbside_audit_head_timestamp_seconds", "Unix time of the newest "
                                "audit record (0 when the log is empty).",
                                value=at.timestamp() if at is not None else 0)


class Scrape:
    """What one scrape shows: the recorded metrics (summed over workers in multiprocess
    mode) and the database gauges."""

    def __init__(self, engine: Engine) -> None:
        self.database = DatabaseCollector(engine)

    def collect(self) -> Iterator[Any]:
        directory = os.environ.get(MULTIPROC_ENV)
        if directory:
            yield from prometheus().multiprocess.MultiProcessCollector(None, path=directory).collect()
        else:
            yield from metrics().registry.collect()
        yield from self.database.collect()

    def exposition(self) -> bytes:
        return prometheus().generate_latest(self)  # type: ignore[no-any-return]


# Access control -------------------------------------------------------------------------

def authorized(environ: dict[str, Any], token: str) -> bool:
    """``Authorization: Bearer <token>`` (RFC 6750 §2.1), compared in constant time."""
    if not token:
        return True
    scheme, _, given = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8", "surrogateescape"), token.encode())


def metrics_app(scrape: Scrape, token: str) -> WSGIApp:
    """The WSGI app that answers a scrape: 401 without the token, the exposition with it."""
    content_type = prometheus().CONTENT_TYPE_LATEST

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not authorized(environ, token):
            body = b'{"error":"invalid_token","error_description":"A bearer token is required."}'
            start_response("401 Unauthorized", [
                ("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                ("WWW-Authenticate", 'Bearer realm="metrics"'), ("Cache-Control", "no-store")])
            return [body]
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Length", "0")])
            return [b""]
        body = scrape.exposition()
        start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body))),
                                  ("Cache-Control", "no-store")])
        return [body]

    return app


# The WSGI middleware ----------------------------------------------------------------------

class Observability:
    """Wraps the whole app once: a request id for every request (logged and returned in
    ``X-Request-ID``), the request counter and latency histogram, the JSON access record,
    and ``/metrics`` when it is served on the hub's own port."""

    def __init__(self, app: WSGIApp, *, engine: Engine, settings: Any) -> None:
        self.app = app
        self.trust_request_id = settings.trusted_proxies > 0
        self.json_access = settings.log_format == "json"
        self.record = bool(settings.metrics_token or settings.metrics_bind)
        # Served here only with a token; with a separate address it is served only there.
        self.metrics = (metrics_app(Scrape(engine), settings.metrics_token)
                        if settings.metrics_token and not settings.metrics_bind else None)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        method = environ.get("REQUEST_METHOD", "")
        info = RequestInfo(request_id_for(environ, trusted=self.trust_request_id),
                           method if method in METHODS else "other", environ)
        status = ["500"]

        def start(status_line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = status_line[:3]
            headers.append(("X-Request-ID", info.request_id))
            return start_response(status_line, headers, exc_info)

        scrape = self.metrics is not None and environ.get("PATH_INFO") == METRICS_PATH
        app = self.metrics if scrape and self.metrics is not None else self.app
        bound = bind_request(info)
        try:
            return app(environ, start)
        finally:
            seconds = time.perf_counter() - started
            route = METRICS_PATH if scrape else self.route(environ)
            info.route = route
            if self.record:
                metrics().observe_request(route, info.method, status[0], seconds)
            if self.json_access:
                log_access(status[0], seconds)
            unbind_request(bound)

    def route(self, environ: dict[str, Any]) -> str:
        # Set by the protocol app (hub/protocol/app.py) from its route table, and by Flask
        # when it matched a rule (see observe); anything else is one bounded label.
        route = environ.get(ROUTE_KEY)
        return UNMATCHED if route is None else str(route)


def observe(app: Any, *, engine: Engine, settings: Any) -> None:
    """Wrap the Flask app's WSGI app in :class:`Observability` (call last: outermost) and
    have Flask note the rule it matched, the route label of the request."""

    @app.url_value_preprocessor
    def note_route(endpoint: str | None, values: Any) -> None:
        if flask_request.url_rule is not None:
            flask_request.environ[ROUTE_KEY] = flask_request.url_rule.rule

    app.wsgi_app = Observability(app.wsgi_app, engine=engine, settings=settings)


# Serving: the multiprocess directory and the separate metrics address -----------------

def prepare_multiprocess_dir() -> str:
    """Give ``hub serve``'s workers an empty directory to write their metrics to: the
    operator's ``PROMETHEUS_MULTIPROC_DIR`` (emptied: files of a past run would be summed
    in), or a new temporary one. Call before any metric is recorded."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.unlink(os.path.join(directory, name))
    else:
        directory = tempfile.mkdtemp(prefix="curbside-metrics-")
        os.environ[MULTIPROC_ENV] = directory
    return directory


def remove_multiprocess_dir(directory: str) -> None:
    shutil.rmtree(directory, ignore_errors=True)


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn hook: a dead worker's live gauges no longer count (its counters stay)."""
    if os.environ.get(MULTIPROC_ENV):
        prometheus().multiprocess.mark_process_dead(worker.pid)


def parse_bind(bind: str) -> tuple[str, int]:
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("CURBSIDE_METRICS_BIND must be host:port")
    return host.strip("[]") or "127.0.0.1", int(port)


def serve_metrics(settings: Any) -> None:
    """gunicorn ``when_ready`` hook: answer scrapes on ``CURBSIDE_METRICS_BIND`` from a
    thread of the master (it sees every worker's files; the token applies there too).

    The master queries the database with a pool-less engine: no connection is held open
    across the forks of the workers it starts later."""
    if not settings.metrics_bind:
        return
    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

    host, port = parse_bind(settings.metrics_bind)
    engine = create_engine(settings.database_url, poolclass=NullPool)
    httpd = make_server(host, port, metrics_app(Scrape(engine), settings.metrics_token),
                        prometheus().exposition.ThreadingWSGIServer, handler_class=Quiet)
    threading.Thread(target=httpd.serve_forever, name="metrics", daemon=True).start()
