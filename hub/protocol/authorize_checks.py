"""The authorization request as ordered tables of small named checks.

As node-oidc-provider does, the endpoint runs a fixed sequence: ``REQUEST_CHECKS`` (each
passes or raises a typed OAuth error, or ``FlowError`` when answering by redirect could reach
an unverified URI), then the login prompt and the consent prompt, each a declarative list
of reasons to show its page (``LOGIN_CHECKS``, ``CONSENT_CHECKS``). The first reason that
applies decides; under ``prompt=none`` it becomes the prompt's error (OIDC Core §3.1.2.6).
Authlib makes the protocol checks it knows (client, exact redirect URI, response type,
scope, PKCE) inside ``check_client_and_redirect_uri``; none is repeated here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AccessDeniedError, InvalidRequestError, UnsupportedResponseTypeError

from hub.domain import claims as claimset
from hub.domain.consent import ConsentReceipt, latest_consent
from hub.domain.sessions import ACR_MFA, ACR_PHR, SSOSession
from hub.i18n import lazy_gettext as _
from hub.protocol.grants import EndUser
from hub.protocol.server import StoredAuthorizationRequest

if TYPE_CHECKING:
    from hub.protocol.server import OpenIDProvider
    from hub.services import Hub

# RFC 6749 §4.1.2.1: error_description (and what Authlib quotes into it) is limited to
# %x20-21 / %x23-5B / %x5D-7E. The same set as Authlib's invalid_error_characters, as one
# regular expression: that function walks every character through a list of ranges,
# ~40 µs for a redirect URI, twice for each of a sign-in's three /authorize passes.
UNQUOTABLE = re.compile(r"[^\x20\x21\x23-\x5B\x5D-\x7E]")
MAX_PARAMS = 40
MAX_PARAM_NAME = 64
# OIDC Core §6 and §7.2.1: each of these asks for a feature discovery says is off.
UNSUPPORTED = {"request": "request_not_supported", "request_uri": "request_uri_not_supported",
               "registration": "registration_not_supported"}


class FlowError(Exception):
    """An error shown as a page because redirecting could reach an unverified URI."""

    def __init__(self, title: Any, detail: Any, status: int = 400) -> None:
        super().__init__(detail)
        self.title, self.detail, self.status = title, detail, status


@dataclass
class AuthorizationContext:
    """What the checks read and what they learn, for one pass over one request."""

    hub: Hub
    server: OpenIDProvider
    params: dict[str, str]
    sso: SSOSession | None
    oauth: StoredAuthorizationRequest
    fresh_login: bool = False  # the doctor signed in during this very request
    grant: Any = None  # Authlib's authorization-code grant, once the client is known
    claims_request: dict[str, Any] | None = None
    prompts: frozenset[str] = frozenset()
    max_age: int | None = None
    named_subjects: set[str] = field(default_factory=set)
    wanted: set[str] = field(default_factory=set)  # claim names to release
    scopes: set[str] = field(default_factory=set)
    _consent: ConsentReceipt | None | bool = False  # False: not read yet

    @property
    def client(self) -> Any:
        return self.grant.client

    @property
    def end_user(self) -> EndUser | None:
        sso = self.sso
        return None if sso is None else EndUser(sso.doctor_id, sso.auth_time, sso.acr, sso.amr, sso.sid)

    @property
    def consent(self) -> ConsentReceipt | None:
        """The doctor's latest live consent to this client, read once."""
        if self._consent is False:
            assert self.sso is not None
            self._consent = latest_consent(self.hub.db, self.sso.doctor_id, self.client.client_id)
        return self._consent  # type: ignore[return-value]


Check = Callable[[AuthorizationContext], None]


# -- the request ------------------------------------------------------------------------------
def check_parameter_sizes(ctx: AuthorizationContext) -> None:
    limit = ctx.hub.settings.max_param_length
    if len(ctx.params) > MAX_PARAMS or any(
            len(k) > MAX_PARAM_NAME or len(v) > limit for k, v in ctx.params.items()):
        raise InvalidRequestError("A parameter is too long.")


def check_redirect_uri_present(ctx: AuthorizationContext) -> None:
    # OIDC Core §3.1.2.1: redirect_uri is REQUIRED; never guess one.
    if "openid" in ctx.params.get("scope", "").split() and not ctx.params.get("redirect_uri"):
        raise FlowError(_("This sign-in link is incomplete"),
                        _("The partner network did not say where to return you."))


def check_quotable(ctx: AuthorizationContext) -> None:
    """Refuse a redirect_uri or response_type that Authlib could not quote in an error.

    Authlib names both in its error descriptions, which RFC 6749 §4.1.2.1 limits to
    printable ASCII without '"' and '\\', and it raises instead of answering when they are
    outside it. A redirect_uri that is not registered is refused with a page (never redirect
    to an unverified URI, RFC 6749 §4.1.2.1); with a registered one, an unknown
    response_type is an error redirect (§4.1.2.1, unsupported_response_type).
    """
    uri = ctx.params.get("redirect_uri", "")
    if UNQUOTABLE.search(uri) and registered_redirect_uri(ctx.server, ctx.params) is None:
        raise FlowError(_("This sign-in request cannot be completed"),
                        _("The address to return you to is not registered for this network."))
    if UNQUOTABLE.search(ctx.params.get("response_type", "")):
        raise UnsupportedResponseTypeError(None, "The response type is not supported.")


def check_client_and_redirect_uri(ctx: AuthorizationContext) -> None:
    """Authlib's checks (RFC 6749 §4.1.1, §3.1.2.3 exact redirect URI, §3.3 scope; RFC 7636
    S256 PKCE, required of every client by RFC 9700 §2.1.1); the grant names the client."""
    ctx.grant = ctx.server.get_consent_grant(request=ctx.oauth, end_user=ctx.end_user)
    ctx.scopes = set((ctx.grant.request.scope or "").split())


def check_unsupported_parameters(ctx: AuthorizationContext) -> None:
    for name, error in UNSUPPORTED.items():
        if name in ctx.params:
            err = OAuth2Error(description=f"'{name}' is not supported")
            err.error = error
            raise err


def check_response_mode(ctx: AuthorizationContext) -> None:
    # Discovery advertises query only; answering a form_post or fragment request in the
    # query would put the code where the client does not look for it.
    if ctx.params.get("response_mode", "query") != "query":
        raise InvalidRequestError("Only the 'query' response mode is supported.")


def check_claims_parameter(ctx: AuthorizationContext) -> None:
    """OIDC Core §5.5: a JSON object naming claims for the ID token and userinfo."""
    ctx.claims_request = claimset.parse_claims_request(ctx.params.get("claims"))
    ctx.wanted = claimset.requested_claim_names(ctx.grant.request.scope or "", ctx.claims_request)


def check_prompt(ctx: AuthorizationContext) -> None:
    ctx.prompts = frozenset(ctx.params.get("prompt", "").split())


def check_max_age(ctx: AuthorizationContext) -> None:
    """OIDC Core §3.1.2.1: max_age is a number of seconds."""
    raw = ctx.params.get("max_age")
    if raw is None or raw == "":
        return
    if not raw.isdigit() or len(raw) > 10:
        raise InvalidRequestError("'max_age' must be a non-negative integer.")
    ctx.max_age = int(raw)


def check_id_token_hint(ctx: AuthorizationContext) -> None:
    """The subjects the request names: the id_token_hint's (OIDC Core §3.1.2.1), an ID token
    this hub issued to this client (expired ones too: the hint names a doctor, it proves
    nothing), and a requested sub value (§5.5.1)."""
    named = {claimset.requested_subject(ctx.claims_request)}
    hint = ctx.params.get("id_token_hint")
    if hint:
        claims = ctx.hub.keys.signed_claims(hint) or {}
        aud = claims.get("aud")
        auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if (claims.get("iss") != ctx.hub.settings.issuer or ctx.client.client_id not in auds
                or not isinstance(claims.get("sub"), str)):
            raise InvalidRequestError("'id_token_hint' is not an ID token issued to this client.")
        named.add(claims["sub"])
    ctx.named_subjects = {s for s in named if s is not None}


REQUEST_CHECKS: tuple[Check, ...] = (
    check_parameter_sizes,
    check_redirect_uri_present,
    check_quotable,
    check_client_and_redirect_uri,
    check_unsupported_parameters,
    check_response_mode,
    check_claims_parameter,
    check_prompt,
    check_max_age,
    check_id_token_hint,
)


# -- the prompts ------------------------------------------------------------------------------
@dataclass(frozen=True)
class PromptCheck:
    """A reason to show a prompt's page. ``after_fresh_login``: still checked right after
    the doctor signed in, where it is an error (asking again would not change the answer).
    ``description``: the error's text under prompt=none (else the error's default)."""

    name: str
    applies: Callable[[AuthorizationContext], bool]
    after_fresh_login: bool = False
    description: str | None = None


def _wants_mfa(ctx: AuthorizationContext) -> bool:
    """acr_values or an essential acr (OIDC Core §5.5.1.1) ask for the second factor, this
    session lacks it, and the doctor has one to give (a TOTP code, or a passkey)."""
    assert ctx.sso is not None
    wanted = ACR_MFA in (claimset.essential_acr_values(ctx.claims_request) or []) or (
        ACR_MFA in ctx.params.get("acr_values", "").split())
    if not wanted or ctx.sso.acr in (ACR_MFA, ACR_PHR):  # a passkey session has both factors
        return False
    doctor = ctx.hub.accounts.get(ctx.sso.doctor_id)
    return bool(doctor and (doctor.mfa_enabled or ctx.hub.passkeys.count_for(doctor.id)))


def _names_another_doctor(ctx: AuthorizationContext) -> bool:
    """OIDC Core §3.1.2.2 point 4: a positive answer only for the doctor the request names,
    compared as this client sees the signed-in doctor."""
    assert ctx.sso is not None
    return bool(ctx.named_subjects) and ctx.named_subjects != {
        ctx.hub.subject(ctx.sso.doctor_id, ctx.client)}


# OIDC Core §3.1.2.3: when the doctor must authenticate (again).
LOGIN_CHECKS: tuple[PromptCheck, ...] = (
    PromptCheck("no_session", lambda ctx: ctx.sso is None),
    PromptCheck("login_prompt", lambda ctx: "login" in ctx.prompts),
    PromptCheck("max_age", lambda ctx: ctx.max_age is not None and ctx.sso is not None
                and time.time() - ctx.sso.auth_time > ctx.max_age),
    PromptCheck("mfa_requested", _wants_mfa),
    PromptCheck("named_subject_mismatch", _names_another_doctor, after_fresh_login=True,
                description="The signed-in doctor is not the one the request names."),
)

# OIDC Core §3.1.2.4: when the doctor must be asked; a live receipt covering the request
# answers for them.
CONSENT_CHECKS: tuple[PromptCheck, ...] = (
    PromptCheck("consent_prompt", lambda ctx: "consent" in ctx.prompts),
    PromptCheck("no_consent", lambda ctx: ctx.consent is None),
    PromptCheck("claims_not_consented", lambda ctx: not ctx.consent.covers_claims(ctx.wanted)),  # type: ignore[union-attr]
    PromptCheck("scopes_not_consented", lambda ctx: not ctx.consent.covers_scopes(ctx.scopes)),  # type: ignore[union-attr]
)


def first_reason(checks: tuple[PromptCheck, ...], ctx: AuthorizationContext, *,
                 fresh_login: bool = False) -> PromptCheck | None:
    """The first check that applies, or None when the prompt is not needed; right after a
    login (``fresh_login``) only the checks marked ``after_fresh_login``."""
    for check in checks:
        if fresh_login and not check.after_fresh_login:
            continue
        if check.applies(ctx):
            return check
    return None


def check_essential_acr(ctx: AuthorizationContext) -> None:
    # OIDC Core §5.5.1.1: an unmet essential acr is a failed authentication.
    essential = claimset.essential_acr_values(ctx.claims_request)
    if essential and ctx.sso is not None and ctx.sso.acr not in essential:
        raise AccessDeniedError("The required authentication level was not met.")


def registered_redirect_uri(server: OpenIDProvider, params: dict[str, str]) -> str | None:
    """The request's redirect_uri when it is registered for an active client."""
    client = server.query_client(params.get("client_id", ""))
    uri = params.get("redirect_uri", "")
    return uri if client is not None and uri and client.check_redirect_uri(uri) else None
