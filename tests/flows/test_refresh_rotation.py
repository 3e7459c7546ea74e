"""Refresh token rotation keeps one chain per grant (RFC 9700 §4.14.2, OAuth 2.1 §4.3.1).

Inside the reuse grace window a replayed refresh token gets the successor its first use
got (two tabs, a retried request), never a second one; outside it any reuse of a rotated
token revokes the whole grant, and that still holds after a replay inside the window.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from sqlalchemy import select

from hub.admin.history import doctor_history
from hub.domain.crypto import sha256_hex
from hub.persistence.models.grants import RefreshToken
from hub.worker import resolve
from tests.flows.conftest import Browser, RelyingParty, RunningHub


class Network:
    """A partner back-end refreshing with Authlib's client, as its token store would."""

    def __init__(self, hub: RunningHub, browser: Browser) -> None:
        self.rp = RelyingParty(hub, hub.client(), scope="openid profile offline_access")
        self.doctor = hub.doctor()
        self.first = self.rp.sign_in(browser, self.doctor.email)
        self.meta = self.rp.meta

    def refresh(self, refresh_token: str) -> requests.Response:
        creds = self.rp.creds
        session = OAuth2Session(creds["client_id"], creds["client_secret"])
        return session.post(self.meta["token_endpoint"], timeout=30,
                            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                            auth=(creds["client_id"], creds["client_secret"]))

    def userinfo(self, access_token: str) -> int:
        return requests.get(self.meta["userinfo_endpoint"], timeout=5,
                            headers={"Authorization": f"Bearer {access_token}"}).status_code


@pytest.fixture
def network(running_hub: RunningHub, browser: Browser) -> Network:
    return Network(running_hub, browser)


@pytest.fixture
def window_over(running_hub: RunningHub) -> Iterator[Any]:
    """Call to end the grace window (every rotated token is then past it)."""
    tokens = running_hub.hub.tokens

    def over() -> None:
        tokens.reuse_grace = 0
        time.sleep(0.05)

    yield over
    tokens.reuse_grace = running_hub.hub.settings.refresh_reuse_grace


def test_a_replay_inside_the_grace_window_gets_the_same_successor(network: Network) -> None:
    r0 = network.first["refresh_token"]
    a, b = network.refresh(r0), network.refresh(r0)
    assert a.status_code == 200 and b.status_code == 200, (a.text, b.text)
    assert a.json()["refresh_token"] == b.json()["refresh_token"] != r0
    # Both answers are usable: the concurrent tab is not signed out.
    assert network.userinfo(a.json()["access_token"]) == 200
    assert network.userinfo(b.json()["access_token"]) == 200
    assert network.refresh(b.json()["refresh_token"]).status_code == 200


def test_concurrent_refreshes_with_one_token_share_one_successor(network: Network) -> None:
    r0 = network.first["refresh_token"]
    start = threading.Barrier(4)
    answers: list[requests.Response] = []

    def refresh() -> None:
        start.wait()
        answers.append(network.refresh(r0))

    threads = [threading.Thread(target=refresh) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in answers] == [200] * 4, [r.text for r in answers]
    assert len({r.json()["refresh_token"] for r in answers}) == 1


@pytest.mark.parametrize("reused", ["the first token", "the replay's successor"])
def test_reuse_after_the_window_revokes_the_one_chain(running_hub: RunningHub, network: Network,
                                                      window_over: Any, reused: str) -> None:
    r0 = network.first["refresh_token"]
    a, b = network.refresh(r0).json(), network.refresh(r0).json()  # a replay inside the window
    assert a["refresh_token"] == b["refresh_token"]
    c = network.refresh(a["refresh_token"]).json()  # the chain goes on: r1 -> r2
    window_over()
    stale = r0 if reused == "the first token" else b["refresh_token"]
    reuse = network.refresh(stale)
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    # The whole grant is revoked: the live refresh token and every access token of it.
    assert network.refresh(c["refresh_token"]).json()["error"] == "invalid_grant"
    for t in (network.first, a, b, c):
        assert network.userinfo(t["access_token"]) == 401
    # The doctor's audit history names the network whose grant died, and why.
    [record] = [h for h in doctor_history(running_hub.hub.db, network.doctor.id)
                if h.event == "oidc:token:reuse_detected"]
    assert record.client_id == network.rp.creds["client_id"]


def test_the_successor_is_kept_sealed_and_only_for_the_grace_window(
        running_hub: RunningHub, network: Network, window_over: Any) -> None:
    r0 = network.first["refresh_token"]
    r1 = network.refresh(r0).json()["refresh_token"]

    def kept(token: str) -> str | None:
        with running_hub.hub.db.session() as s:
            return s.scalar(select(RefreshToken.successor)
                            .where(RefreshToken.token_hash == sha256_hex(token)))

    sealed = kept(r0)
    assert sealed and r1 not in sealed  # never in the clear in the database
    assert running_hub.hub.secrets.decrypt(sealed).decode() == r1
    window_over()
    network.refresh(r1)
    assert kept(r0) is None  # erased by the grant's next rotation once its window is over
    assert kept(r1) is not None
    # A chain that stops here: the worker's periodic job erases it.
    time.sleep(0.05)
    assert resolve("hub.domain.tokens:erase_stale_successors")(running_hub.hub)["erased"] >= 1
    assert kept(r1) is None
