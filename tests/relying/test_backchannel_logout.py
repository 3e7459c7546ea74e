"""Back-Channel Logout 1.0 over real sockets: two networks, a receiver, a dead endpoint."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from hub.composition import build_hub
from hub.persistence.db import utcnow
from hub.relying import backchannel
from tests.flows.conftest import Browser, RelyingParty, RunningHub, callback_params
from tests.relying.conftest import Receiver

DEAD = "http://127.0.0.1:9/backchannel"  # discard port: nothing listens


def network(hub: RunningHub, name: str, uri: str | None, **md: object) -> RelyingParty:
    extra = {"backchannel_logout_uri": uri} if uri else {}
    return RelyingParty(hub, hub.client(client_name=name, **extra, **md))


def rp_logout(browser: Browser, rp: RelyingParty, id_token: str) -> None:
    q = urlencode({"id_token_hint": id_token, "post_logout_redirect_uri": "https://network.example/bye"})
    r = browser.get(f"{rp.meta['end_session_endpoint']}?{q}")
    assert r.status_code == 302, r.text[:300]


def test_logout_at_a_reaches_b_by_back_channel(running_hub: RunningHub, browser: Browser,
                                               receiver: Receiver) -> None:
    a = network(running_hub, "Network A", None)
    b = network(running_hub, "Network B", receiver.url, backchannel_logout_session_required=True)
    doctor = running_hub.doctor()
    token_a = a.sign_in(browser, doctor.email)
    # Single sign-on into B: no login page, only B's consent.
    url, _ = b.authorization_url()
    page = browser.get(url)
    assert 'action="/login"' not in page.text
    token_b = b.exchange(callback_params(browser.through(page, doctor.email)))
    id_b = b.validate_id_token(token_b["id_token"])

    rp_logout(browser, a, token_a["id_token"])
    assert receiver.tokens == []  # queued, not sent inline
    assert backchannel.process_due(running_hub.hub) == {"delivered": 1}
    [claims] = receiver.claims(running_hub.issuer, b.creds["client_id"])
    assert claims["sid"] == id_b["sid"] and claims["sub"] == id_b["sub"]
    status = backchannel.delivery_status(running_hub.hub.db, b.creds["client_id"])
    assert status["delivered"] == 1 and status["pending"] == 0
    # The doctor's hub session is over too: silent SSO into B now needs a login.
    url, _ = b.authorization_url(prompt="none")
    assert callback_params(browser.get(url))["error"] == "login_required"


def test_dead_endpoint_does_not_block_logout_and_ends_failed(running_hub: RunningHub, browser: Browser,
                                                             receiver: Receiver) -> None:
    a = network(running_hub, "Network A2", None)
    live = network(running_hub, "Live", receiver.url)
    dead = network(running_hub, "Dead", DEAD)
    doctor = running_hub.doctor()
    token_a = a.sign_in(browser, doctor.email)
    live.sign_in(browser, doctor.email)
    dead.sign_in(browser, doctor.email)
    rp_logout(browser, a, token_a["id_token"])
    first = backchannel.process_due(running_hub.hub, max_attempts=3)
    assert first == {"delivered": 1, "pending": 1}
    assert len(receiver.tokens) == 1
    dead_id = dead.creds["client_id"]
    st = backchannel.delivery_status(running_hub.hub.db, dead_id)
    assert st["pending"] == 1 and st["recent"][0]["attempts"] == 1
    # Not due again until the backoff has passed.
    assert backchannel.process_due(running_hub.hub, max_attempts=3) == {}
    later = utcnow() + timedelta(hours=2)
    assert backchannel.process_due(running_hub.hub, now=later, max_attempts=3) == {"pending": 1}
    later += timedelta(hours=2)
    assert backchannel.process_due(running_hub.hub, now=later, max_attempts=3) == {"failed": 1}
    st = backchannel.delivery_status(running_hub.hub.db, dead_id)
    assert st["failed"] == 1 and st["pending"] == 0 and st["recent"][0]["last_error"]


def test_admin_ending_sessions_notifies_each_network(running_hub: RunningHub, browser: Browser,
                                                     receiver: Receiver) -> None:
    b = network(running_hub, "Network B3", receiver.url)
    doctor = running_hub.doctor()
    token = b.sign_in(browser, doctor.email)
    sid = b.validate_id_token(token["id_token"])["sid"]
    running_hub.hub.end_doctor_sessions(doctor.id, reason="licence_withdrawn", actor="admin-1")
    backchannel.process_due(running_hub.hub)
    [claims] = receiver.claims(running_hub.issuer, b.creds["client_id"])
    assert claims["sid"] == sid


def test_a_hub_built_without_the_web_app_notifies_each_network_too(
        running_hub: RunningHub, browser: Browser, receiver: Receiver) -> None:
    """What a ``hub`` command or the worker ends (a licence withdrawal) reaches partner
    networks as well: every entry point gets its services from the composition root."""
    b = network(running_hub, "Network B5", receiver.url)
    doctor = running_hub.doctor()
    sid = b.validate_id_token(b.sign_in(browser, doctor.email)["id_token"])["sid"]
    command_hub = build_hub(running_hub.hub.settings, store_prefix="curbside-cli-test:")
    command_hub.end_doctor_sessions(doctor.id, reason="licence_withdrawn")
    backchannel.process_due(running_hub.hub)
    [claims] = receiver.claims(running_hub.issuer, b.creds["client_id"])
    assert claims["sid"] == sid


def test_discovery_advertises_back_channel_logout(running_hub: RunningHub) -> None:
    meta = running_hub.metadata()
    assert meta["backchannel_logout_supported"] is True
    assert meta["backchannel_logout_session_supported"] is True


def test_consent_revoke_and_sign_out_on_the_account_page(running_hub: RunningHub, browser: Browser,
                                                         receiver: Receiver) -> None:
    from hub.persistence.models.grants import Consent

    b = network(running_hub, "Network B4", receiver.url)
    c = network(running_hub, "Network C4", receiver.url)
    doctor = running_hub.doctor()
    b.sign_in(browser, doctor.email)
    c.sign_in(browser, doctor.email)
    csrf = browser.hidden(browser.get(f"{running_hub.issuer}/account"))["csrf"]
    with running_hub.hub.db.session() as s:
        consent_id = s.query(Consent).filter_by(doctor_id=doctor.id,
                                                client_id=b.creds["client_id"]).one().id
    r = browser.post(f"{running_hub.issuer}/account/consents/{consent_id}/revoke", {"csrf": csrf})
    assert r.status_code == 303
    backchannel.process_due(running_hub.hub)
    assert len(receiver.claims(running_hub.issuer, b.creds["client_id"])) == 1
    receiver.tokens.clear()
    r = browser.post(f"{running_hub.issuer}/account/logout", {"csrf": csrf})
    assert r.status_code == 200
    backchannel.process_due(running_hub.hub)
    ids = {b.creds["client_id"], c.creds["client_id"]}
    assert sorted(t["aud"] for t in receiver.claims(running_hub.issuer, ids)) == sorted(ids)
