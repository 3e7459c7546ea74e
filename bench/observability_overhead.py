"""Benchmark: what the observability middleware (hub/ops/metrics.py) adds to a request.

Calls the app in-process, without a server, for a cheap request (the discovery document,
answered from memory by the protocol lane) and a Flask page that is not found, with and
without the middleware, and prints the median per-request cost of each and the difference.
Metrics are recorded as under ``hub serve`` (multiprocess files) unless --single-process.

    python bench/observability_overhead.py [--requests N] [--single-process] [--json-logs]
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def per_request(apps: list[Any], path: str, n: int) -> list[float]:
    """For each app, the fastest of 21 rounds of n calls, in microseconds per call (the
    least disturbed by other work on the machine); the apps take turns round by round."""
    environ_base = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "SERVER_NAME": "127.0.0.1",
                    "SERVER_PORT": "5000", "wsgi.url_scheme": "http", "SERVER_PROTOCOL": "HTTP/1.1",
                    "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr, "QUERY_STRING": ""}

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        pass

    rounds: list[list[float]] = [[] for _ in apps]
    for _ in range(21):
        for app, times in zip(apps, rounds, strict=True):
            t = time.perf_counter()
            for _ in range(n):
                body = app(dict(environ_base), start_response)
                getattr(body, "close", lambda: None)()
            times.append((time.perf_counter() - t) / n * 1e6)
    return [min(times) for times in rounds]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--single-process", action="store_true")
    parser.add_argument("--json-logs", action="store_true")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    if not args.single_process:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tmp
    from hub import create_app
    from hub.persistence.schema import upgrade
    from hub.settings import Settings

    settings = Settings.from_env({}, issuer="http://127.0.0.1:5000", insecure_transport=True,
                                 database_url=f"sqlite:///{tmp}/hub.db", instance_dir=tmp,
                                 metrics_token="t" * 40, log_format="json" if args.json_logs else "text")
    app = create_app(settings)
    upgrade(app.extensions["curbside"].db)
    app.extensions["curbside"].keys.ensure()
    if args.json_logs:  # measure formatting, not the terminal
        for h in logging.getLogger().handlers:
            if hasattr(h, "setStream"):
                h.setStream(open(os.devnull, "w"))  # noqa: SIM115
    from hub.ops.metrics import Observability

    outer = app.wsgi_app
    inner = outer.app

    def constant(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]

    wrapped = Observability(constant, engine=app.extensions["curbside"].db.engine,
                            settings=settings)
    cases = [("/.well-known/openid-configuration", inner, outer),
             ("/no-such-page", inner, outer),
             ("/jwks (constant app)", constant, wrapped)]
    for name, without_mw, with_mw in cases:
        without, with_ = per_request([without_mw, with_mw], name.split()[0], args.requests)
        print(f"{name:36} without {without:7.1f} µs  with {with_:7.1f} µs  added {with_ - without:6.1f} µs")


if __name__ == "__main__":
    main()
