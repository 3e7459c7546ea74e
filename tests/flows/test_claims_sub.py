"""A requested ``sub`` value in the ``claims`` parameter (OIDC Core §5.5.1, §3.1.2.2 point 4).

The hub answers positively only for the doctor that value names, compared as the asking
network sees the signed-in doctor: under ``prompt=none`` a mismatch is ``login_required``,
an interactive request asks for that doctor's sign-in. A value asked for at userinfo
constrains nothing: the rule is about the ID token.
"""

from __future__ import annotations

import json
from typing import Any

from tests.flows.conftest import Browser, RelyingParty, RunningHub, callback_params


def _claims(member: str, sub: Any) -> str:
    return json.dumps({member: {"sub": {"value": sub}}})


def _network(hub: RunningHub, host: str) -> RelyingParty:
    return RelyingParty(hub, hub.client(redirect_uris=[f"https://{host}/cb"]))


def _signed_in(hub: RunningHub, rp: RelyingParty) -> tuple[Browser, Any, str]:
    """A browser with a doctor signed in at ``rp``, and the doctor's sub there."""
    browser, doctor = Browser(hub), hub.doctor()
    sub = rp.validate_id_token(rp.sign_in(browser, doctor.email)["id_token"])["sub"]
    return browser, doctor, sub


def test_prompt_none_answers_only_for_the_requested_sub_as_this_network_sees_it(
        running_hub: RunningHub) -> None:
    rp = _network(running_hub, "ward-1.example")
    elsewhere = _network(running_hub, "ward-2.example")
    browser, ann, ann_sub = _signed_in(running_hub, rp)
    _, _, bob_sub = _signed_in(running_hub, rp)
    ann_sub_elsewhere = elsewhere.validate_id_token(elsewhere.sign_in(browser, ann.email)["id_token"])["sub"]
    assert ann_sub_elsewhere != ann_sub

    for other in (bob_sub, ann_sub_elsewhere):
        url, _ = rp.authorization_url(prompt="none", claims=_claims("id_token", other))
        params = callback_params(browser.get(url))
        assert params["error"] == "login_required" and "code" not in params
        assert params["iss"] == running_hub.issuer

    url, _ = rp.authorization_url(prompt="none", claims=_claims("id_token", ann_sub))
    token = rp.exchange(callback_params(browser.get(url)))
    assert rp.validate_id_token(token["id_token"])["sub"] == ann_sub


def test_an_interactive_request_for_another_sub_continues_only_as_that_doctor(
        running_hub: RunningHub) -> None:
    rp = _network(running_hub, "ward-3.example")
    browser, ann, _ = _signed_in(running_hub, rp)
    _, bob, bob_sub = _signed_in(running_hub, rp)

    url, _ = rp.authorization_url(claims=_claims("id_token", bob_sub))
    page = browser.get(url)
    assert 'action="/login"' in page.text  # Ann's session is not used for Bob
    params = callback_params(browser.login(page, ann.email))
    assert params["error"] == "login_required" and "code" not in params

    url, _ = rp.authorization_url(claims=_claims("id_token", bob_sub))
    token = rp.exchange(callback_params(browser.through(browser.get(url), bob.email)))
    assert rp.validate_id_token(token["id_token"])["sub"] == bob_sub


def test_a_sub_value_asked_for_at_userinfo_does_not_restrict_the_sign_in(running_hub: RunningHub) -> None:
    rp = _network(running_hub, "ward-4.example")
    browser, _, ann_sub = _signed_in(running_hub, rp)
    url, _ = rp.authorization_url(prompt="none", claims=_claims("userinfo", "someone-else"))
    token = rp.exchange(callback_params(browser.get(url)))
    assert rp.validate_id_token(token["id_token"])["sub"] == ann_sub


def test_a_sub_value_that_is_not_a_string_is_invalid_request(running_hub: RunningHub) -> None:
    rp = _network(running_hub, "ward-5.example")
    browser, _, _ = _signed_in(running_hub, rp)
    for bad in (42, "", None, ["x"]):
        url, _ = rp.authorization_url(prompt="none", claims=_claims("id_token", bad))
        params = callback_params(browser.get(url))
        assert params["error"] == "invalid_request" and "code" not in params, (bad, params)
