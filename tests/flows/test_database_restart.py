"""After PostgreSQL drops the hub's connections (a restart, a failover), pages keep working."""

from __future__ import annotations

import psycopg

from tests.flows.conftest import Browser, RelyingParty, RunningHub


def _drop_pooled_connections(running_hub: RunningHub) -> int:
    """What a database restart does to the connections idle in the hub's ORM pool."""
    engine = running_hub.hub.db.engine
    idle = [engine.raw_connection() for _ in range(engine.pool.checkedin())]
    pids = [c.driver_connection.info.backend_pid for c in idle]
    for c in idle:
        c.close()  # back to the pool, still open on the client side
    url = engine.url.set(drivername="postgresql", query={})
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    return len(pids)


def test_the_account_page_survives_dropped_database_connections(
        running_hub: RunningHub, browser: Browser) -> None:
    if running_hub.hub.db.is_sqlite:  # in-process: there is no server to lose
        return
    doctor = running_hub.doctor(given_name="Piet")
    RelyingParty(running_hub, running_hub.client()).sign_in(browser, doctor.email)
    assert browser.get(f"{running_hub.issuer}/account").status_code == 200  # fills the pool
    assert _drop_pooled_connections(running_hub) >= 1
    page = browser.get(f"{running_hub.issuer}/account")
    assert page.status_code == 200
    assert "Piet" in page.text
