"""Fixtures: a running hub (both backends, like tests/flows) on a database of its own, with
the live register interfaces (BIG, NPPES) pointed at a local fake, so no test touches the
network.

Its own database and store prefix, because hubs sharing one database must share their
instance secrets (key-encryption key, pairwise salt), and these tests sign in often enough
to trip the per-address sign-in throttle the flow tests share.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from hub import create_app
from hub.verification import registry
from tests.conftest import PG_URL, Backend, _pg_schema_url
from tests.flows.conftest import Browser, RunningHub, _Late, make_settings
from tests.verification_flows.registers import FakeRegisters


@pytest.fixture(scope="session")
def verification_database_url(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import hub.persistence.models  # noqa: F401  (every table)
    from hub.persistence.db import Base, Database
    from hub.persistence.schema import upgrade

    if backend.name == "sqlite":
        gen: Iterator[str] = iter([f"sqlite:///{tmp_path_factory.mktemp('vdb')}/curbside.db"])
    else:
        gen = _pg_schema_url(PG_URL)
    url = next(gen)
    db = Database(url)
    upgrade(db)
    Base.metadata.create_all(db.engine, checkfirst=True)  # tables whose migration is pending
    db.engine.dispose()
    yield url
    next(gen, None)


@pytest.fixture(scope="session")
def fake_registers() -> Iterator[FakeRegisters]:
    fake = FakeRegisters()
    yield fake
    fake.close()


@pytest.fixture(scope="session")
def running_hub(backend: Backend, verification_database_url: str, fake_registers: FakeRegisters,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    late = _Late()
    server = make_server("127.0.0.1", 0, late, threaded=True)
    issuer = f"http://127.0.0.1:{server.server_port}"
    # The live registers are the local fake, through the settings an operator uses; it
    # listens on 127.0.0.1, which the hub's outbound guard refuses unless told otherwise.
    settings = make_settings(backend, tmp_path_factory.mktemp("vinstance"), issuer=issuer,
                             database_url=verification_database_url, outbound_allow_local=True,
                             big_endpoint=f"{fake_registers.base}/big",
                             nppes_api_url=f"{fake_registers.base}/nppes")
    app = create_app(settings, store_prefix=f"v{backend.redis_prefix}:")
    hub: Any = app.extensions["curbside"]
    hub.keys.ensure()
    late.app = app
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield RunningHub(issuer, app, hub)
    server.shutdown()
    hub.db.engine.dispose()


@pytest.fixture
def browser(running_hub: RunningHub) -> Browser:
    return Browser(running_hub)


@pytest.fixture(autouse=True)
def _registers_are_up(running_hub: RunningHub, fake_registers: FakeRegisters) -> Iterator[None]:
    """Every test starts with the fake registers up and the hub's circuit breakers closed
    (an outage one test stages must not leak into the next)."""
    yield
    fake_registers.reset()
    for verifier in registry.for_hub(running_hub.hub).values():
        breaker = getattr(verifier, "breaker", None)
        if breaker is not None:
            breaker.record_success()
