"""The operator portal: partner network operators sign in (password + TOTP, always), list
their clients, register a new one, upload a policy and dry-run it against sample doctors.

Operators are not doctors and not admins: their own table, their own cookie, their own
CSRF key. A client belongs to the operator whose initial access token (or portal form)
registered it (``registration_access_tokens.operator_id``).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyotp
import yaml
from flask import Blueprint, Response, abort, current_app, make_response, redirect, render_template, request
from sqlalchemy import select

import policies
from hub.domain.client_metadata import ClientMetadataError, parse_metadata_json, strict_metadata
from hub.domain.crypto import new_token, sha256_hex
from hub.domain.throttle import Attempt, DeviceCookies, StepThrottle
from hub.i18n import gettext as _
from hub.i18n import lazy_gettext as _l
from hub.pages.policy_dry_run import DryRunResult, dry_run
from hub.persistence.models.clients import ClientRecord
from hub.persistence.models.relying import OperatorAccount, RegistrationAccessToken
from hub.protocol.csrf import OPERATOR, csrf_token, csrf_valid
from hub.relying.backchannel import delivery_status
from hub.relying.policy import store
from hub.verification.registry import policy_wording
from policies.examples import sample_profiles

if TYPE_CHECKING:
    from hub.services import Hub

bp = Blueprint("relying_portal", __name__, template_folder="templates", url_prefix="/operator")
SESSION_KIND = "op-session"
SESSION_TTL = 8 * 3600
# Untrusted-client attempts per operator account; hub/domain/throttle.py names the others.
THROTTLE_KIND = "throttle-op"
FORM_EXPIRED = _l("This form has expired. Reload the page and try again.")


def _hub() -> Hub:
    return current_app.extensions["curbside"]  # type: ignore[no-any-return]


# -- accounts -------------------------------------------------------------------------------
def create_operator(hub: Hub, email: str, password: str) -> tuple[str, str]:
    """Create an operator; returns (id, otpauth:// URI for their authenticator app)."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 254 or len(password) < 12:
        raise ValueError("give an email address and a password of at least 12 characters")
    secret = pyotp.random_base32()
    op_id = uuid.uuid4().hex
    op = OperatorAccount(id=op_id, email=email, password_hash=hub.accounts.passwords.hash(password),
                         totp_secret_enc=hub.secrets.encrypt(secret.encode()))
    with hub.db.session() as s:
        if s.scalar(select(OperatorAccount.id).where(OperatorAccount.email == email)):
            raise ValueError("an operator with this email already exists")
        s.add(op)
    return op_id, pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name="Curbside operators")


def operator_id_for(hub: Hub, email: str) -> str | None:
    with hub.db.session() as s:
        return s.scalar(select(OperatorAccount.id).where(OperatorAccount.email == email.strip().lower()))


def authenticate(hub: Hub, email: str, password: str, code: str) -> OperatorAccount | None:
    """The operator whose password and current TOTP code these are, else None. Throttling
    is the caller's: it depends on the browser (``sign_in_attempt``)."""
    email = email.strip().lower()[:254]
    with hub.db.session() as s:
        op = s.scalar(select(OperatorAccount).where(OperatorAccount.email == email))
        if op is not None:
            s.expunge(op)
    # Verify the password even for an unknown email, so timing does not reveal accounts.
    ok = hub.accounts.passwords.verify(op.password_hash if op else None, password)
    if op is None or not ok or op.disabled or op.totp_secret_enc is None:
        return None
    secret = hub.secrets.decrypt(op.totp_secret_enc).decode()
    code = code.strip()[:10]
    if not pyotp.TOTP(secret).verify(code, valid_window=1):
        return None
    if not hub.store.add_once("totp-used", f"op:{op.id}:{code}", ttl=90):  # RFC 6238 §5.2
        return None
    return op


def _devices(hub: Hub) -> DeviceCookies:
    """The portal's own device cookie: a doctor's or an admin's never vouches for an operator."""
    return DeviceCookies(hub.secrets, "operator", hub.sessions.secure, hub.settings.device_cookie_ttl)


def _sign_in_attempt(hub: Hub, email: str) -> Attempt:
    # As a doctor's sign-in (hub/domain/throttle.py, OWASP device cookies): a browser that
    # signed in to this account before counts on its own, so an attacker's wrong guesses
    # never lock the operator out of it; any other counts per (account, address), then account.
    account = sha256_hex(email.strip().lower()[:254])
    devices = _devices(hub)
    return Attempt(account, request.remote_addr or "unknown",
                   devices.find(request.cookies.get(devices.name), account))


# -- session and CSRF ---------------------------------------------------------------------------
def _cookie_name(hub: Hub) -> str:
    return "__Host-curbside_op" if hub.sessions.secure else "curbside_op"


def _current() -> tuple[str, str] | None:
    hub = _hub()
    cookie = request.cookies.get(_cookie_name(hub))
    if not cookie or len(cookie) > 100:
        return None
    raw = hub.store.get(SESSION_KIND, sha256_hex(cookie))
    return (cookie, raw.decode()) if raw else None


def _csrf(cookie: str) -> str:
    return csrf_token(_hub().secrets, OPERATOR, cookie)


def _check_csrf(cookie: str | None) -> None:
    if not csrf_valid(_hub().secrets, OPERATOR, cookie, request.form.get("csrf", "")):
        abort(400, FORM_EXPIRED)


def _pre_session_cookie() -> str:
    """The sign-in form's CSRF token is keyed to this cookie before any session exists, so
    another site cannot sign a browser in to an account of its choosing (login CSRF)."""
    cookie = request.cookies.get(_cookie_name(_hub()))
    return cookie if cookie and len(cookie) <= 100 else new_token(32)


def _set_cookie(resp: Response, cookie: str, max_age: int | None = None) -> None:
    hub = _hub()
    resp.set_cookie(_cookie_name(hub), cookie, httponly=True, samesite="Strict",
                    secure=hub.sessions.secure, path="/", max_age=max_age)


def _login_page(status: int = 200, *, email: str = "", error: str | None = None) -> Response:
    cookie = _pre_session_cookie()
    resp = _page("relying/login.html", status, email=email, error=error, csrf=_csrf(cookie))
    _set_cookie(resp, cookie)
    return resp


def _require() -> tuple[str, str]:
    got = _current()
    if got is None:
        abort(redirect("/operator/login", 303))
    cookie, op_id = got
    if request.method == "POST":
        _check_csrf(cookie)
    return cookie, op_id


def _page(template: str, status: int = 200, **ctx: Any) -> Response:
    resp = make_response(render_template(template, **ctx), status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _owned(hub: Hub, op_id: str) -> list[str]:
    with hub.db.session() as s:
        return list(s.scalars(select(RegistrationAccessToken.client_id)
                              .where(RegistrationAccessToken.operator_id == op_id)))


def _own_client(hub: Hub, op_id: str, client_id: str) -> Any:
    if client_id not in _owned(hub, op_id):
        abort(404)
    with hub.db.session() as s:
        rec = s.get(ClientRecord, client_id)
        if rec is None:
            abort(404)
        s.expunge(rec)
        return rec


# -- views ------------------------------------------------------------------------------------
@bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    hub = _hub()
    if request.method == "GET":
        return redirect("/operator", 303) if _current() else _login_page()  # type: ignore[return-value]
    # Checked before the password, so a forged form neither signs in nor spends a try.
    _check_csrf(request.cookies.get(_cookie_name(hub)))
    email = request.form.get("email", "")
    attempt = _sign_in_attempt(hub, email)
    throttle = StepThrottle.of(THROTTLE_KIND, hub.settings)
    if not throttle.admit(hub.store, attempt):
        return _login_page(429, email=email[:254],
                           error=_("Too many sign-in attempts. Wait a few minutes and try again."))
    op = authenticate(hub, email, request.form.get("password", "")[:1024], request.form.get("otp", ""))
    if op is None:
        return _login_page(401, email=email[:254],
                           error=_("That email address, password and code do not match."))
    # Both factors passed: the counts this attempt made are cleared, and the browser earns
    # (or renews) its device cookie for this account.
    hub.store.write_many(deletes=throttle.cleared_by_success(attempt))
    cookie = new_token(32)  # a new value: the pre-session one never becomes a session
    hub.store.put(SESSION_KIND, sha256_hex(cookie), op.id.encode(), ttl=SESSION_TTL)
    resp = redirect("/operator", 303)
    _set_cookie(resp, cookie, SESSION_TTL)  # type: ignore[arg-type]
    devices = _devices(hub)
    devices.set(resp, devices.issue(request.cookies.get(devices.name), attempt.account))  # type: ignore[arg-type]
    return resp  # type: ignore[return-value]


@bp.post("/logout")
def logout() -> Response:
    cookie, _ = _require()
    hub = _hub()
    hub.store.delete(SESSION_KIND, sha256_hex(cookie))
    resp = redirect("/operator/login", 303)
    resp.delete_cookie(_cookie_name(hub), path="/")
    return resp  # type: ignore[return-value]


# A registration's credentials, kept for the one page that shows them after the redirect.
CREATED_KIND = "op-created"
CREATED_TTL = 600
STATUS_WORDS = {"pending": _l("pending: a Curbside administrator reviews it before doctors can sign in"),
                "active": _l("active: doctors can sign in"),
                "suspended": _l("suspended: doctors cannot sign in")}


def _home(cookie: str, op_id: str, status: int = 200, *, created: dict[str, Any] | None = None,
          error: str | None = None, metadata: str | None = None) -> Response:
    hub = _hub()
    rows = []
    for cid in _owned(hub, op_id):
        client = hub.clients.get(cid)
        if client is None:
            continue
        current = store(hub).current(cid)
        rows.append({"client": client, "policy": current,
                     "status": STATUS_WORDS.get(client.status, client.status),
                     "logout": delivery_status(hub.db, cid, recent=0)})
    return _page("relying/home.html", status, clients=rows, csrf=_csrf(cookie), created=created,
                 error=error, metadata=metadata, metadata_rows=_rows(metadata or "", 8))


def _rows(text: str, least: int) -> int:
    """A textarea tall enough for its text (and a little room), within a screen's height."""
    return min(max(text.count("\n") + 3, least), 40)


@bp.get("")
def home() -> Response:
    cookie, op_id = _require()
    hub = _hub()
    # Shown once: taken from the store, so a reload shows the list without the secret.
    sealed = hub.store.consume(CREATED_KIND, sha256_hex(cookie))
    created = json.loads(hub.secrets.decrypt(sealed.decode())) if sealed else None
    return _home(cookie, op_id, created=created)


@bp.post("/clients")
def register_client() -> Response:
    cookie, op_id = _require()
    hub = _hub()
    raw = request.form.get("metadata", "")[:64 * 1024]
    try:
        md = strict_metadata(parse_metadata_json(raw), outbound=hub.outbound,
                             insecure_transport=hub.settings.insecure_transport)
    except ClientMetadataError as e:
        return _home(cookie, op_id, 400, error=f"{e.error}: {e.description}", metadata=raw)
    creds = hub.clients.create(md, status="pending")
    rat = new_token(32)
    with hub.db.session() as s:
        s.add(RegistrationAccessToken(client_id=creds["client_id"], token_hash=sha256_hex(rat),
                                      operator_id=op_id))
    hub.audit_event("client:registration:create", actor=op_id, client_id=creds["client_id"],
                    status="pending", via="portal")
    # POST-redirect-GET: a reload of the page after it shows the list, never a second
    # registration. The credentials wait, encrypted, for that one page (this session only).
    shown = {"client_id": creds["client_id"], "client_name": md.get("client_name") or creds["client_id"],
             "client_secret": creds.get("client_secret"), "registration_access_token": rat,
             "status": "pending"}
    hub.store.put(CREATED_KIND, sha256_hex(cookie), hub.secrets.encrypt(json.dumps(shown).encode()).encode(),
                  ttl=CREATED_TTL)
    return redirect("/operator", 303)  # type: ignore[return-value]


@bp.route("/clients/<client_id>", methods=["GET", "POST"])
def client_page(client_id: str) -> Response:
    cookie, op_id = _require()
    hub = _hub()
    rec = _own_client(hub, op_id, client_id)
    text = request.form.get("policy", "")[:256 * 1024]
    action = request.form.get("action", "")
    problems: list[str] = []
    results: list[DryRunResult] = []
    saved = None
    status = 200
    if request.method == "POST":
        try:
            if action == "upload":
                saved = store(hub).set(client_id, text, actor=f"operator:{op_id}")
            else:
                now = datetime.now(UTC)
                results = dry_run(policies.load_policy(text), sample_profiles(now), now, policy_wording())
        except policies.PolicyError as e:
            problems = [str(p) for p in e.problems] or [str(e)]
            status = 400
    current = store(hub).current(client_id)
    if not text and current is not None:
        text = yaml.safe_dump(current.policy.to_document(), sort_keys=False, allow_unicode=True)
    return _page("relying/client.html", status, rec=rec, client=hub.clients.get(client_id),
                 status_words=STATUS_WORDS.get(rec.status, rec.status),
                 current=current, text=text, text_rows=_rows(text, 18), problems=problems,
                 results=results, admitted=sum(r.allowed for r in results), saved=saved,
                 describe=policies.describe_access(current.policy, wording=policy_wording())
                 if current else None,
                 logout=delivery_status(hub.db, client_id), csrf=_csrf(cookie))
