"""The five example policies at /authorize: a doctor who passes, one who is refused (and the page)."""

from __future__ import annotations

import html
from typing import Any

import pytest
import requests

from hub.persistence.models.grants import Consent
from tests.flows.conftest import Browser, RelyingParty, RunningHub, callback_params
from tests.relying.conftest import declare, set_policy, verify, withdraw


def network(hub: RunningHub, policy: str, scope: str = "openid profile email", **md: Any) -> RelyingParty:
    creds = hub.client(client_name=f"Net {policy}", **md)
    set_policy(hub, creds["client_id"], policy)
    return RelyingParty(hub, creds, scope=scope)


def refused(browser: Browser, rp: RelyingParty, email: str, **extra: Any) -> str:
    url, _ = rp.authorization_url(**extra)
    page = browser.through(browser.get(url), email)
    assert page.status_code == 403, (page.status_code, page.text[:300])
    assert "Location" not in page.headers
    return html.unescape(page.text)


def test_scandinavian_admits_danish_physician_and_refuses_dutch(running_hub: RunningHub) -> None:
    rp = network(running_hub, "scandinavian-doctors-only")
    dane, dutch = running_hub.doctor(), running_hub.doctor()
    verify(running_hub, dane, "dk-sst", "DK")
    verify(running_hub, dutch, "nl-big", "NL")
    token = rp.sign_in(Browser(running_hub), dane.email)
    assert rp.validate_id_token(token["id_token"])["sub"]
    text = refused(Browser(running_hub), rp, dutch.email)
    assert "This network accepts physicians verified in Denmark, Sweden or Norway." in text
    assert "Nothing you can change" in text and "/account/verification" not in text


def test_unverified_doctor_is_offered_verification(running_hub: RunningHub) -> None:
    rp = network(running_hub, "uk-gmc")
    text = refused(Browser(running_hub), rp, running_hub.doctor().email)
    assert "You cannot enter Net uk-gmc yet" in text
    assert 'href="/account/verification"' in text and "Start verification" in text


def test_uk_gmc_admits_gmc_doctor_and_refuses_big_doctor(running_hub: RunningHub) -> None:
    rp = network(running_hub, "uk-gmc")
    uk, nl = running_hub.doctor(), running_hub.doctor()
    verify(running_hub, uk, "uk-gmc", "GB")
    verify(running_hub, nl, "nl-big", "NL")
    assert rp.sign_in(Browser(running_hub), uk.email)["id_token"]
    text = refused(Browser(running_hub), rp, nl.email)
    assert "United Kingdom" in text or "General Medical Council" in text or "GMC" in text


def test_anonymous_us_refuses_nppes_only_and_releases_only_sub(running_hub: RunningHub) -> None:
    rp = network(running_hub, "anonymous-us")
    us = running_hub.doctor()
    # NPPES proves identity and a self-reported licence: the hub caps it at register_match,
    # below the register_and_id this policy asks for, even with an ID document.
    verify(running_hub, us, "us-nppes", "US", id_document=True)
    text = refused(Browser(running_hub), rp, us.email)
    assert "United States" in text or "US" in text


def test_anonymous_us_pairwise_release_for_admitted_doctor(running_hub: RunningHub) -> None:
    # The same rule with the Dutch register, which can reach register_and_id: the release
    # is sub (pairwise) and nothing else, whatever the scope asked for.
    from hub.relying.policy import store
    from tests.relying.conftest import EXAMPLES

    creds = running_hub.client(client_name="Anon NL")
    doc = (EXAMPLES / "anonymous-us.yaml").read_text().replace("[US]", "[NL]")
    store(running_hub.hub).set(creds["client_id"], doc, actor="test")
    rp = RelyingParty(running_hub, creds, scope="openid profile email")
    nl = running_hub.doctor()
    verify(running_hub, nl, "nl-big", "NL", id_document=True)
    claims = rp.validate_id_token(rp.sign_in(Browser(running_hub), nl.email)["id_token"])
    assert not {"name", "email", "given_name", "family_name"} & set(claims)
    assert claims["sub"] != nl.id


def test_clinical_forum_open_area_and_clinical_area(running_hub: RunningHub) -> None:
    rp = network(running_hub, "clinical-forum")
    nurse, gp = running_hub.doctor(), running_hub.doctor()
    declare(running_hub, nurse, "nurse")
    verify(running_hub, gp, "dk-sst", "DK")
    assert rp.sign_in(Browser(running_hub), nurse.email)["id_token"]  # open area by default
    text = refused(Browser(running_hub), rp, nurse.email, area="clinical")
    assert "physicians" in text
    assert rp.sign_in(Browser(running_hub), gp.email, area="clinical")["id_token"]


def test_honour_system_admits_declared_and_releases_only_its_claims(running_hub: RunningHub) -> None:
    rp = network(running_hub, "honour-system")
    declared, silent = running_hub.doctor(), running_hub.doctor()
    declare(running_hub, declared)
    token = rp.sign_in(Browser(running_hub), declared.email)
    claims = rp.validate_id_token(token["id_token"])
    assert "email" not in claims and "name" not in claims
    text = refused(Browser(running_hub), rp, silent.email)
    assert "State your profession" in text
    with running_hub.hub.db.session() as s:
        receipt = s.query(Consent).filter_by(doctor_id=declared.id, client_id=rp.creds["client_id"]).one()
        assert receipt.policy_version == "1"
        assert "email" not in receipt.claims


def test_prompt_none_refusal_is_access_denied(running_hub: RunningHub) -> None:
    rp = network(running_hub, "uk-gmc")
    other = RelyingParty(running_hub, running_hub.client())
    doctor = running_hub.doctor()
    b = Browser(running_hub)
    other.sign_in(b, doctor.email)
    url, _ = rp.authorization_url(prompt="none")
    assert callback_params(b.get(url))["error"] == "access_denied"


def test_withdrawn_licence_stops_refresh_and_userinfo(running_hub: RunningHub) -> None:
    rp = network(running_hub, "uk-gmc", scope="openid profile offline_access")
    doctor = running_hub.doctor()
    reg = verify(running_hub, doctor, "uk-gmc", "GB")
    token = rp.sign_in(Browser(running_hub), doctor.email)
    auth = (rp.creds["client_id"], rp.creds["client_secret"])
    r = requests.post(rp.meta["token_endpoint"], data={"grant_type": "refresh_token",
                                                       "refresh_token": token["refresh_token"]},
                      auth=auth, timeout=5)
    assert r.status_code == 200, r.text
    fresh = r.json()
    withdraw(running_hub, reg)
    ui = requests.get(rp.meta["userinfo_endpoint"],
                      headers={"Authorization": f"Bearer {fresh['access_token']}"}, timeout=5)
    assert ui.status_code == 401
    r = requests.post(rp.meta["token_endpoint"], data={"grant_type": "refresh_token",
                                                       "refresh_token": fresh["refresh_token"]},
                      auth=auth, timeout=5)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_withdrawn_licence_is_refused_with_a_way_back(running_hub: RunningHub) -> None:
    rp = network(running_hub, "uk-gmc")
    doctor = running_hub.doctor()
    withdraw(running_hub, verify(running_hub, doctor, "uk-gmc", "GB"))
    text = refused(Browser(running_hub), rp, doctor.email)
    assert "General Medical Council" in text or "United Kingdom" in text
    assert 'href="/account/verification"' in text


@pytest.mark.parametrize("doc,path", [
    ("version: 1\nclaims: {allowed: [sub]}\n"
     "access: {min_assurance_level: self_declared, jurisdiction: [DK]}\n",
     "/access/jurisdiction"),
    ("version: one\nclaims: {allowed: [sub]}\naccess: {min_assurance_level: self_declared}\n", "/version"),
    ("version: 1\nclaims: {allowed: [sub]}\naccess: {min_assurance_level: gold}\n",
     "/access/min_assurance_level"),
])
def test_bad_policy_document_names_the_field(running_hub: RunningHub, doc: str, path: str) -> None:
    from hub.relying.policy import store
    from policies import PolicyError

    creds = running_hub.client()
    with pytest.raises(PolicyError) as info:
        store(running_hub.hub).set(creds["client_id"], doc, actor="test")
    assert info.value.path == path
    assert str(info.value).startswith(path)
