"""Console sign-in: TOTP secret issued at creation, MFA before anything, CSRF, sessions."""

from __future__ import annotations

import time

import pyotp
import pytest

from hub.admin import sessions as admin_sessions
from tests.admin.conftest import ADMIN_PASSWORD, Console, audit_records, new_admin
from tests.flows.conftest import PASSWORD, RunningHub


def test_the_secret_issued_at_creation_opens_the_console(admin_hub: RunningHub) -> None:
    c = new_admin(admin_hub, "auditor")
    r = c.password_step()
    assert r.status_code == 303 and r.headers["Location"] == "/admin/mfa"
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("curbside_admin=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = c.get("/admin/mfa")
    assert "Enter your sign-in code" in page.text and 'id="totp-secret"' not in page.text
    assert c.code_step("000000").status_code == 401
    r = c.code_step()
    assert r.status_code == 303 and r.headers["Location"] == "/admin/"
    home = c.get("/admin/")
    assert home.status_code == 200 and "Dashboard" in home.text
    events = [rec.event for rec in audit_records(admin_hub, actor=c.actor)]
    assert events == ["auth:mfa:failure", "auth:login:success"]


def test_password_alone_opens_nothing(admin_hub: RunningHub) -> None:
    pending = admin_hub.client(status="pending", client_name="Waiting Network")
    c = new_admin(admin_hub, "admin")
    assert c.password_step().status_code == 303
    for path in ("/admin/", "/admin/doctors?q=a", "/admin/clients", "/admin/reviews", "/admin/audit",
                 "/admin/audit/export", "/admin/audit/verify"):
        r = c.get(path)
        assert r.status_code == 303 and r.headers["Location"] == "/admin/mfa", path
    csrf = c.csrf("/admin/mfa")
    r = c.post(f"/admin/clients/{pending['client_id']}/approve", {"csrf": csrf, "reason": "looks fine"})
    assert r.status_code == 403 and "two-step" in r.text
    assert admin_hub.hub.clients.get(pending["client_id"]).status == "pending"


def test_doctor_credentials_and_wrong_passwords_are_refused(admin_hub: RunningHub) -> None:
    doctor = admin_hub.doctor()
    c = Console(admin_hub, doctor.email)
    r = c.password_step(PASSWORD)
    assert r.status_code == 401 and "do not match" in r.text
    admin = new_admin(admin_hub, "admin")
    assert admin.password_step("wrong password!").status_code == 401
    assert admin.get("/admin/").status_code == 303
    # A code without a password step leads nowhere.
    code = pyotp.TOTP(admin.secret or "").now()
    r = admin.post("/admin/mfa", {"csrf": admin.csrf("/admin/login"), "otp": code})
    assert r.status_code == 303 and r.headers["Location"] == "/admin/login"
    assert admin.get("/admin/").headers["Location"] == "/admin/login"


def test_sign_in_is_throttled_per_account(admin_hub: RunningHub) -> None:
    c = new_admin(admin_hub, "admin")
    # One browser new to the account, at one address: the (account, address) count closes
    # first; the account's own count across addresses is in tests/flows/test_throttling.py.
    limit = admin_hub.hub.settings.login_max_per_account_address
    for _ in range(limit):
        assert c.password_step("not the password").status_code == 401
    r = c.password_step()
    assert r.status_code == 429 and "Too many" in r.text


def test_an_admins_own_sign_ins_never_lock_them_out(admin_hub: RunningHub) -> None:
    c = new_admin(admin_hub, "admin")
    limit = admin_hub.hub.settings.login_max_per_account

    def fresh() -> Console:  # a new browser each time: a half-done sign-in holds the old one
        return Console(admin_hub, c.email, c.admin_id, c.secret)

    assert fresh().password_step("not the password").status_code == 401
    for _ in range(limit + 1):
        assert fresh().password_step().status_code == 303
    # New browsers share 127.0.0.1, so their count per (account, address) is the one to meet.
    limit = admin_hub.hub.settings.login_max_per_account_address
    assert [fresh().password_step("not the password").status_code for _ in range(limit)] == [401] * limit


def test_a_totp_code_works_once(admin_hub: RunningHub) -> None:
    c = new_admin(admin_hub, "auditor")
    code = pyotp.TOTP(c.secret or "").now()
    c.password_step()
    assert c.code_step(code).status_code == 303
    other = Console(admin_hub, c.email, c.admin_id, c.secret)
    other.password_step()
    r = other.code_step(code)
    assert r.status_code == 401 and "not valid" in r.text


def test_forms_need_their_csrf_token(admin_hub: RunningHub) -> None:
    c = new_admin(admin_hub, "admin")
    c.get("/admin/login")
    r = c.post("/admin/login", {"email": c.email, "password": ADMIN_PASSWORD})
    assert r.status_code == 400 and "expired" in r.text
    c.sign_in()
    doctor = admin_hub.doctor()
    someone_else = new_admin(admin_hub, "admin").sign_in()
    for token in ("", "forged", someone_else.csrf()):
        r = c.post(f"/admin/doctors/{doctor.id}/suspend", {"csrf": token, "reason": "forged request"})
        assert r.status_code == 400
    assert not admin_hub.hub.accounts.get(doctor.id).disabled
    assert audit_records(admin_hub, actor=c.actor, event="admin:access:denied") == []


def test_sign_out_ends_the_session(admin_hub: RunningHub) -> None:
    c = new_admin(admin_hub, "auditor").sign_in()
    old = {k: v or "" for k, v in c.s.cookies.get_dict().items()}
    r = c.post("/admin/logout", {"csrf": c.csrf()})
    assert r.status_code == 303 and r.headers["Location"] == "/admin/login"
    c.s.cookies.update(old)  # replaying the old cookie does not help
    assert c.get("/admin/").headers["Location"] == "/admin/login"
    assert audit_records(admin_hub, actor=c.actor)[-1].event == "auth:logout:success"


def test_a_disabled_admin_is_out_at_the_next_request(admin_hub: RunningHub) -> None:
    c = new_admin(admin_hub, "admin").sign_in()
    assert c.get("/admin/").status_code == 200
    admin_hub.app.extensions["curbside.admin"].accounts.set_disabled(c.admin_id, True)
    assert c.get("/admin/").headers["Location"] == "/admin/login"
    assert c.password_step().status_code == 401


def test_sessions_time_out_when_idle_and_after_a_working_day(admin_hub: RunningHub,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    sessions = admin_hub.app.extensions["curbside.admin"].sessions
    ttls: list[int] = []
    real_put = sessions.store.put

    def put(kind: str, key: str, value: bytes, *, ttl: int) -> None:
        ttls.append(ttl)
        real_put(kind, key, value, ttl=ttl)

    monkeypatch.setattr(sessions.store, "put", put)
    cookie, pending = sessions.create("a" * 32, admin_sessions.STAGE_TOTP)
    cookie, _ = sessions.promote(cookie, pending)
    assert sessions.load(cookie) is not None
    assert ttls == [admin_sessions.PENDING_TTL, admin_sessions.IDLE_TTL, admin_sessions.IDLE_TTL]
    assert admin_sessions.IDLE_TTL <= 3600
    later = time.time() + admin_sessions.ABSOLUTE_TTL + 1
    monkeypatch.setattr(admin_sessions.time, "time", lambda: later)
    assert sessions.load(cookie) is None


def test_console_pages_allow_no_script(admin_hub: RunningHub) -> None:
    c = new_admin(admin_hub, "auditor").sign_in()
    r = c.get("/admin/")
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert r.headers["Cache-Control"] == "no-store" and "<script" not in r.text
    css = c.get("/admin/static/admin.css")
    assert css.status_code == 200 and "text/css" in css.headers["Content-Type"]
