"""The authorization endpoint: the ordered checks of hub/protocol/authorize_checks.py, then
the login page, the network's policy, the consent page, and a code.

It also resumes a request saved in the Store (hub/domain/authorization_requests.py) after
the login or consent page, bound to the browser that started it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AccessDeniedError, InvalidRequestError
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError
from werkzeug.wrappers import Request, Response

from hub import i18n
from hub.domain import claims as claimset
from hub.domain.authorization_requests import AUTHZ_KIND, Pending, pending_keys
from hub.domain.consent import record_consent
from hub.domain.crypto import new_token, sha256_hex
from hub.domain.federation import RegistrationRefused
from hub.domain.sessions import SSOSession, host_cookie_name
from hub.protocol.authorize_checks import (
    CONSENT_CHECKS,
    LOGIN_CHECKS,
    REQUEST_CHECKS,
    AuthorizationContext,
    FlowError,
    check_essential_acr,
    first_reason,
    registered_redirect_uri,
)
from hub.protocol.federation import authorization_params as federation_params
from hub.protocol.par import pushed_params
from hub.protocol.server import OpenIDProvider, StoredAuthorizationRequest
from hub.relying.enforce import refused_page

if TYPE_CHECKING:
    from hub.pages.rendering import Pages
    from hub.services import Hub

__all__ = ["AUTHZ_KIND", "AuthorizeFlow", "Pending", "as_same_site_get"]
BROWSER_COOKIE = "curbside_b"  # binds a pending request to its browser; __Host- over https
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

# Below gunicorn's request-line limit (4094 bytes) with room for the path.
MAX_SAME_SITE_QUERY = 3500
_ = i18n.lazy_gettext  # the pages' words, translated as they render (hub/i18n.py)
CANNOT_COMPLETE = _("This sign-in request cannot be completed")
UNKNOWN_CLIENT = _("The partner network is not known to Curbside, or is not yet approved.")
UNREGISTERED_RETURN = _("The address to return you to is not registered for this network.")
NOT_VALID = _("The request was not valid.")


def as_same_site_get(request: Request, path: str, cookie_name: str) -> Response | None:
    """A POST that arrives without the SSO cookie, as the same request by GET, or None.

    The SSO cookie is SameSite=Lax: a partner network's cross-site form POST (OIDC Core
    §3.1.2.1 and RP-Initiated Logout §2 both allow POST) does not carry it, so the hub
    would not see the doctor's session. A 303 to the same parameters on our own path is a
    top-level GET navigation, which does carry it. Requests too long for a URL are
    answered as they came.
    """
    if request.method != "POST" or cookie_name in request.cookies:
        return None
    query = urlencode(list(request.values.items(multi=True)))
    if len(query) > MAX_SAME_SITE_QUERY:
        return None
    resp = Response("", 303)
    resp.headers["Location"] = f"{path}?{query}"
    resp.headers["Cache-Control"] = "no-store"
    return resp


class AuthorizeFlow:
    """One browser request's part of an authorization: ``request`` is werkzeug's,
    ``pages`` renders the HTML answers."""

    def __init__(self, hub: Hub, server: OpenIDProvider, request: Request, pages: Pages) -> None:
        self.hub = hub
        self.server = server
        self.request = request
        self.pages = pages
        self.browser_cookie = host_cookie_name(BROWSER_COOKIE, hub.sessions.secure)

    # -- entry points ---------------------------------------------------------------------
    def start(self) -> Response:
        request = self.request
        bounced = as_same_site_get(request, "/authorize", self.hub.sessions.cookie_name)
        if bounced is not None:
            return bounced
        params = {k: v for k, v in request.values.items()}
        if len(request.values) != len(params) or any(
            len(request.values.getlist(k)) > 1 for k in params
        ):
            # RFC 6749 §3.1: parameters MUST NOT be included more than once.
            return self._fail(params, InvalidRequestError("Parameters must not be repeated."))
        try:  # a pushed request (hub/protocol/par.py), or OpenID Federation automatic
            # registration (hub/protocol/federation.py)
            params = pushed_params(self.hub, params) or federation_params(self.hub, params)
        except RegistrationRefused as e:
            return self.pages.error(CANNOT_COMPLETE, f"{e.description} ({e.error})")
        return self.run(params)

    def run(self, params: dict[str, str], *, fresh_login: bool = False,
            consent_given: bool = False, pending_id: str | None = None,
            session: tuple[str, SSOSession] | None = None) -> Response:
        """Decide and answer; ``session`` is the SSO session when the caller just loaded or
        created it (saves a Store read on the sign-in path)."""
        hub = self.hub
        if session is None:
            cookie = self.request.cookies.get(hub.sessions.cookie_name)
            sso = hub.sessions.load(cookie)
        else:
            cookie, sso = session
        req = StoredAuthorizationRequest(f"{hub.settings.issuer}/authorize", params)
        ctx = AuthorizationContext(hub, self.server, params, sso, req, fresh_login=fresh_login)
        try:
            for check in REQUEST_CHECKS:
                check(ctx)
            login = first_reason(LOGIN_CHECKS, ctx, fresh_login=fresh_login)
            if login is not None:
                if "none" in ctx.prompts or fresh_login:
                    raise LoginRequiredError(login.description)
                return self._show_login(params, pending_id)
            assert sso is not None
            check_essential_acr(ctx)
            # The client's access policy (hub/relying), after login and before consent.
            refusal = self._apply_policy(ctx, pending_id)
            if refusal is not None:
                return refusal
            if not consent_given and first_reason(CONSENT_CHECKS, ctx) is not None:
                if "none" in ctx.prompts:
                    raise ConsentRequiredError()
                return self._show_consent(params, pending_id, ctx.client, ctx.scopes, ctx.wanted,
                                          sso.doctor_id)
            ctx.grant.request.claims_request = claimset.release_record(ctx.claims_request, ctx.wanted)
            resp = self.server.create_authorization_response(request=req, grant_user=ctx.end_user,
                                                             grant=ctx.grant)
        except FlowError as e:
            return self.pages.error(e.title, e.detail, e.status)
        except OAuth2Error as e:
            return self._fail(params, e, req)
        # One Store round trip: the code is saved, the finished request goes, the session
        # notes the network. Nothing reaches the client before this write succeeds.
        joined = hub.sessions.joined(sso, params["client_id"]) if cookie and sso else None
        puts = list(req.store_writes)
        if cookie and joined:
            puts.append(hub.sessions.entry(cookie, joined))
        deletes = [(AUTHZ_KIND, pending_id)] if pending_id else []
        if puts or deletes:
            hub.store.write_many(puts=puts, deletes=deletes)
        return resp  # type: ignore[no-any-return]

    # -- decisions ----------------------------------------------------------------------
    def _apply_policy(self, ctx: AuthorizationContext, pending_id: str | None) -> Response | None:
        """A page to show instead, or None with ``ctx.wanted`` narrowed to what may be
        released. Clients without a policy keep what was requested; a refusal is a page,
        or access_denied under prompt=none."""
        assert ctx.sso is not None
        verdict = self.hub.access.at_authorize(ctx.client, ctx.sso, ctx.params, ctx.wanted)
        if verdict is None:
            return None
        if verdict.allowed:
            ctx.wanted = set(verdict.claims_to_release) - {"sub"}
            return None
        if (self.hub.access.can_step_up(ctx.sso, verdict) and "none" not in ctx.prompts
                and not ctx.fresh_login):
            return self._show_login(ctx.params, pending_id)  # OIDC Core §3.1.2.3 step-up
        if "none" in ctx.prompts:
            raise AccessDeniedError(verdict.message or "The network's policy refused access.")
        if pending_id:
            self.hub.store.delete(AUTHZ_KIND, pending_id)
        self.localize(ctx.params, ctx.sso.doctor_id)
        return refused_page(self.pages, ctx.client, verdict)

    # -- pages ----------------------------------------------------------------------------
    def localize(self, params: dict[str, str], doctor_id: str | None = None, *,
                 doctor_locale: str | None = None) -> None:
        """The pages' language from here on (hub/i18n.py): the request's ``ui_locales``
        (kept with the pending request through its steps), then the doctor's saved locale,
        then the browser's."""
        if doctor_id and doctor_locale is None and not i18n.first_supported(
                params.get("ui_locales", "").split()):
            doctor = self.hub.accounts.get(doctor_id)
            doctor_locale = doctor.locale if doctor is not None else None
        i18n.choose(i18n.negotiate(params.get("ui_locales"), doctor_locale,
                                   self.request.accept_languages))

    def pending(self, params: dict[str, str], pending_id: str | None) -> tuple[Pending, str | None]:
        """The request saved for the doctor's next page, and a browser cookie to set."""
        browser = self.request.cookies.get(self.browser_cookie)
        set_cookie = None
        if not browser or len(browser) > 100:
            browser = set_cookie = new_token(24)
        p = Pending(pending_id or new_token(24), params, self._binding(browser),
                    started=int(time.time()))
        if pending_id is None or set_cookie is not None:
            # A resumed request is already saved, bound to this browser: no second write.
            self.hub.store.put(AUTHZ_KIND, p.id, p.dump(), ttl=self.hub.settings.login_state_ttl)
        return p, set_cookie

    def respond(self, html: str, set_cookie: str | None, status: int = 200) -> Response:
        """A page of the flow, not cached; ``set_cookie`` binds the flow to this browser."""
        resp = Response(html, status, mimetype="text/html")
        if set_cookie:
            resp.set_cookie(self.browser_cookie, set_cookie, httponly=True, samesite="Strict",
                            secure=self.hub.sessions.secure, path="/")
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def _show_login(self, params: dict[str, str], pending_id: str | None) -> Response:
        p, set_cookie = self.pending(params, pending_id)
        client = self.hub.clients.get(params.get("client_id"))
        self.localize(params)
        html = self.pages.render("login.html", pending=p.id,
                                 client_name=client.name if client else "",
                                 login_hint=params.get("login_hint", "")[:254], error=None)
        return self.respond(html, set_cookie)

    def _show_consent(self, params: dict[str, str], pending_id: str | None, client: Any,
                      scopes: set[str], wanted: set[str], doctor_id: str | None = None) -> Response:
        p, set_cookie = self.pending(params, pending_id)
        self.localize(params, doctor_id)
        html = self.pages.render("consent.html", pending=p.id, client_name=client.name,
                                 claims=sorted(wanted), offline="offline_access" in scopes,
                                 subject_type=client.subject_type, sector=client.sector_identifier)
        return self.respond(html, set_cookie)

    def load_pending(self, pending_id: str) -> Pending | None:
        keys = pending_keys(pending_id)
        return self._pending_from(self.hub.store.get(*keys[0])) if keys else None

    def load_pending_counting(self, pending_id: str, counters: list[tuple[str, str]], *,
                              window: int, tallies: list[tuple[str, str]] | None = None
                              ) -> tuple[Pending | None, list[int]]:
        """``load_pending``, ``counters`` (throttles) incremented and ``tallies`` read, in
        one round trip."""
        raws, counted = self.hub.store.read_and_count(pending_keys(pending_id), counters,
                                                      ttl=window, tallies=tallies or ())
        return self._pending_from(raws[0] if raws else None), counted

    def load_pending_and_session(self, pending_id: str, cookie: str | None
                                 ) -> tuple[Pending | None, SSOSession | None]:
        """``load_pending`` and the SSO session behind ``cookie``, read in one round trip."""
        keys = pending_keys(pending_id)
        session_keys = self.hub.sessions.lookup_keys(cookie)
        values = self.hub.store.get_many(keys + session_keys)
        raw_pending = values[0] if keys else None
        return (self._pending_from(raw_pending),
                self.hub.sessions.from_stored(cookie, values[len(keys):]))

    def _pending_from(self, raw: bytes | None) -> Pending | None:
        if raw is None:
            return None
        p = Pending.load(raw)
        # The form must come from the browser that started the flow (login CSRF defence).
        return p if self._from_this_browser(p.browser) else None

    def _binding(self, browser: str) -> str:
        """What a pending request keeps of its browser's cookie: a hash of name and value."""
        return sha256_hex(f"{self.browser_cookie}:{browser}")

    def _from_this_browser(self, binding: str) -> bool:
        browser = self.request.cookies.get(self.browser_cookie)
        if browser and len(browser) <= 100 and self._binding(browser) == binding:
            return True
        # A request saved before the cookie was __Host- prefixed is bound to the bare hash
        # of a plain-named one, accepted while it lives (login_state_ttl). A plain cookie
        # planted by another host can never match a request bound by name: its value would
        # need a ':', which no token has.
        legacy = self.request.cookies.get(BROWSER_COOKIE, "")
        return bool(legacy) and set(legacy) <= _TOKEN_CHARS and sha256_hex(legacy) == binding

    def save_pending(self, p: Pending) -> None:
        self.hub.store.put(AUTHZ_KIND, p.id, p.dump(), ttl=self.hub.settings.login_state_ttl)

    def record_consent(self, doctor_id: str, client_id: str, params: dict[str, str], *,
                       shown_at: int | None = None) -> None:
        client = self.hub.clients.get(client_id)
        changed_since = shown_at is not None and client is not None and int(client.changed_at) > shown_at
        if client is None or not client.active or changed_since:
            # The doctor agreed to the network as the page (shown at ``shown_at``, whole
            # seconds) described it; a registration changed since (RFC 7592, then approved
            # again) is not what they agreed to.
            raise AccessDeniedError("The partner network changed while the consent page was open.")
        claims_request = claimset.parse_claims_request(params.get("claims"))
        wanted = claimset.requested_claim_names(params.get("scope", ""), claims_request)
        wanted, policy_version = self.hub.access.consent_scope(client_id, wanted)
        record_consent(self.hub.audit_event, doctor_id=doctor_id, client_id=client_id,
                       scopes=sorted(set(params.get("scope", "").split())), claims=sorted(wanted),
                       policy_version=policy_version)

    def deny(self, params: dict[str, str]) -> Response:
        return self._fail(params, AccessDeniedError("The doctor declined."))

    # -- errors ---------------------------------------------------------------------------
    def _fail(self, params: dict[str, str], error: OAuth2Error,
              req: StoredAuthorizationRequest | None = None) -> Response:
        """Redirect the error only to a redirect URI registered for a known client
        (RFC 6749 §4.1.2.1), naming the issuer (RFC 9207 §2)."""
        redirect_uri = error.redirect_uri or registered_redirect_uri(self.server, params)
        if not redirect_uri:
            return self.pages.error(CANNOT_COMPLETE, _public_description(error))
        error.redirect_uri = redirect_uri
        state = params.get("state")
        error.state = state[: self.hub.settings.max_param_length] if state else None
        req = req or StoredAuthorizationRequest(f"{self.hub.settings.issuer}/authorize", {})
        return self.server.with_issuer(self.server.handle_error_response(req, error))


def _public_description(error: OAuth2Error) -> Any:
    if error.error == "invalid_client":
        return UNKNOWN_CLIENT
    if error.error == "invalid_request" and "redirect" in (error.description or "").lower():
        return UNREGISTERED_RETURN
    return error.description or NOT_VALID
