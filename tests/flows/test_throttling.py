"""Sign-in throttling slows the guesser, not the doctor (OWASP "Slow Down Online Guessing
Attacks with Device Cookies"): an attacker's wrong passwords or codes never lock a doctor,
or an admin, out of the browser she signed in on before.

The hub here believes one proxy's X-Forwarded-For, so each browser of a test can come
from an address of its own, as attackers and hospitals do.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from werkzeug.serving import make_server

from hub import create_app
from tests.admin.conftest import ADMIN_PASSWORD, Console, new_admin
from tests.flows.conftest import (
    PASSWORD,
    Browser,
    RelyingParty,
    RunningHub,
    _Late,
    callback_params,
    make_settings,
)
from tests.flows.test_prompts_and_mfa import _enrol_totp

WRONG = "wrong password!"
DEVICE = "curbside_doctor_device"  # over https: __Host-curbside_doctor_device
ADMIN_DEVICE = "curbside_admin_device"


@pytest.fixture(scope="module")
def hub(backend: Any, database: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    late = _Late()
    server = make_server("127.0.0.1", 0, late, threaded=True)
    issuer = f"http://127.0.0.1:{server.server_port}"
    # The production defaults of every sign-in limit, but for the address's failures: the
    # tests' attackers share 203.0.113.0/24 with other tests' in the same store.
    settings = make_settings(backend, tmp_path_factory.mktemp("throttle-instance"), issuer=issuer,
                             trusted_proxies=1)
    app = create_app(settings, store_prefix=f"thr{backend.redis_prefix}:")
    h = app.extensions["curbside"]
    h.keys.ensure()
    late.app = app
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield RunningHub(issuer, app, h)
    server.shutdown()


_attackers = itertools.count()


def next_attacker() -> str:
    n = next(_attackers)
    return f"198.18.{n // 250}.{n % 250 + 1}"


def browser_at(h: RunningHub, address: str) -> Browser:
    b = Browser(h)
    b.s.headers["X-Forwarded-For"] = address
    return b


def try_password(b: Browser, rp: RelyingParty, email: str, password: str = WRONG) -> int:
    url, _ = rp.authorization_url(prompt="login")
    return b.login(b.get(url), email, password).status_code


def lock_out_untrusted_browsers(h: RunningHub, rp: RelyingParty, email: str) -> list[int]:
    """Guess the account's password from new browsers at addresses of their own until
    every browser without the account's device cookie is refused; the answers."""
    settings = h.hub.settings
    statuses: list[int] = []
    for _ in range(settings.login_max_per_account // settings.login_max_per_account_address + 1):
        b = browser_at(h, next_attacker())
        statuses += [try_password(b, rp, email) for _ in range(settings.login_max_per_account_address + 1)]
    return statuses


def test_an_attackers_wrong_passwords_do_not_lock_the_doctor_out_of_her_own_browser(hub: RunningHub) -> None:
    doctor = hub.doctor()
    rp = RelyingParty(hub, hub.client())
    own = browser_at(hub, "198.51.100.20")
    rp.sign_in(own, doctor.email)  # she signed in on this browser before

    statuses = lock_out_untrusted_browsers(hub, rp, doctor.email)
    assert len(statuses) > hub.hub.settings.login_max_per_account + 1
    assert statuses.count(401) == hub.hub.settings.login_max_per_account and statuses[-1] == 429
    # Every browser new to the account is refused now, even with the right password...
    assert try_password(browser_at(hub, "198.51.100.21"), rp, doctor.email, PASSWORD) == 429
    # ...but on her own browser a typo is a typo, and the right password signs her in.
    url, _ = rp.authorization_url(prompt="login")
    page = own.get(url)
    assert own.login(page, doctor.email, WRONG).status_code == 401
    token = rp.exchange(callback_params(own.login(page, doctor.email)))
    assert rp.validate_id_token(token["id_token"])["email"] == doctor.email


def test_a_shared_workstation_stays_trusted_for_each_doctor_who_signed_in_on_it(hub: RunningHub) -> None:
    ann, bob = hub.doctor(), hub.doctor()
    rp = RelyingParty(hub, hub.client())
    ward = browser_at(hub, "198.51.100.25")
    rp.sign_in(ward, ann.email)
    rp.sign_in(ward, bob.email)  # Bob's sign-in does not take Ann's device cookie away
    lock_out_untrusted_browsers(hub, rp, ann.email)
    token = rp.exchange(callback_params(ward.through(ward.get(rp.authorization_url(prompt="login")[0]),
                                                     ann.email)))
    assert rp.validate_id_token(token["id_token"])["email"] == ann.email


def test_a_new_browser_is_throttled_at_its_address_before_it_can_close_the_account(hub: RunningHub) -> None:
    doctor = hub.doctor()
    rp = RelyingParty(hub, hub.client())
    per_address = hub.hub.settings.login_max_per_account_address
    guesser = browser_at(hub, next_attacker())
    statuses = [try_password(guesser, rp, doctor.email) for _ in range(per_address + 3)]
    assert statuses == [401] * per_address + [429] * 3
    assert try_password(guesser, rp, doctor.email, PASSWORD) == 429
    # Its refused attempts did not use up the account: the doctor, on a workstation new to
    # her at the hospital, signs in.
    token = rp.sign_in(browser_at(hub, "198.51.100.30"), doctor.email)
    assert rp.validate_id_token(token["id_token"])["email"] == doctor.email


def test_a_device_cookie_that_keeps_failing_is_locked_out_on_its_own(hub: RunningHub) -> None:
    doctor = hub.doctor()
    rp = RelyingParty(hub, hub.client())
    own = browser_at(hub, "198.51.100.40")
    rp.sign_in(own, doctor.email)
    limit = hub.hub.settings.login_max_per_device
    url, _ = rp.authorization_url(prompt="login")
    page = own.get(url)
    assert [own.login(page, doctor.email, WRONG).status_code for _ in range(limit + 1)] == [401] * limit + [429]
    assert own.login(page, doctor.email).status_code == 429
    # It is the cookie that is locked out, wherever it goes...
    thief = browser_at(hub, next_attacker())
    thief.s.cookies.set(DEVICE, own.s.cookies.get(DEVICE, ""), domain="127.0.0.1", path="/")
    assert try_password(thief, rp, doctor.email, PASSWORD) == 429
    # ...not the account: its failures were not counted against browsers new to it.
    token = rp.sign_in(browser_at(hub, "198.51.100.41"), doctor.email)
    assert rp.validate_id_token(token["id_token"])["email"] == doctor.email


def test_a_device_cookie_vouches_only_for_the_account_it_was_issued_for(hub: RunningHub) -> None:
    victim, attacker, colleague = hub.doctor(), hub.doctor(), hub.doctor()
    rp = RelyingParty(hub, hub.client())
    theirs = browser_at(hub, next_attacker())
    rp.sign_in(theirs, attacker.email)  # his own account: his browser holds its device cookie
    stolen = browser_at(hub, "198.51.100.50")
    rp.sign_in(stolen, colleague.email)  # and he copied a colleague's device cookie
    forged = "A" * 22 + "." + "0" * 64
    jar = ":".join((theirs.s.cookies.get(DEVICE, ""), stolen.s.cookies.get(DEVICE, ""), forged))
    theirs.s.cookies.set(DEVICE, jar, domain="127.0.0.1", path="/")
    # His guesses at the victim count as a new browser's: per address, then per account.
    per_address = hub.hub.settings.login_max_per_account_address
    statuses = [try_password(theirs, rp, victim.email) for _ in range(per_address + 1)]
    assert statuses == [401] * per_address + [429]
    lock_out_untrusted_browsers(hub, rp, victim.email)
    moved = browser_at(hub, next_attacker())
    moved.s.cookies.set(DEVICE, jar, domain="127.0.0.1", path="/")
    assert try_password(moved, rp, victim.email, PASSWORD) == 429
    # The cookies still vouch for their own accounts.
    assert "code" in callback_params(moved.through(moved.get(rp.authorization_url(prompt="login")[0]),
                                                   attacker.email))


def test_an_attacker_with_the_password_cannot_lock_the_doctor_out_of_her_second_factor(hub: RunningHub) -> None:
    doctor = hub.doctor()
    rp = RelyingParty(hub, hub.client())
    own = browser_at(hub, "198.51.100.60")
    rp.sign_in(own, doctor.email)
    secret, recovery = _enrol_totp(hub, own)
    live = {pyotp.TOTP(secret).at(time.time() + step * 30) for step in (-2, -1, 0, 1, 2)}
    guess = next(c for c in ("000000", "111111", "222222", "333333", "444444", "555555") if c not in live)
    settings = hub.hub.settings

    def second_factor_page(b: Browser) -> Any:
        url, _ = rp.authorization_url(prompt="login")
        page = b.login(b.get(url), doctor.email)
        assert 'name="otp"' in page.text, page.status_code
        return page

    statuses = []
    for _ in range(settings.login_max_per_account // settings.login_max_per_account_address + 1):
        b = browser_at(hub, next_attacker())
        page = second_factor_page(b)
        statuses += [b.post(f"{hub.issuer}/login", {**b.hidden(page), "otp": guess}).status_code
                     for _ in range(settings.login_max_per_account_address + 1)]
        assert not b.s.cookies.get(DEVICE)  # the password alone earns no device cookie
    assert statuses.count(401) == settings.login_max_per_account and statuses[-1] == 429
    stranger = browser_at(hub, "198.51.100.61")
    page = second_factor_page(stranger)
    assert stranger.post(f"{hub.issuer}/login", {**stranger.hidden(page), "otp": recovery[0]}).status_code == 429
    # Her own browser: the same recovery code (not used up by the refusal) signs her in.
    url, _ = rp.authorization_url(prompt="login")
    page = own.login(own.get(url), doctor.email)
    done = own.post(f"{hub.issuer}/login", {**own.hidden(page), "otp": recovery[0]})
    claims = rp.validate_id_token(rp.exchange(callback_params(done))["id_token"])
    assert claims["email"] == doctor.email and "otp" in claims["amr"]


def admin_browser_at(h: RunningHub, email: str, address: str) -> Console:
    c = Console(h, email)
    c.s.headers["X-Forwarded-For"] = address
    return c


def test_an_attacker_cannot_lock_an_admin_out_of_her_console_browser(hub: RunningHub) -> None:
    admin = new_admin(hub, "admin").sign_in()
    admin.post("/admin/logout", {"csrf": admin.csrf()})
    settings = hub.hub.settings
    statuses = []
    for _ in range(settings.login_max_per_account // settings.login_max_per_account_address + 1):
        attacker = admin_browser_at(hub, admin.email, next_attacker())
        statuses += [attacker.password_step(WRONG).status_code
                     for _ in range(settings.login_max_per_account_address + 1)]
    assert statuses.count(401) == settings.login_max_per_account and statuses[-1] == 429
    assert admin_browser_at(hub, admin.email, "198.51.100.70").password_step(ADMIN_PASSWORD).status_code == 429
    # The admin's own browser: the password, then the next window's code (RFC 6238 §5.2:
    # the one of her first sign-in is spent).
    r = admin.password_step()
    assert r.status_code == 303 and r.headers["Location"].endswith("/admin/mfa")
    r = admin.code_step(pyotp.TOTP(admin.secret or "").at(time.time() + 30))
    assert r.status_code == 303 and r.headers["Location"].endswith("/admin/")


def test_an_attacker_with_an_admins_password_cannot_lock_her_out_of_her_second_factor(hub: RunningHub) -> None:
    admin = new_admin(hub, "admin").sign_in()
    admin.post("/admin/logout", {"csrf": admin.csrf()})
    settings = hub.hub.settings
    statuses = []
    for _ in range(settings.login_max_per_account // settings.login_max_per_account_address + 1):
        attacker = admin_browser_at(hub, admin.email, next_attacker())
        assert attacker.password_step().status_code == 303
        statuses += [attacker.code_step("12345x").status_code
                     for _ in range(settings.login_max_per_account_address + 1)]
        assert not attacker.s.cookies.get(ADMIN_DEVICE)
    assert statuses.count(401) == settings.login_max_per_account and statuses[-1] == 429
    assert admin.password_step().status_code == 303
    r = admin.code_step(pyotp.TOTP(admin.secret or "").at(time.time() + 30))
    assert r.status_code == 303 and r.headers["Location"].endswith("/admin/")


def test_parallel_guesses_from_many_addresses_do_not_slip_past_the_account_limit(hub: RunningHub) -> None:
    doctor = hub.doctor()
    rp = RelyingParty(hub, hub.client())
    limit = hub.hub.settings.login_max_per_account
    pages = []
    for _ in range(2 * limit):
        b = browser_at(hub, next_attacker())
        pages.append((b, b.get(rp.authorization_url(prompt="login")[0])))
    barrier = threading.Barrier(len(pages))
    statuses: list[int] = []

    def guess(b: Browser, page: Any) -> None:
        barrier.wait()
        statuses.append(b.login(page, doctor.email, WRONG).status_code)

    threads = [threading.Thread(target=guess, args=pair) for pair in pages]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [401] * limit + [429] * limit


def test_the_device_cookie_is_httponly_long_lived_and_names_no_account(hub: RunningHub) -> None:
    doctor = hub.doctor()
    rp = RelyingParty(hub, hub.client())
    b = browser_at(hub, "198.51.100.90")
    url, _ = rp.authorization_url()
    consent = b.login(b.get(url), doctor.email)
    device = next(c for c in consent.raw.headers.getlist("Set-Cookie") if c.startswith(f"{DEVICE}="))
    attributes = device.lower()
    assert "httponly" in attributes and "samesite=strict" in attributes and "path=/" in attributes
    assert f"max-age={hub.hub.settings.device_cookie_ttl}" in attributes
    assert doctor.email not in device and doctor.id not in device


def test_over_https_the_device_cookie_is_host_prefixed_and_secure(backend: Any, database: Any,
                                                                 tmp_path: Any) -> None:
    import re

    app = create_app(make_settings(backend, tmp_path, issuer="https://id.example.org", insecure_transport=False),
                     store_prefix=f"thrs{backend.redis_prefix}:")
    h = app.extensions["curbside"]
    doctor = h.accounts.create(email=f"https-{time.time_ns()}@example.org", password=PASSWORD)
    creds = h.clients.create({"client_name": "S", "redirect_uris": ["https://s.example/cb"],
                              "grant_types": ["authorization_code"]}, status="active")
    client = app.test_client()
    https = {"base_url": "https://id.example.org"}
    page = client.get("/authorize", query_string={
        "response_type": "code", "client_id": creds["client_id"], "scope": "openid",
        "redirect_uri": "https://s.example/cb", "code_challenge": "x" * 43,
        "code_challenge_method": "S256"}, **https)
    pending = re.search(r'name="pending" value="([^"]+)"', page.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    r = client.post("/login", data={"pending": pending, "email": doctor.email, "password": PASSWORD}, **https)
    device = [c for c in r.headers.getlist("Set-Cookie") if c.startswith("__Host-curbside_doctor_device=")]
    assert len(device) == 1
    assert "Secure" in device[0] and "HttpOnly" in device[0] and "Path=/" in device[0]
    assert "Domain" not in device[0]


def operator_browser_at(address: str) -> Any:
    import requests

    s = requests.Session()
    s.headers["X-Forwarded-For"] = address
    return s


def operator_sign_in(h: RunningHub, s: Any, email: str, password: str, code: str) -> int:
    import re

    page = s.get(f"{h.issuer}/operator/login", timeout=5)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return s.post(f"{h.issuer}/operator/login", timeout=5, allow_redirects=False,
                  data={"email": email, "password": password, "otp": code, "csrf": csrf}).status_code


def test_an_attacker_cannot_lock_a_partner_operator_out_of_her_portal_browser(hub: RunningHub) -> None:
    from urllib.parse import parse_qs, urlsplit

    from hub.pages.operators import create_operator

    email, password = f"ops-{next(_attackers)}@nordic.example", "a long operator password"
    _, uri = create_operator(hub.hub, email, password)
    totp = pyotp.TOTP(parse_qs(urlsplit(uri).query)["secret"][0])
    own = operator_browser_at("198.51.100.80")
    assert operator_sign_in(hub, own, email, password, totp.now()) == 303
    own.post(f"{hub.issuer}/operator/logout", timeout=5)  # signed out; the device cookie stays
    settings = hub.hub.settings
    statuses = []
    for _ in range(settings.login_max_per_account // settings.login_max_per_account_address + 1):
        attacker = operator_browser_at(next_attacker())
        statuses += [operator_sign_in(hub, attacker, email, WRONG, "000000")
                     for _ in range(settings.login_max_per_account_address + 1)]
    assert statuses.count(401) == settings.login_max_per_account and statuses[-1] == 429
    # A new browser is refused even with everything right; her own browser is not.
    assert operator_sign_in(hub, operator_browser_at("198.51.100.81"), email, password,
                            totp.at(time.time() + 30)) == 429
    assert operator_sign_in(hub, own, email, password, totp.at(time.time() + 30)) == 303
