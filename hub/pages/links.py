"""Doctor pages for linked networks and the merged feed, the linking callback, brokered
sign-in, the JSON Feed API and the webhook intake. See docs/links.md."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
)
from sqlalchemy import select
from werkzeug.wrappers import Response

from connectors import registry as connector_kinds
from connectors.errors import ConnectorError
from hub.domain.crypto import new_token, sha256_hex
from hub.domain.sessions import SSOSession
from hub.i18n import gettext as _
from hub.i18n import lazy_gettext as _l
from hub.links import links_for
from hub.links.feed import link_status
from hub.links.jobs import INGEST, PULL, item_data
from hub.links.service import LinkError
from hub.pages.account import _flow, _session, csrf_token, doctor_view, error_page
from hub.pages.own_sign_in import shows_own_authentication
from hub.persistence.models.links import AccountLink
from hub.protocol.authorize import AUTHZ_KIND, Pending
from hub.protocol.signin import signed_in

log = logging.getLogger("hub.links.web")
bp = Blueprint("links", __name__)
LINK_COOKIE = "curbside_link"  # binds a brokered sign-in callback to the browser (Lax)


def _hub() -> Any:
    return current_app.extensions["curbside"]


def _links() -> Any:
    return links_for(_hub())


def _callback_uri() -> str:
    return f"{_hub().settings.issuer}/links/callback"


@bp.record_once
def _signin_networks(state: Any) -> None:
    """The login page's brokered sign-in buttons: a template global, since the
    protocol app renders that page without a Flask request."""
    hub = state.app.extensions["curbside"]

    def signin_networks() -> list[tuple[str, str]]:
        try:
            return links_for(hub).networks.signin_choices()  # type: ignore[no-any-return]
        except Exception:  # noqa: BLE001 - the password form must render whatever happens
            log.exception("listing sign-in networks failed")
            return []

    state.app.jinja_env.globals["signin_networks"] = signin_networks


# -- account pages ----------------------------------------------------------------------------
@bp.get("/account/links")
@doctor_view(form=False)
def links_page(cookie: str, sso: SSOSession) -> Response:
    links = _links()
    networks = {n.name: n for n in links.networks.all()}
    rows = []
    for link, state in links.of(sso.doctor_id):
        net = networks.get(link.network)
        rows.append({"link": link, "state": state, "network": net,
                     "status": link_status(link, state, net.poll_interval if net else 300)})
    linked = {r["link"].network for r in rows}
    available = [n for n in networks.values() if n.enabled and n.name not in linked]
    error = request.args.get("error") and _ERRORS.get(request.args["error"])
    if available and not shows_own_authentication(sso, _hub().accounts.get(sso.doctor_id)):
        # Its "Link" buttons would only lead to begin_link's refusal: say what works instead.
        available, error = [], error or _ERRORS["own-sign-in"]
    return make_response(render_template("links.html", rows=rows, available=available,
                                         kinds=connector_kinds.labels(), csrf=csrf_token(cookie),
                                         error=error))


_ERRORS = {"expired": _l("That linking attempt expired. Start again."),
           "own-sign-in": _l("Linking a network needs your own Curbside sign-in: sign out, then sign "
                             "in with your email address and password (and your code, if you set "
                             "one up).")}
# The link service's messages (hub/links/service.py), as the doctor reads them: translated by
# their text, which the catalogue holds through these marks.
LINK_MESSAGES = (
    _l("That network is not available."),
    _l("Signing in with that network is not possible."),
    _l("This linking attempt expired or was already used. Start again."),
    _l("Your Curbside session changed. Sign in and start again."),
    _l("This sign-in was started in another browser. Start again."),
    _l("That account is already linked to another Curbside account."),
    _l("This linking attempt expired. Start again."),
    _l("That account is already linked to a Curbside account."),
)
EXPIRED = (_l("Your sign-in page expired"),
           _l("Go back to the network you came from and start the sign-in again."))


def _said(e: LinkError) -> str:
    """The service's message in the doctor's language (a connector's own stays as it is)."""
    return _(str(e))


@bp.post("/account/links/<network>/begin")
@doctor_view(form=True)
def begin_link(cookie: str, sso: SSOSession, network: str) -> Response:
    if not shows_own_authentication(sso, _hub().accounts.get(sso.doctor_id)):
        # A link is a new way to sign in (brokered sign-in), so binding one needs the
        # account's own authentication (NIST SP 800-63B §6.1.2.1). A session from a
        # brokered sign-in (amr "fed") proves only another upstream account: whoever holds
        # that one could add one of their own, a way back in that outlives the doctor
        # unlinking the first.
        return error_page(_("Sign in with your password to link a network"),
                          _("Linking adds a way into your account, so it needs your own "
                            "Curbside password (and your code, if you set one up). Sign out "
                            "and sign in with them, then link."), 403)
    try:
        started = _links().begin(network, redirect_uri=_callback_uri(), purpose="link",
                                 doctor_id=sso.doctor_id, sid=sso.sid)
    except LinkError as e:
        return error_page(_("Linking is not possible"), _said(e))
    if started.start.authorization_url:
        return redirect(started.start.authorization_url, 303)
    return make_response(render_template("links_form.html", network=started.network,
                                         state=started.state, csrf=csrf_token(cookie),
                                         fields=started.start.form_fields))


@bp.post("/account/links/form")
@doctor_view(form=True)
def complete_form(cookie: str, sso: SSOSession) -> Response:
    """Form-linked kinds (feeds): the doctor typed the URL; ``state`` came back hidden."""
    params = {"state": request.form.get("state", "")[:64],
              "url": request.form.get("url", "").strip()[:2048]}
    return _finish(params, sso)


@bp.get("/links/callback")
def callback() -> Response:
    # RFC 6749 §4.1.2: code, state (and RFC 9207 iss) in the query; anything else ignored.
    params = {k: v[:4096] for k, v in request.args.items() if k in
              ("code", "state", "iss", "error", "error_description", "session_state")}
    _, sso = _session()
    return _finish(params, sso)


def _finish(params: dict[str, str], sso: Any) -> Response:
    links = _links()
    try:
        done = links.complete(params.get("state", ""), params,
                              sid=sso.sid if sso else None,
                              browser=request.cookies.get(LINK_COOKIE))
    except LinkError as e:
        return error_page(_("Linking did not work"), _said(e))
    if done.purpose == "link":
        if done.link_id:
            links.queue.enqueue(PULL, done.link_id)
        return redirect("/account/links", 303)
    return _finish_signin(done)


def _finish_signin(done: Any) -> Response:
    hub = _hub()
    raw = hub.store.get(AUTHZ_KIND, done.pending_authz or "")
    if raw is None:
        return error_page(*EXPIRED)
    pending = Pending(**json.loads(raw))
    flow = _flow()
    client = hub.clients.get(pending.params.get("client_id"))
    if done.doctor_id is None:
        hub.audit_event("auth:login:failure", address=request.remote_addr,
                        reason="unlinked_upstream_account", network=done.identity.network)
        # The sign-in page again, for the same request, saying what to do: the button only
        # works for an account linked from the account page, which the hub cannot know
        # before the doctor signs in.
        flow.localize(pending.params, doctor_locale=None)
        net = _links().networks.get(done.identity.network)
        name = net.display_name if net else done.identity.network
        html = flow.pages.render(
            "login.html", pending=pending.id, client_name=client.name if client else "",
            login_hint="", error=_("No Curbside account is linked to that %(network)s account yet. "
                                   "Sign in with your email address and password; then link "
                                   "%(network)s under Linked networks on your account page to use "
                                   "it next time.", network=name))
        return flow.respond(html, None, 403)
    doctor = hub.accounts.get(done.doctor_id)
    if doctor is None or doctor.disabled:
        return error_page(_("Sign-in is not possible"), _("This account is not active."), 403)
    flow.localize(pending.params, doctor_locale=doctor.locale)
    if doctor.mfa_enabled:
        # The upstream network's sign-in is one factor the hub cannot see; the doctor
        # enrolled a second one to protect this account, so it is asked for here as after a
        # password, on the same page with the same throttle (POST /login, step 2), before
        # any session exists; the session's amr then names both (RFC 8176 §2).
        pending.doctor_id, pending.first_factor = doctor.id, "fed"
        flow.save_pending(pending)
        html = flow.pages.render("otp.html", pending=pending.id,
                                 client_name=client.name if client else "", login_hint="",
                                 error=None)
        resp = flow.respond(html, None)
    else:
        resp = signed_in(flow, pending, done.doctor_id, ["fed"])
    resp.delete_cookie(LINK_COOKIE, path="/links/callback")
    return resp


@bp.post("/links/signin/<network>")
def signin(network: str) -> Response:
    """Brokered sign-in from the login page (which posts its authorization request id)."""
    pending = _flow().load_pending(request.form.get("pending", "")[:64])
    if pending is None:
        return error_page(*EXPIRED)
    browser = new_token(24)
    try:
        started = _links().begin(network, redirect_uri=_callback_uri(), purpose="signin",
                                 pending_authz=pending.id, browser=sha256_hex(browser))
    except LinkError as e:
        return error_page(_("Sign-in with that network is not possible"), _said(e))
    if not started.start.authorization_url:
        return error_page(_("Sign-in with that network is not possible"), _("Use your password."))
    resp = redirect(started.start.authorization_url, 303)
    # Lax, not Strict: the callback is a cross-site top-level GET from the upstream.
    resp.set_cookie(LINK_COOKIE, browser, httponly=True, samesite="Lax",
                    secure=_hub().sessions.secure, path="/links/callback",
                    max_age=_hub().settings.login_state_ttl)
    return resp


@bp.post("/account/links/<link_id>/<action>")
@doctor_view(form=True)
def link_action(cookie: str, sso: SSOSession, link_id: str, action: str) -> Response:
    links = _links()
    link_id = link_id[:32]
    if action == "unlink":
        ok = links.unlink(sso.doctor_id, link_id)
    elif action in ("pause", "resume"):
        ok = links.set_flag(sso.doctor_id, link_id, "paused", action == "pause")
    elif action in ("hide", "show"):
        ok = links.set_flag(sso.doctor_id, link_id, "hidden", action == "hide")
    else:
        abort(404)
    if not ok:
        abort(404)
    return redirect("/account/links", 303)


# -- the feed ---------------------------------------------------------------------------------
@bp.get("/feed")
@doctor_view(form=False)
def feed_page(cookie: str, sso: SSOSession) -> Response:
    links = _links()
    page = links.feed.page(sso.doctor_id, cursor=request.args.get("before"))
    networks = {n.name: n for n in links.networks.all()}
    problems = []
    for link, state in links.of(sso.doctor_id):
        net = networks.get(link.network)
        status = link_status(link, state, net.poll_interval if net else 300)
        if status in ("stale", "failing", "relink"):
            problems.append((net.display_name if net else link.network, status))
    return make_response(render_template("feed.html", page=page, networks=networks,
                                         problems=problems))


@bp.get("/api/feed")
def api_feed() -> Response:
    _, sso = _session()
    if sso is None:
        resp = jsonify(error="login_required", error_description="Sign in to Curbside first.")
        resp.status_code = 401
        return resp
    try:
        limit = int(request.args.get("limit", "30"))
    except ValueError:
        resp = jsonify(error="invalid_request", error_description="limit must be an integer.")
        resp.status_code = 400
        return resp
    doc = _links().feed.json_feed(sso.doctor_id, base_url=_hub().settings.issuer,
                                  cursor=request.args.get("before"), limit=limit)
    resp = make_response(json.dumps(doc))
    resp.mimetype = "application/feed+json"
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


# -- webhooks ---------------------------------------------------------------------------------
@bp.post("/links/webhooks/<network>")
def webhook(network: str) -> Response:
    net = _links().networks.get(network)
    if net is None or net.receiver is None or not net.enabled:
        abort(404)
    request.max_content_length = net.receiver.config.max_bytes
    body = request.get_data(cache=False)
    try:
        delivery = net.receiver.receive(body, dict(request.headers))
    except ConnectorError as e:
        log.info("webhook %s refused: %s", network, e.reason)
        resp = jsonify(error="invalid_request", error_description=str(e))
        resp.status_code = 400
        return resp
    if delivery.accepted:
        _deliver(net.name, delivery)
    return make_response("", 204)


def _deliver(network: str, delivery: Any) -> None:
    """Items for a named member go to that member's active link; a message naming nobody is
    a nudge: the network's active links are pulled now."""
    hub = _hub()
    with hub.db.session() as s:
        q = select(AccountLink).where(AccountLink.network == network,
                                      AccountLink.state == "active")
        if delivery.subject is not None:
            q = q.where(AccountLink.subject == delivery.subject)
        targets = list(s.scalars(q.limit(1000)))
    queue = _links().queue
    if delivery.subject is not None and delivery.items:
        data = [item_data(i) for i in delivery.items]
        for t in targets:
            queue.enqueue(INGEST, t.id, t.doctor_id, data)
    else:
        for t in targets:
            queue.enqueue(PULL, t.id)
