"""``hub demo`` shows everything a newcomer should see, with only what it prints: the demo
doctor is verified (the partner network shows verified_claims), the printed admin and
operator credentials open the console and the portal, the two communities' posts reach the
merged feed once each, a network joins by OpenID Federation with no admin step, and the
background polling writes nothing on the console."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyotp
import pytest
import requests

from hub.verification.vocabulary import REGISTRATIONS_CLAIM
from tests.demo.conftest import PORTS, Demo, _free_block, sign_in_at_hub, start_demo, stop_demo


def _continue_if_asked(page: Any) -> None:
    consent = page.get_by_role("button", name="Continue", exact=True)
    try:
        consent.wait_for(timeout=5000)
    except Exception:  # noqa: BLE001 - no consent page: consent given before
        return
    consent.click()


def _pre(page: Any, heading: str) -> dict[str, Any]:
    text = page.locator(f"h2:text-is('{heading}') + pre").inner_text()
    return dict(json.loads(text))


def test_the_partner_network_shows_the_verified_doctor(page: Any, demo: Demo) -> None:
    network = demo.url("Partner network (start here)")
    assert network.startswith("http://localhost:")
    assert demo.url("Hub (OpenID Provider)").startswith("http://localhost:")  # a WebAuthn RP id
    page.goto(network + "/")
    page.get_by_role("link", name="Sign in with Curbside").click()
    sign_in_at_hub(page, demo)
    _continue_if_asked(page)
    page.get_by_text("Signed in as").wait_for()
    assert "Anna de Vries" in page.locator("p", has_text="Signed in as").inner_text()
    assert "Verified physician: BIG-register (register_match)" in page.locator("#verified").inner_text()
    vc = _pre(page, "Userinfo")["verified_claims"]
    assert vc["verification"]["assurance_level"] == "register_match"
    evidence = vc["verification"]["evidence"][0]
    assert evidence["record"]["source"]["name"] == "BIG-register"
    registration = vc["claims"][REGISTRATIONS_CLAIM]
    assert [(r["register"], r["status"]) for r in registration] == [("nl-big", "active")]
    # The demo loaded its register copy as an operator loads one (three invented rows).
    assert demo.query("SELECT file_name, status FROM register_imports WHERE register = 'nl-big'") == [
        ("big-register-demo.xml", "done")]
    assert demo.query("SELECT count(*) FROM register_records WHERE register = 'nl-big'") == [(3,)]


def test_the_printed_admin_credentials_open_the_console(page: Any, demo: Demo) -> None:
    console = demo.url("Admin console")
    page.goto(console + "/login")
    page.get_by_label("Email address").fill(demo.value("Email", 0))
    page.get_by_label("Password").fill(demo.value("Password", 1))
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("6-digit code").fill(pyotp.TOTP(demo.value("TOTP secret", 0)).now())
    page.get_by_role("button", name=re.compile("continue", re.I)).click()
    page.get_by_role("heading", name="Dashboard").wait_for()


def test_the_printed_operator_credentials_open_the_portal(page: Any, demo: Demo) -> None:
    # Without an authenticator app: the demo-only codes page the output points to.
    page.goto(demo.value("Codes without an authenticator app (demo only)"))
    code = page.locator("#operator").inner_text().strip()
    assert pyotp.TOTP(demo.value("TOTP secret", 1)).verify(code, valid_window=1)  # the printed secret
    page.goto(demo.url("Operator portal") + "/login")
    page.get_by_label("Email address").fill(demo.value("Email", 1))
    page.get_by_label("Password").fill(demo.value("Password", 2))
    page.get_by_label("Code from your authenticator app").fill(code)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Your networks").wait_for()
    assert page.get_by_text("Demo Doctors Forum").count() >= 1  # the network this operator runs


def _feed(page: Any, hub: str) -> list[tuple[str, str]]:
    page.goto(hub + "/feed")
    items = page.locator("li.feed-item")
    return [(items.nth(i).get_attribute("data-network") or "",
             items.nth(i).locator("strong").inner_text()) for i in range(items.count())]


def test_the_merged_feed_shows_each_community_post_once(linked: Any, demo: Demo) -> None:
    hub, page = demo.url("Hub (OpenID Provider)"), linked
    deadline = time.monotonic() + 30
    items = _feed(page, hub)
    while {n for n, _ in items} != {"artsennet", "casus"}:
        assert time.monotonic() < deadline, items
        time.sleep(1)
        items = _feed(page, hub)
    # A new post is pushed by webhook and found again by the next poll: still one item.
    artsennet = demo.url("Artsennet")
    page.goto(artsennet + "/")
    page.get_by_label("Title").fill("Pushed and polled")
    page.get_by_role("button", name="Post").click()
    deadline = time.monotonic() + 30
    while ("artsennet", "Pushed and polled") not in (items := _feed(page, hub)):
        assert time.monotonic() < deadline, items
        time.sleep(1)
    time.sleep(14)  # a poll round of both communities (poll interval 10 s, relay every 3 s)
    items = _feed(page, hub)
    titles = [t for _, t in items]
    assert len(titles) == len(set(titles)), items  # no post twice, within or across communities
    assert titles.count("Pushed and polled") == 1
    assert "POST /links/webhooks/artsennet" not in demo.stderr()  # the push was accepted (only failures log)
    assert len(items) >= 7  # three seed posts per community, and the new one


def test_a_network_joins_by_federation_and_signs_the_doctor_in(page: Any, demo: Demo) -> None:
    federated = demo.url("Regional Care Network")
    anchor = re.search(r"trust anchor: (\S+)\)", demo.output).group(1)  # type: ignore[union-attr]
    config = requests.get(f"{federated}/.well-known/openid-federation", timeout=5)
    assert config.headers["Content-Type"].startswith("application/entity-statement+jwt")
    hub = demo.url("Hub (OpenID Provider)")
    clients = "SELECT status FROM clients WHERE client_id = ?"
    assert demo.query(clients, federated) == []  # nobody registered it
    page.goto(federated + "/")
    page.get_by_role("link", name="Sign in with Curbside").click()
    sign_in_at_hub(page, demo)
    _continue_if_asked(page)
    page.get_by_text("Signed in as").wait_for()
    claims = _pre(page, "ID token claims")
    assert claims["aud"] in (federated, [federated]) and claims["iss"] == hub
    vc = _pre(page, "Userinfo")["verified_claims"]
    assert vc["verification"]["assurance_level"] == "register_match"
    # Registered by the sign-in itself, active at once, on the demo anchor (no admin step).
    assert demo.query(clients, federated) == [("active",)]
    assert demo.query("SELECT kind, trust_anchor FROM federation_registrations WHERE client_id = ?",
                      federated) == [("automatic", anchor)]
    resolved = requests.get(f"{hub}/federation/resolve", params={"sub": federated, "trust_anchor": anchor},
                            timeout=10)
    assert resolved.status_code == 200, resolved.text


def test_polling_writes_nothing_on_the_console(linked: Any, demo: Demo) -> None:
    hub = demo.url("Hub (OpenID Provider)")
    deadline = time.monotonic() + 30
    while linked.locator(".status-ok").count() < 2:  # both polled at least once
        assert time.monotonic() < deadline, linked.content()
        time.sleep(1)
        linked.goto(hub + "/account/links")
    before = demo.stderr()
    time.sleep(10)  # the relay's rounds every 3 s, each community polled every 10 s
    new = demo.stderr()[len(before):]
    assert new == ""  # no request lines, no job lines: nothing at all
    # Failures still show: a bad request to a community is logged.
    requests.get(demo.url("Artsennet") + "/oidc/authorize", timeout=5)
    time.sleep(0.5)
    assert '"GET /oidc/authorize HTTP/1.1" 400' in demo.stderr(), demo.stderr()[-2000:]


def test_sign_in_with_a_community_works_once_linked_and_says_what_to_do_before(
        page: Any, linked: Any, demo: Demo) -> None:
    network = demo.url("Partner network (start here)")
    # Jan's Artsennet account is linked to nobody: the sign-in page comes back and says why.
    page.goto(network + "/")
    page.get_by_role("link", name="Sign in with Curbside").click()
    page.get_by_role("button", name="Sign in with Artsennet").click()
    page.get_by_role("button", name="Continue as Dr. Jan Jansen").click()
    alert = page.get_by_role("alert")
    assert "No Curbside account is linked to that Artsennet account yet" in alert.inner_text()
    assert "link Artsennet under Linked networks" in alert.inner_text()
    page.context.clear_cookies()
    # Ada's is linked to the demo doctor (the `linked` fixture): one click signs her in.
    page.goto(network + "/")
    page.get_by_role("link", name="Sign in with Curbside").click()
    page.get_by_role("button", name="Sign in with Artsennet").click()
    page.get_by_role("button", name="Continue as Dr. Ada Lovelace").click()
    _continue_if_asked(page)
    page.get_by_text("Signed in as").wait_for()
    assert "Anna de Vries" in page.locator("p", has_text="Signed in as").inner_text()


def _federated_sign_in(demo: Demo) -> str:
    """The federated network's sign-in with a plain HTTP client; returns its page."""
    federated = demo.url("Regional Care Network")
    hub = demo.url("Hub (OpenID Provider)")
    b = requests.Session()
    login = b.get(b.get(f"{federated}/login", allow_redirects=False).headers["Location"], timeout=10)
    assert login.status_code == 200 and 'action="/login"' in login.text, login.text[:500]
    pending = re.search(r'name="pending" value="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
    answer = b.post(f"{hub}/login", data={"pending": pending, "email": demo.value("Demo doctor"),
                                          "password": demo.value("Password")}, allow_redirects=False)
    if 'action="/consent"' in answer.text:
        fields = dict(re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"',
                                 answer.text))
        answer = b.post(f"{hub}/consent", data={**fields, "decision": "allow"}, allow_redirects=False)
    assert answer.status_code in (302, 303), answer.text[:500]
    return b.get(answer.headers["Location"], timeout=10).text


def test_a_restarted_demo_keeps_its_sign_ins_and_its_federation(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("restart")
    first = start_demo(folder, folder / "instance")
    try:
        assert "Signed in as" in _federated_sign_in(first)
    finally:
        stop_demo(first)
    again = start_demo(folder, folder / "instance", first.port)  # the same addresses
    try:
        # An authenticator app set up from the first run keeps working.
        assert [again.value("TOTP secret", i) for i in (0, 1)] == [
            first.value("TOTP secret", i) for i in (0, 1)]
        assert again.url("Regional Care Network") == first.url("Regional Care Network")
        # The network's keys are the ones the hub's cached trust chain holds.
        page = _federated_sign_in(again)
        assert "Signed in as" in page and "Anna de Vries" in page
    finally:
        stop_demo(again)
    assert "Traceback" not in again.stderr() + first.stderr()


def _printed_addresses(demo: Demo) -> set[str]:
    # As a newcomer copies them: up to a space, without the closing parenthesis around one.
    return {url.rstrip(")") for url in re.findall(r"https?://\S+", demo.output)}


def test_every_address_the_demo_prints_opens_as_printed(demo: Demo) -> None:
    printed = _printed_addresses(demo)
    assert len(printed) >= 12, demo.output
    for url in sorted(printed):
        answer = requests.get(url, timeout=10)  # redirects followed, as a browser does
        assert answer.status_code < 400, f"{url} answers {answer.status_code}"
    # The first start's schema migrations are not news to a newcomer.
    assert "alembic" not in demo.stderr(), demo.stderr()[:2000]


def test_the_readme_promises_only_addresses_the_demo_prints(demo: Demo) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    promised = re.findall(r"<(http://localhost:(\d+)(/[^>]*))>", readme)
    assert len(promised) >= 5
    printed = _printed_addresses(demo)
    for url, port, path in promised:
        # The README speaks of the default ports (5000 up); this demo runs from demo.port up.
        moved = f"http://localhost:{int(port) - 5000 + demo.port}{path}"
        assert moved in printed, f"the README's {url} is not among the demo's addresses"


def test_a_passkey_added_from_the_account_page_signs_the_demo_doctor_in(page: Any, demo: Demo) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True, "automaticPresenceSimulation": True}})
    account = demo.value("Your account")
    page.goto(account)
    sign_in_at_hub(page, demo)
    page.get_by_role("link", name="Add a passkey").click()
    page.get_by_label(re.compile("Name it after the device")).fill("Demo laptop")
    page.get_by_role("button", name="Add a passkey").click()
    page.locator("tr.passkey").filter(has_text="Not used yet").wait_for()
    page.goto(account)
    page.get_by_role("button", name="Sign out").click()
    page.goto(account)
    page.get_by_role("link", name="Sign in with a passkey").or_(
        page.get_by_role("button", name="Sign in with a passkey")).first.click()
    page.get_by_role("button", name="Use my passkey").click()
    # The passkey alone is both factors, but the account page, which says two-step sign-in
    # is off, should not call this a sign-in "with two steps".
    page.get_by_text(f"Signed in as {demo.value('Demo doctor')} with a passkey.").wait_for()


def test_a_busy_port_stops_the_demo_with_one_line_naming_the_options(tmp_path: Path) -> None:
    first = _free_block(PORTS)
    taken = first + 4  # one the demo derives from --network-port (its services)
    command = [str(Path(sys.executable).with_name("hub")), "demo", "--port", str(first),
               "--network-port", str(first + 1), "--instance", str(tmp_path / "instance")]
    with socket.socket() as holder:
        holder.bind(("localhost", taken))
        holder.listen()
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=tmp_path,
                              env={k: v for k, v in os.environ.items() if not k.startswith("CURBSIDE_")})
    assert done.returncode == 1
    said = done.stderr.strip()
    assert len(said.splitlines()) == 1 and "Traceback" not in said, said
    assert f"port {taken} is in use" in said and "--port" in said and "--network-port" in said
    assert not (tmp_path / "instance").exists()  # nothing migrated or seeded first
