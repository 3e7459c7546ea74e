"""Probes for orchestrators and load balancers: ``/healthz`` and ``/readyz``.

``/healthz`` says the process answers (restart it if not) and touches nothing else, so an
outage of the database or Redis never gets every hub process restarted at once.
``/readyz`` says whether this process can serve sign-ins now (send it traffic or not): the
database answers and its schema is the one the code needs, the store answers, and a key
can sign for every algorithm. A failing part is named, never described: the probe is
public, the detail goes to the log.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from werkzeug.wrappers import Request, Response

from hub.domain.keys import SUPPORTED_ALGS, KeyRing
from hub.ops.outage import describe
from hub.persistence.db import Database
from hub.persistence.schema import alembic_config
from hub.persistence.store import Store
from hub.protocol.guards import no_store_json

log = logging.getLogger("hub.health")
CACHE_FOR = 1.0  # seconds: a flood of probes costs one check a second, not one each


def healthz_response(hub: Any, request: Request) -> Response:
    return no_store_json(200, {"status": "alive"})


class Readiness:
    def __init__(self, db: Database, store: Store, keys: KeyRing) -> None:
        self.db = db
        self.store = store
        self.keys = keys
        self._lock = threading.Lock()
        self._last: tuple[float, dict[str, str]] | None = None
        self._head: str | None = None

    def checks(self) -> dict[str, str]:
        last = self._last
        if last is not None and time.monotonic() - last[0] < CACHE_FOR:
            return last[1]
        with self._lock:  # one check at a time; the others take its result
            last = self._last
            if last is not None and time.monotonic() - last[0] < CACHE_FOR:
                return last[1]
            found = self._check()
            self._last = (time.monotonic(), found)
            return found

    def _check(self) -> dict[str, str]:
        found = {"database": "ok", "schema": "ok", "store": "ok", "signing_keys": "ok"}
        try:
            if self._revision() != self._schema_head():
                found["schema"] = "not at the version this hub needs"
        except Exception as e:  # noqa: BLE001 - any failure of the probe is "not ready"
            log.warning("readiness: database unusable (%s)", describe(e))
            found["database"] = found["schema"] = "unreachable"
        try:
            self.store.ping()
        except Exception as e:  # noqa: BLE001
            log.warning("readiness: store unusable (%s)", describe(e))
            found["store"] = "unreachable"
        try:
            missing = set(SUPPORTED_ALGS) - self.keys.signing_algs()
            if missing:
                found["signing_keys"] = "no usable key for " + ", ".join(sorted(missing))
        except Exception as e:  # noqa: BLE001
            log.warning("readiness: signing keys not loaded (%s)", describe(e))
            found["signing_keys"] = "not loaded"
        return found

    def _revision(self) -> str | None:
        with self.db.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def _schema_head(self) -> str | None:
        if self._head is None:
            self._head = ScriptDirectory.from_config(alembic_config(self.db)).get_current_head()
        return self._head


def readyz_response(hub: Any, request: Request) -> Response:
    found = hub.readiness.checks()
    failing = [part for part, state in found.items() if state != "ok"]
    if not failing:
        return no_store_json(200, {"status": "ready", "checks": found})
    resp = no_store_json(503, {"status": "unavailable", "failing": failing, "checks": found})
    resp.headers["Retry-After"] = str(hub.settings.outage_retry_after)
    return resp
