"""Back-channel logout deliveries in production: partners in parallel, retries for more than a
day, leases, the ``hub logout`` commands and the queue figures, over real sockets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from hub.cli import Context, main
from hub.ops.metrics import queue_stats
from hub.persistence.db import utcnow
from hub.persistence.models.relying import LogoutDelivery
from hub.relying import backchannel
from tests.flows.conftest import Browser, RunningHub
from tests.relying.conftest import Receiver
from tests.relying.test_backchannel_logout import DEAD, network, rp_logout


class SilentPartner:
    """A back-channel endpoint that accepts connections and never answers a byte."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/backchannel"
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def silent() -> Iterator[SilentPartner]:
    partner = SilentPartner()
    yield partner
    partner.close()


def _settle(hub: Any) -> None:
    with hub.db.session() as s:
        s.execute(update(LogoutDelivery).where(LogoutDelivery.status == "pending")
                  .values(status="failed", last_error="settled by the test"))


@pytest.fixture(autouse=True)
def quiet_queue(running_hub: RunningHub) -> Iterator[None]:
    """The session's hub shares one queue: each test here starts and ends with nothing due, so
    the counts of a worker pass are this test's own (and other tests' stay theirs)."""
    _settle(running_hub.hub)
    yield
    _settle(running_hub.hub)


def _rows(hub: Any, client_id: str) -> list[LogoutDelivery]:
    with hub.db.session() as s:
        rows = list(s.scalars(select(LogoutDelivery).where(LogoutDelivery.client_id == client_id)
                              .order_by(LogoutDelivery.id)))
        s.expunge_all()
        return rows


def test_silent_partner_does_not_delay_another_partners_logout(running_hub: RunningHub,
                                                               receiver: Receiver,
                                                               silent: SilentPartner) -> None:
    hub = running_hub.hub
    slow = network(running_hub, "Silent Network", silent.url).creds["client_id"]
    good = network(running_hub, "Listening Network", receiver.url).creds["client_id"]
    # Several doctors signed out of the silent network first; their rows are due before the
    # listening network's one.
    for _ in range(4):
        assert backchannel.enqueue(hub, slow, running_hub.doctor().id, sid=None, trigger="test")
    doctor = running_hub.doctor()
    assert backchannel.enqueue(hub, good, doctor.id, sid=None, trigger="test")

    start = time.monotonic()
    worker = threading.Thread(target=backchannel.process_due, args=(hub,), daemon=True)
    worker.start()
    while not receiver.tokens and time.monotonic() - start < 30:
        time.sleep(0.05)
    waited = time.monotonic() - start
    silent_pending = backchannel.delivery_status(hub.db, slow)["pending"]
    worker.join(60)
    assert receiver.tokens, "the listening network got no logout token"
    assert waited < 15, f"the listening network waited {waited:.1f} s for the silent one"
    assert silent_pending == 4  # the silent network's deliveries were still unsettled then
    [claims] = receiver.claims(running_hub.issuer, good)
    assert claims["sub"] == hub.subject(doctor.id, hub.clients.get(good))
    # The silent network's attempt ran into the deadline and waits for its retry.
    tried = [r for r in _rows(hub, slow) if r.attempts]
    assert tried and all(r.status == "pending" and (r.last_error or "").startswith("deadline") for r in tried)


@pytest.fixture
def as_cli(running_hub: RunningHub, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run ``hub ...`` against the running hub (same database, keys and settings)."""
    monkeypatch.setattr(Context, "hub", property(lambda self: running_hub.hub))
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args))


def test_failed_delivery_is_retried_by_the_cli_and_then_delivered(running_hub: RunningHub,
                                                                   receiver: Receiver, as_cli: Any) -> None:
    hub = running_hub.hub
    client_id = network(running_hub, "Flaky Network", receiver.url).creds["client_id"]
    doctor = running_hub.doctor()
    receiver.status = 503
    row_id = backchannel.enqueue(hub, client_id, doctor.id, sid=None, trigger="test")
    assert backchannel.process_due(hub, max_attempts=1) == {"failed": 1}
    receiver.tokens.clear()

    listed = as_cli("logout", "list", "--status", "failed", "--client", client_id)
    assert listed.exit_code == 0, listed.output
    [line] = listed.output.splitlines()
    assert line.split("\t")[:4] == [str(row_id), client_id, "failed", "1"] and "HTTP 503" in line
    # Nothing is due until an operator says so.
    assert backchannel.process_due(hub, now=utcnow() + timedelta(days=3)) == {}

    receiver.status = 200
    r = as_cli("logout", "retry", str(row_id))
    assert r.exit_code == 0 and r.output.strip(), (r.output, r.exception)
    assert r.output.strip() == f"1 deliveries queued again: {row_id}"
    assert backchannel.process_due(hub) == {"delivered": 1}
    [claims] = receiver.claims(running_hub.issuer, client_id)
    assert claims["sub"] == hub.subject(doctor.id, hub.clients.get(client_id))
    assert as_cli("logout", "list", "--client", client_id).output.split("\t")[2] == "delivered"


def test_logout_cli_refuses_bad_ids_in_one_line(running_hub: RunningHub, receiver: Receiver,
                                                as_cli: Any) -> None:
    hub = running_hub.hub
    client_id = network(running_hub, "Patient Network", receiver.url).creds["client_id"]
    row_id = backchannel.enqueue(hub, client_id, running_hub.doctor().id, sid=None, trigger="test")
    for args, message in [(("retry", "987654321"), "Error: no delivery 987654321"),
                          (("retry", str(row_id)), f"Error: delivery {row_id} is pending, not failed"),
                          (("retry", "--client", "no-such-client"), "Error: no client 'no-such-client'"),
                          (("give-up", "987654321"), "Error: no delivery 987654321")]:
        r = as_cli("logout", *args)
        assert r.exit_code == 1 and r.output.strip() == message, r.output
        assert "Traceback" not in r.output
    r = as_cli("logout", "give-up", "abc")
    assert r.exit_code == 2 and "'abc' is not a valid integer" in r.output
    r = as_cli("logout", "retry")
    assert r.exit_code == 2 and "--all-failed" in r.output
    # give-up stops a pending delivery for good; retry --client brings it back.
    assert as_cli("logout", "give-up", str(row_id)).exit_code == 0
    assert backchannel.process_due(hub) == {}
    assert _rows(hub, client_id)[0].status == "failed"
    r = as_cli("logout", "retry", "--client", client_id)
    assert r.exit_code == 0 and r.output.strip() == f"1 deliveries queued again: {row_id}"
    assert backchannel.process_due(hub) == {"delivered": 1}
    assert len(receiver.claims(running_hub.issuer, client_id)) == 1


def test_two_concurrent_worker_passes_never_deliver_one_row_twice(running_hub: RunningHub,
                                                                  receiver: Receiver) -> None:
    hub = running_hub.hub
    clients = [network(running_hub, f"Busy Network {i}", receiver.url).creds["client_id"]
               for i in range(3)]
    queued = {backchannel.enqueue(hub, c, running_hub.doctor().id, sid=f"sid-{c}-{n}", trigger="test")
              for c in clients for n in range(4)}
    results: list[dict[str, int]] = []
    passes = [threading.Thread(target=lambda: results.append(backchannel.process_due(hub, threads=3)))
              for _ in range(2)]
    for t in passes:
        t.start()
    for t in passes:
        t.join(60)
    sids = [c["sid"] for c in receiver.claims(running_hub.issuer, set(clients))]
    assert len(sids) == len(set(sids)) == len(queued) == 12
    assert sum(r.get("delivered", 0) for r in results) == 12
    assert all(r.status == "delivered" and r.attempts == 1 for c in clients for r in _rows(hub, c))


def test_retries_go_on_for_more_than_a_day_with_growing_gaps(running_hub: RunningHub) -> None:
    hub = running_hub.hub
    client_id = network(running_hub, "Gone Network", DEAD).creds["client_id"]
    row_id = backchannel.enqueue(hub, client_id, running_hub.doctor().id, sid=None, trigger="test")
    [row] = _rows(hub, client_id)
    first = row.next_attempt_at
    attempts_at = []
    while row.status == "pending":
        attempts_at.append(row.next_attempt_at)
        backchannel.process_due(hub, now=row.next_attempt_at)
        [row] = _rows(hub, client_id)
        assert row.id == row_id
    assert row.status == "failed" and row.attempts == hub.settings.logout_max_attempts
    assert attempts_at[-1] - first > timedelta(hours=24)
    gaps = [(b - a).total_seconds() for a, b in zip(attempts_at, attempts_at[1:], strict=False)]
    assert 10 <= gaps[0] <= 12.5  # base delay plus at most 25 % jitter
    assert all(b > a for a, b in zip(gaps[:8], gaps[1:9], strict=False))  # doubling
    assert max(gaps) <= 3600 * 1.25 and gaps[-1] >= 3600


def test_logout_token_sub_is_computed_when_sent(running_hub: RunningHub, browser: Browser,
                                                receiver: Receiver) -> None:
    a = network(running_hub, "Network S1", None)
    b = network(running_hub, "Network S2", receiver.url)
    doctor = running_hub.doctor()
    token_a = a.sign_in(browser, doctor.email)
    id_b = b.validate_id_token(b.sign_in(browser, doctor.email)["id_token"])
    rp_logout(browser, a, token_a["id_token"])
    # The subject stored when the logout was queued went stale (a changed subject scheme).
    with running_hub.hub.db.session() as s:
        s.execute(update(LogoutDelivery).where(LogoutDelivery.client_id == b.creds["client_id"])
                  .values(sub="stale-subject"))
    assert backchannel.process_due(running_hub.hub) == {"delivered": 1}
    [claims] = receiver.claims(running_hub.issuer, b.creds["client_id"])
    assert claims["sub"] == id_b["sub"] != "stale-subject"


def test_queue_stats_give_depth_and_oldest_age_per_client(running_hub: RunningHub) -> None:
    hub = running_hub.hub
    client_id = network(running_hub, "Backlogged Network", DEAD).creds["client_id"]
    ids = [backchannel.enqueue(hub, client_id, running_hub.doctor().id, sid=None, trigger="test")
           for _ in range(3)]
    with hub.db.session() as s:
        s.execute(update(LogoutDelivery).where(LogoutDelivery.id == ids[0])
                  .values(created_at=utcnow() - timedelta(minutes=10)))
    with hub.db.session() as s:
        stats = queue_stats(s)
    mine = stats["clients"][client_id]
    assert mine["pending"] == 3 and 600 <= mine["oldest_pending_age"] < 700
    assert stats["pending"] >= 3 and stats["oldest_pending_age"] >= 600
    backchannel.give_up(hub, ids[0], actor="test")
    with hub.db.session() as s:
        mine = queue_stats(s)["clients"][client_id]
    assert mine["pending"] == 2 and mine["oldest_pending_age"] < 60
