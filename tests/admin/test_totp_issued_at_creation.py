"""Found in review (2026-12): the console enrolled an admin's TOTP at the first sign-in, so
whoever opened a new account's sign-in first (with a leaked or default password) bound
their own authenticator to it. The secret now comes from ``hub admin create`` (or
``reset-totp``) to whoever ran it; the console enrols nothing."""

from __future__ import annotations

import json
import secrets
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pyotp
from click.testing import CliRunner

from hub.admin.cli import admin
from tests.admin.conftest import ADMIN_PASSWORD, Console, audit_records, new_admin
from tests.flows.conftest import RunningHub


def hub_admin(h: RunningHub, *args: str, stdin: str | None = None) -> dict[str, str]:
    """`hub admin ...` against the running hub, as the operator runs it."""
    r = CliRunner().invoke(admin, list(args), obj=SimpleNamespace(hub=h.hub), input=stdin)
    assert r.exit_code == 0, r.output
    return dict(json.loads(r.output))


def test_the_creator_gets_the_secret_and_the_first_visitor_cannot_enrol(admin_hub: RunningHub) -> None:
    email = f"new-{secrets.token_hex(4)}@curbside.example"
    created = hub_admin(admin_hub, "create", "--email", email, "--role", "admin", "--password-stdin",
                        stdin=ADMIN_PASSWORD + "\n")
    uri = urlsplit(created["otpauth_uri"])
    assert uri.scheme == "otpauth" and parse_qs(uri.query)["secret"] == [created["totp_secret"]]
    # Someone else who has the password reaches the code page, which offers no secret ...
    intruder = Console(admin_hub, email, created["id"], pyotp.random_base32())
    assert intruder.password_step().status_code == 303
    page = intruder.get("/admin/mfa")
    assert 'id="totp-secret"' not in page.text and "otpauth" not in page.text
    # ... and a code of their own authenticator opens nothing.
    assert intruder.code_step().status_code == 401
    assert intruder.get("/admin/").status_code == 303
    # The admin who was given the secret signs in with it.
    Console(admin_hub, email, created["id"], created["totp_secret"]).sign_in()


def test_an_account_without_a_secret_gets_none_from_the_console(admin_hub: RunningHub) -> None:
    """An account made before secrets were issued at creation: the first visitor is told to
    ask for one, and no session or secret is handed out."""
    c = new_admin(admin_hub, "admin", enrolled=False)
    r = c.password_step()
    assert r.status_code == 403 and "reset-totp" in r.text
    page = c.get("/admin/mfa")
    assert page.status_code == 303 and page.headers["Location"] == "/admin/login"
    assert 'id="totp-secret"' not in page.text
    assert admin_hub.app.extensions["curbside.admin"].accounts.get(c.admin_id).totp_secret_enc is None
    reasons = [json.loads(r.detail).get("reason") for r in audit_records(admin_hub, actor=c.actor,
                                                            event="auth:login:failure")]
    assert reasons == ["no_totp"]
    # The operator issues one; with it the admin signs in, and the old one (if any) is gone.
    issued = hub_admin(admin_hub, "reset-totp", "--email", c.email)
    Console(admin_hub, c.email, c.admin_id, issued["totp_secret"]).sign_in()
    again = hub_admin(admin_hub, "reset-totp", "--email", c.email)
    assert again["totp_secret"] != issued["totp_secret"]
    stale = Console(admin_hub, c.email, c.admin_id, issued["totp_secret"])
    stale.password_step()
    assert stale.code_step().status_code == 401
