"""Linking in the same hub session, unlinking, and brokered sign-in with a linked account."""

from __future__ import annotations

from typing import Any

import pyotp
from sqlalchemy import select

from hub.links import links_for
from hub.persistence.models.links import AccountLink, FeedItem, LinkToken
from tests.connectors.connector_fakes import GOOD_TITLES, SUBJECT
from tests.flows.conftest import Browser, RelyingParty, callback_params
from tests.links.linkkit import Doctor, Net, make_due


def _link_row(hub: Any, doctor_id: str, network: str) -> AccountLink:
    with hub.db.session() as s:
        return s.scalars(select(AccountLink).where(AccountLink.doctor_id == doctor_id,
                                                   AccountLink.network == network)).one()


def test_link_records_evidence_encrypts_tokens_and_pulls(hub: Any, doctor: Doctor,
                                                          make_net: Any) -> None:
    net: Net = make_net("oidc")
    page = doctor.link(net)
    assert page.status_code == 200 and "Linked networks" in page.text
    row = _link_row(hub, doctor.id, net.name)
    assert row.state == "active" and row.proves_control
    assert (row.issuer, row.subject) == (net.fake.base, SUBJECT)
    assert row.acr == "urn:mace:incommon:iap:silver" and row.linked_at is not None
    with hub.db.session() as s:
        token = s.get(LinkToken, row.id)
    assert token is not None
    issued = list(net.fake.access_tokens)
    assert issued and all(t not in token.ciphertext for t in issued)  # encrypted at rest
    # The link enqueued a first pull: the items are in the feed, with links back.
    feed = doctor.page("/feed").text
    for title in GOOD_TITLES:
        assert title in feed
    assert f'href="{net.fake.base}/posts/p1"' in feed
    assert net.fake.auth_requests[-1]["scope"] == "openid profile"  # minimal scope


def test_callback_replay_and_other_session_refused(hub: Any, doctor: Doctor, make_net: Any,
                                                   running_hub: Any) -> None:
    net: Net = make_net("oidc")
    resp = doctor.browser.post(f"{running_hub.issuer}/account/links/{net.name}/begin",
                               {"csrf": doctor.csrf()})
    upstream = doctor.browser.get(resp.headers["Location"])
    callback = upstream.headers["Location"]
    # Another browser (another hub session) cannot complete it ...
    other = Browser(running_hub)
    assert other.get(callback).status_code == 400
    # ... and the state was consumed, so the doctor cannot replay it either.
    assert doctor.browser.get(callback).status_code == 400
    with hub.db.session() as s:
        assert s.scalars(select(AccountLink).where(AccountLink.network == net.name,
                                                   AccountLink.state == "active")).first() is None


def test_one_upstream_account_belongs_to_one_doctor(hub: Any, doctor: Doctor, make_net: Any,
                                                    running_hub: Any) -> None:
    net: Net = make_net("oidc")
    doctor.link(net)
    other_account = running_hub.doctor()
    b = Browser(running_hub)
    b.login(b.get(running_hub.issuer + "/account"), other_account.email)
    other = Doctor(running_hub, b, other_account)
    page = other.link(net)
    assert page.status_code == 400 and "already linked to another" in page.text
    assert _link_row(hub, doctor.id, net.name).state == "active"


def test_unlink_revokes_deletes_tokens_and_stops_relay(hub: Any, doctor: Doctor,
                                                       make_net: Any) -> None:
    net: Net = make_net("oauth2-json")
    doctor.link(net)
    row = _link_row(hub, doctor.id, net.name)
    with hub.db.session() as s:
        assert s.scalars(select(FeedItem).where(FeedItem.link_id == row.id)).first() is not None
    issued = set(net.fake.access_tokens) | set(net.fake.refresh_tokens)
    resp = doctor.browser.post(f"{doctor.hub.issuer}/account/links/{row.id}/unlink",
                               {"csrf": doctor.csrf()})
    assert resp.status_code == 303
    assert set(net.fake.revoked) & issued  # RFC 7009 at the network
    with hub.db.session() as s:
        assert s.get(LinkToken, row.id) is None
        assert s.scalars(select(FeedItem).where(FeedItem.link_id == row.id)).first() is None
        assert s.get(AccountLink, row.id).state == "revoked"
    make_due(hub, doctor)
    before = len(net.fake.request_log)
    links_for(hub).relay.run_due()
    assert not any(p.startswith("/api/posts") for _, p, _ in net.fake.request_log[before:])
    assert GOOD_TITLES[0] not in doctor.page("/feed").text


def test_brokered_signin_with_a_linked_account(hub: Any, doctor: Doctor, make_net: Any,
                                               running_hub: Any) -> None:
    net: Net = make_net("oidc", display_name="Artsennet")
    doctor.link(net)
    creds = running_hub.client(redirect_uris=["https://network.example/cb"])
    rp = RelyingParty(running_hub, creds)
    b = Browser(running_hub)  # a fresh browser: not signed in to the hub
    url, _ = rp.authorization_url()
    login = b.get(url)
    assert "Sign in with Artsennet" in login.text
    fields = Browser.hidden(login)
    go = b.post(f"{running_hub.issuer}/links/signin/{net.name}", {"pending": fields["pending"]})
    assert go.status_code == 303 and go.headers["Location"].startswith(net.fake.base)
    back = b.get(b.get(go.headers["Location"]).headers["Location"])
    final = b.through(back, doctor.account.email)
    tokens = rp.exchange(callback_params(final))
    claims = rp.validate_id_token(tokens["id_token"])
    assert claims["sub"]
    assert b.get(running_hub.issuer + "/account").status_code == 200  # hub session too


def test_unknown_upstream_account_never_signs_in(hub: Any, make_net: Any,
                                                 running_hub: Any) -> None:
    net: Net = make_net("oidc", display_name="Nobody linked")
    creds = running_hub.client(redirect_uris=["https://network.example/cb"])
    rp = RelyingParty(running_hub, creds)
    b = Browser(running_hub)
    url, _ = rp.authorization_url()
    fields = Browser.hidden(b.get(url))
    go = b.post(f"{running_hub.issuer}/links/signin/{net.name}", {"pending": fields["pending"]})
    back = b.get(b.get(go.headers["Location"]).headers["Location"])
    assert back.status_code == 403 and "No Curbside account is linked" in back.text
    assert b.get(running_hub.issuer + "/account").status_code == 200  # the login page again
    assert 'action="/login"' in b.get(running_hub.issuer + "/account").text


def test_a_brokered_sign_in_cannot_replace_the_doctors_second_factor(
        hub: Any, doctor: Doctor, make_net: Any, running_hub: Any) -> None:
    """Found in review (2026-12): amr "fed" proves the upstream account only, so it must not
    re-enrol TOTP over the factor the doctor already has (NIST SP 800-63B §6.1.2.1)."""
    net: Net = make_net("oidc", display_name="Artsennet")
    doctor.link(net)
    enrol = doctor.page("/account/mfa")
    secret = enrol.text.split('id="totp-secret">')[1].split("<")[0]
    done = doctor.browser.post(f"{running_hub.issuer}/account/mfa",
                               {"csrf": Browser.hidden(enrol)["csrf"], "otp": pyotp.TOTP(secret).now()})
    assert done.status_code == 200 and 'id="recovery-codes"' in done.text
    # Whoever controls the linked upstream account signs in to the hub through it ...
    b = Browser(running_hub)
    rp = RelyingParty(running_hub, running_hub.client(redirect_uris=["https://network.example/cb"]))
    url, _ = rp.authorization_url()
    fields = Browser.hidden(b.get(url))
    go = b.post(f"{running_hub.issuer}/links/signin/{net.name}", {"pending": fields["pending"]})
    back = b.get(b.get(go.headers["Location"]).headers["Location"])
    # ... is asked for the doctor's code (tests/links/test_brokered_second_factor.py), has
    # no session, and so never sees the enrolment page.
    assert 'name="otp"' in back.text
    page = b.get(f"{running_hub.issuer}/account/mfa")
    assert 'id="totp-secret"' not in page.text
    # A session that did not prove the second factor (one opened before enrolment) is
    # refused the enrolment page and the enrolment itself.
    old = doctor.page("/account/mfa")
    assert old.status_code == 403 and 'id="totp-secret"' not in old.text
    swap = doctor.browser.post(f"{running_hub.issuer}/account/mfa",
                               {"csrf": doctor.csrf(), "otp": pyotp.TOTP(pyotp.random_base32()).now()})
    assert swap.status_code == 403 and 'id="recovery-codes"' not in swap.text
    # The doctor's own authenticator still signs her in.
    assert hub.accounts.check_second_factor(hub.accounts.get(doctor.id),
                                            pyotp.TOTP(secret).now()) == "otp"


def test_a_brokered_sign_in_cannot_link_another_network(hub: Any, doctor: Doctor, make_net: Any,
                                                        running_hub: Any) -> None:
    """Found in review (2026-12): a session that came through one linked network must not
    bind a second upstream account, a way in that would outlive unlinking the first."""
    first: Net = make_net("oidc", display_name="Artsennet")
    second: Net = make_net("oidc", display_name="Other network")
    doctor.link(first)
    b = Browser(running_hub)
    rp = RelyingParty(running_hub, running_hub.client(redirect_uris=["https://network.example/cb"]))
    url, _ = rp.authorization_url()
    fields = Browser.hidden(b.get(url))
    go = b.post(f"{running_hub.issuer}/links/signin/{first.name}", {"pending": fields["pending"]})
    b.get(b.get(go.headers["Location"]).headers["Location"])
    account = b.get(running_hub.issuer + "/account")
    assert account.status_code == 200
    # The links page offers no button that would be refused, and says what works instead.
    links = b.get(running_hub.issuer + "/account/links")
    assert "Link Other network" not in links.text and "needs your own Curbside sign-in" in links.text
    assert "Link Other network" in doctor.page("/account/links").text  # her password session
    refused = b.post(f"{running_hub.issuer}/account/links/{second.name}/begin",
                     {"csrf": Browser.hidden(account)["csrf"]})
    assert refused.status_code == 403 and "password" in refused.text
    with hub.db.session() as s:
        assert s.scalars(select(AccountLink).where(AccountLink.doctor_id == doctor.id,
                                                   AccountLink.network == second.name)).first() is None
    # The doctor's password session still links it.
    assert doctor.link(second).status_code == 200
    assert _link_row(hub, doctor.id, second.name).state == "active"
