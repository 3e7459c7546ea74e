"""The authorization endpoint's decisions: login, step-up, consent, then a code.

Authlib validates the protocol request (client, exact redirect URI, response type, scope,
PKCE). This module adds the OpenID Connect user-facing rules of Core §3.1.2: ``prompt``,
``max_age``, ``acr_values``/essential ``acr``, remembered consent, and it resumes a request
saved in the Store after the login or consent page.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749 import AccessDeniedError, InvalidRequestError, UnsupportedResponseTypeError
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError
from sqlalchemy import bindparam, insert, select
from werkzeug.wrappers import Request, Response

from hub.domain import claims as claimset
from hub.domain.crypto import new_token, sha256_hex
from hub.domain.sessions import ACR_MFA, SSOSession, host_cookie_name
from hub.persistence.db import utcnow
from hub.persistence.models.grants import Consent
from hub.protocol.grants import EndUser
from hub.protocol.server import OpenIDProvider, StoredAuthorizationRequest

if TYPE_CHECKING:
    from hub.pages.rendering import Pages
    from hub.services import Hub

_C = Consent.__table__
_INSERT_CONSENT = insert(_C)
_LATEST_CONSENT = (
    select(_C.c.claims, _C.c.scopes)
    .where(_C.c.doctor_id == bindparam("d"), _C.c.client_id == bindparam("c"), _C.c.revoked_at.is_(None))
    .order_by(_C.c.granted_at.desc()).limit(1)
)
AUTHZ_KIND = "authz"
BROWSER_COOKIE = "curbside_b"  # binds a pending request to its browser; __Host- over https
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
UNSUPPORTED = {"request": "request_not_supported", "request_uri": "request_uri_not_supported",
               "registration": "registration_not_supported"}


@dataclass
class Pending:
    """An authorization request waiting for the doctor (saved in the Store)."""

    id: str
    params: dict[str, str]
    browser: str
    doctor_id: str | None = None  # set after the password step when a second factor is due
    started: int = 0  # when the doctor was first shown a page for it (whole seconds)
    first_factor: str = "pwd"  # the RFC 8176 method that set doctor_id: "fed" after a brokered sign-in

    def signed_in_since(self, sso: SSOSession) -> bool:
        """Whether ``sso`` began after this request did: a login it asked for (prompt=login,
        max_age) has happened, and consent must not ask for another."""
        return bool(self.started) and sso.auth_time >= self.started

    def dump(self) -> bytes:
        return json.dumps(self.__dict__).encode()


class FlowError(Exception):
    """An error shown as a page because redirecting could reach an unverified URI."""

    def __init__(self, title: str, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.title, self.detail, self.status = title, detail, status


# Below gunicorn's request-line limit (4094 bytes) with room for the path.
MAX_SAME_SITE_QUERY = 3500


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


def add_iss(hub: Hub, resp: Response) -> Response:
    """RFC 9207 §2: every authorization response, errors included, names the issuer."""
    loc = resp.headers.get("Location")
    if loc:
        parts = urlsplit(loc)
        query = [*parse_qsl(parts.query, keep_blank_values=True), ("iss", hub.settings.issuer)]
        resp.headers["Location"] = urlunsplit(parts._replace(query=urlencode(query)))
    return resp


class AuthorizeFlow:
    """One browser request's part of an authorization: ``request`` is werkzeug's (the
    sign-in lane's, or Flask's), ``pages`` renders the HTML answers."""

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
            return self._fail(params, InvalidRequestError("Parameters must not be repeated."))
        return self.run(params)

    def run(self, params: dict[str, str], *, fresh_login: bool = False,
            consent_given: bool = False, pending_id: str | None = None,
            session: tuple[str, SSOSession] | None = None) -> Response:
        """Decide and answer; ``session`` is the SSO session when the caller just loaded or
        created it (saves a Store read on the sign-in path)."""
        hub = self.hub
        limit = hub.settings.max_param_length
        if any(len(k) > 64 or len(v) > limit for k, v in params.items()) or len(params) > 40:
            return self._fail(params, InvalidRequestError("A parameter is too long."))
        if session is None:
            cookie = self.request.cookies.get(hub.sessions.cookie_name)
            sso = hub.sessions.load(cookie)
        else:
            cookie, sso = session
        end_user = self._end_user(sso)
        req = StoredAuthorizationRequest(f"{hub.settings.issuer}/authorize", params)
        try:
            if "openid" in params.get("scope", "").split() and not params.get("redirect_uri"):
                # OIDC Core §3.1.2.1: redirect_uri is REQUIRED; never guess one.
                raise FlowError("This sign-in link is incomplete",
                                "The partner network did not say where to return you.")
            self._refuse_unquotable(params)
            grant = self.server.get_consent_grant(request=req, end_user=end_user)
            for name, error in UNSUPPORTED.items():
                if name in params:
                    raise _redirect_error(error, f"'{name}' is not supported", grant)
            if params.get("response_mode", "query") != "query":
                # Discovery advertises query only; answering a form_post or fragment request
                # in the query would put the code where the client does not look for it.
                raise InvalidRequestError("Only the 'query' response mode is supported.")
            claims_request = claimset.parse_claims_request(params.get("claims"))
            prompts = set(params.get("prompt", "").split())
            max_age = _max_age(params.get("max_age"))
            needs_login = self._needs_login(sso, prompts, max_age, claims_request, params,
                                            fresh_login)
            named = self._named_subjects(params.get("id_token_hint"), claims_request, grant.client)
            if not needs_login and named and sso is not None and (
                    named != {hub.subject(sso.doctor_id, grant.client)}):
                # OIDC Core §3.1.2.2 point 4: a positive answer only for the doctor that the
                # id_token_hint (§3.1.2.1) or a requested sub value (§5.5.1) names, compared as
                # this client sees the signed-in doctor.
                if fresh_login or "none" in prompts:
                    raise LoginRequiredError(
                        "The signed-in doctor is not the one the request names.")
                needs_login = True
            if needs_login:
                if "none" in prompts:
                    raise LoginRequiredError()
                return self._show_login(params, pending_id)
            assert sso is not None and end_user is not None
            essential = claimset.essential_acr_values(claims_request)
            if essential and sso.acr not in essential:
                # OIDC Core §5.5.1.1: an unmet essential acr is a failed authentication.
                raise AccessDeniedError("The required authentication level was not met.")
            wanted = claimset.requested_claim_names(grant.request.scope or "", claims_request)
            scopes = set((grant.request.scope or "").split())
            # The client's access policy (hub/relying), after login and before consent.
            refusal, wanted = self._apply_policy(sso, grant.client, params, wanted, prompts,
                                                 pending_id, fresh_login)
            if refusal is not None:
                return refusal
            if not consent_given and self._needs_consent(sso.doctor_id, grant.client.client_id,
                                                         scopes, wanted, prompts):
                if "none" in prompts:
                    raise ConsentRequiredError()
                return self._show_consent(params, pending_id, grant.client, scopes, wanted)
            grant.request.claims_request = claimset.release_record(claims_request, wanted)
            resp = self.server.create_authorization_response(request=req, grant_user=end_user,
                                                             grant=grant)
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
        return add_iss(hub, resp)

    # -- decisions ----------------------------------------------------------------------
    def _apply_policy(self, sso: SSOSession, client: Any, params: dict[str, str], wanted: set[str],
                      prompts: set[str], pending_id: str | None, fresh_login: bool
                      ) -> tuple[Response | None, set[str]]:
        """(page to show instead, claims that may be released). Clients without a policy
        keep what was requested; a refusal is a page, or access_denied under prompt=none."""
        from hub.relying import enforce

        verdict = enforce.at_authorize(self.hub, client, sso, params, wanted)
        if verdict is None:
            return None, wanted
        if verdict.allowed:
            return None, set(verdict.claims_to_release) - {"sub"}
        if enforce.can_step_up(self.hub, sso, verdict) and "none" not in prompts and not fresh_login:
            return self._show_login(params, pending_id), wanted  # OIDC Core §3.1.2.3 step-up
        if "none" in prompts:
            raise AccessDeniedError(verdict.message or "The network's policy refused access.")
        if pending_id:
            self.hub.store.delete(AUTHZ_KIND, pending_id)
        return enforce.refused_page(self.pages, client, verdict), wanted

    def _refuse_unquotable(self, params: dict[str, str]) -> None:
        """Refuse a redirect_uri or response_type that Authlib could not quote in an error.

        Authlib names both in its error descriptions, which RFC 6749 §4.1.2.1 limits to
        printable ASCII without '"' and '\\', and it raises instead of answering when they
        are outside it. A redirect_uri that is not registered is refused with a page (never
        redirect to an unverified URI, RFC 6749 §4.1.2.1); with a registered one, an
        unknown response_type is an error redirect (§4.1.2.1, unsupported_response_type).
        """
        uri = params.get("redirect_uri", "")
        if not _quotable(uri) and self._registered_redirect_uri(params) is None:
            raise FlowError("This sign-in request cannot be completed",
                            "The address to return you to is not registered for this network.")
        if not _quotable(params.get("response_type", "")):
            raise UnsupportedResponseTypeError(None, "The response type is not supported.")

    def _registered_redirect_uri(self, params: dict[str, str]) -> str | None:
        """The request's redirect_uri when it is registered for an active client."""
        client = self.server.query_client(params.get("client_id", "")[:64])
        uri = params.get("redirect_uri", "")
        return uri if client is not None and uri and client.check_redirect_uri(uri) else None

    def _end_user(self, sso: SSOSession | None) -> EndUser | None:
        if sso is None:
            return None
        return EndUser(sso.doctor_id, sso.auth_time, sso.acr, sso.amr, sso.sid)

    def _needs_login(self, sso: SSOSession | None, prompts: set[str], max_age: int | None,
                     claims_request: dict[str, Any] | None, params: dict[str, str],
                     fresh_login: bool) -> bool:
        if sso is None:
            return True
        if fresh_login:
            return False
        if "login" in prompts:
            return True
        if max_age is not None and time.time() - sso.auth_time > max_age:
            return True
        wants_mfa = ACR_MFA in (claimset.essential_acr_values(claims_request) or []) or (
            ACR_MFA in params.get("acr_values", "").split()
        )
        if wants_mfa and sso.acr != ACR_MFA:
            doctor = self.hub.accounts.get(sso.doctor_id)
            return bool(doctor and doctor.mfa_enabled)
        return False

    def _named_subjects(self, hint: str | None, claims_request: dict[str, Any] | None,
                        client: Any) -> set[str]:
        """The subjects the request names: by id_token_hint and by claims.id_token.sub.value."""
        named = {self._hinted_subject(hint, client), claimset.requested_subject(claims_request)}
        return {s for s in named if s is not None}

    def _hinted_subject(self, hint: str | None, client: Any) -> str | None:
        """The subject of an id_token_hint: an ID token this hub issued to this client
        (expired ones too: the hint names a doctor, it proves nothing)."""
        if not hint:
            return None
        claims = self.hub.keys.signed_claims(hint) or {}
        aud = claims.get("aud")
        auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if (claims.get("iss") != self.hub.settings.issuer or client.client_id not in auds
                or not isinstance(claims.get("sub"), str)):
            raise InvalidRequestError("'id_token_hint' is not an ID token issued to this client.")
        return claims["sub"]  # type: ignore[no-any-return]

    def _needs_consent(self, doctor_id: str, client_id: str, scopes: set[str], wanted: set[str],
                       prompts: set[str]) -> bool:
        if "consent" in prompts:
            return True
        consent = self.hub.db.hot.first(_LATEST_CONSENT, {"d": doctor_id, "c": client_id})
        if consent is None:
            return True
        claims, consented_scopes = consent["claims"], consent["scopes"]
        return not (wanted <= set(claims) and scopes <= set(consented_scopes) | {"openid"})

    # -- pages ----------------------------------------------------------------------------
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
        html = self.pages.render("login.html", pending=p.id,
                                 client_name=client.name if client else "",
                                 login_hint=params.get("login_hint", "")[:254], error=None)
        return self.respond(html, set_cookie)

    def _show_consent(self, params: dict[str, str], pending_id: str | None, client: Any,
                      scopes: set[str], wanted: set[str]) -> Response:
        p, set_cookie = self.pending(params, pending_id)
        html = self.pages.render("consent.html", pending=p.id, client_name=client.name,
                                 claims=sorted(wanted), offline="offline_access" in scopes,
                                 subject_type=client.subject_type, sector=client.sector_identifier)
        return self.respond(html, set_cookie)

    def load_pending(self, pending_id: str) -> Pending | None:
        keys = _pending_keys(pending_id)
        return self._pending_from(self.hub.store.get(*keys[0])) if keys else None

    def load_pending_counting(self, pending_id: str, counters: list[tuple[str, str]], *,
                              window: int, tallies: list[tuple[str, str]] | None = None
                              ) -> tuple[Pending | None, list[int]]:
        """``load_pending``, ``counters`` (throttles) incremented and ``tallies`` read, in
        one round trip."""
        raws, counted = self.hub.store.read_and_count(_pending_keys(pending_id), counters,
                                                      ttl=window, tallies=tallies or ())
        return self._pending_from(raws[0] if raws else None), counted

    def load_pending_and_session(self, pending_id: str, cookie: str | None
                                 ) -> tuple[Pending | None, SSOSession | None]:
        """``load_pending`` and the SSO session behind ``cookie``, read in one round trip."""
        pending_keys = _pending_keys(pending_id)
        session_keys = self.hub.sessions.lookup_keys(cookie)
        values = self.hub.store.get_many(pending_keys + session_keys)
        raw_pending = values[0] if pending_keys else None
        return (self._pending_from(raw_pending),
                self.hub.sessions.from_stored(cookie, values[len(pending_keys):]))

    def _pending_from(self, raw: bytes | None) -> Pending | None:
        if raw is None:
            return None
        p = Pending(**json.loads(raw))
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
        scopes = sorted(set(params.get("scope", "").split()))
        from hub.relying import enforce

        wanted, policy_version = enforce.consent_scope(self.hub, client_id, wanted)
        receipt = {"doctor_id": doctor_id, "client_id": client_id, "scopes": scopes,
                   "claims": sorted(wanted), "policy_version": policy_version,
                   "granted_at": utcnow(), "revoked_at": None}
        # The receipt is stored with its audit record or not at all.
        self.hub.audit_event("doctor:consent:grant", doctor_id=doctor_id, client_id=client_id,
                             audited_write=(_INSERT_CONSENT, receipt), released=sorted(wanted),
                             scopes=scopes, policy_version=policy_version)

    def deny(self, params: dict[str, str]) -> Response:
        return self._fail(params, AccessDeniedError("The doctor declined."))

    # -- errors ---------------------------------------------------------------------------
    def _fail(self, params: dict[str, str], error: OAuth2Error,
              req: StoredAuthorizationRequest | None = None) -> Response:
        """Redirect the error only to a redirect URI registered for a known client."""
        redirect_uri = error.redirect_uri or self._registered_redirect_uri(params)
        if not redirect_uri:
            return self.pages.error("This sign-in request cannot be completed",
                                    _public_description(error))
        error.redirect_uri = redirect_uri
        state = params.get("state")
        error.state = state[: self.hub.settings.max_param_length] if state else None
        req = req or StoredAuthorizationRequest(f"{self.hub.settings.issuer}/authorize", {})
        return add_iss(self.hub, self.server.handle_error_response(req, error))


def _pending_keys(pending_id: str) -> list[tuple[str, str]]:
    """The Store read of a pending request; none for an id no request could have."""
    return [(AUTHZ_KIND, pending_id)] if pending_id and len(pending_id) <= 64 else []


def _redirect_error(code: str, description: str, grant: Any) -> OAuth2Error:
    err = OAuth2Error(description=description)
    err.error = code
    return err


def _quotable(value: str) -> bool:
    """Whether ``value`` may appear in an OAuth error description (RFC 6749 §4.1.2.1)."""
    return not invalid_error_characters(value)


def _max_age(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 10:
        raise InvalidRequestError("'max_age' must be a non-negative integer.")
    return int(raw)


def _public_description(error: OAuth2Error) -> str:
    if error.error == "invalid_client":
        return "The partner network is not known to Curbside, or is not yet approved."
    if error.error == "invalid_request" and "redirect" in (error.description or "").lower():
        return "The address to return you to is not registered for this network."
    return error.description or "The request was not valid."
