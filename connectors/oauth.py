"""OAuth 2.0 authorization code + PKCE, shared by the oidc, oauth2-json and activitystreams
kinds. Authlib supplies the primitives (token generation, S256 challenge, URL building);
this module only wires them to :class:`HttpClient` so every call gets the same timeouts,
size cap and address guard.

References: RFC 6749 (OAuth 2.0), RFC 7636 (PKCE), RFC 6750 (Bearer), RFC 7009 (revocation),
RFC 9207 (``iss`` in the authorization response), RFC 9700 (OAuth 2.0 Security BCP).
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from connectors.base import LinkCredentials, LinkStart
from connectors.config import require_url
from connectors.errors import ConfigError, InvalidUpstreamData, UpstreamRejected
from connectors.http import HttpClient, HttpOptions, Response

_ERROR_CODE = re.compile(r"^[a-z0-9_.-]{1,64}$")
_MAX_PARAM = 4096


@dataclass(frozen=True, kw_only=True)
class OAuthClientConfig:
    """Keys shared by every OAuth-based kind."""

    client_id: str
    client_secret: str = field(default="", repr=False)
    # RFC 6749 §2.3.1 / OIDC Core §9; "none" = public client, protected by PKCE alone.
    token_endpoint_auth_method: Literal["client_secret_basic", "client_secret_post", "none"] = (
        "client_secret_basic"
    )
    scopes: tuple[str, ...] = ()
    link_timeout: int = 900  # seconds a begin_link stays valid (defence in depth over the TTL)
    http: HttpOptions = field(default_factory=HttpOptions)

    def __post_init__(self) -> None:
        if not self.client_id or not self.client_id.isprintable():
            raise ConfigError("client_id: required")
        if self.token_endpoint_auth_method != "none" and not self.client_secret:
            raise ConfigError("client_secret: required unless token_endpoint_auth_method is none")
        for scope in self.scopes:
            if not scope or not scope.isprintable() or " " in scope:
                raise ConfigError("scopes: each scope is one token without spaces")
        if not 60 <= self.link_timeout <= 3600:
            raise ConfigError("link_timeout: between 60 and 3600 seconds")


@dataclass(frozen=True, kw_only=True)
class OAuthEndpointsConfig:
    """Keys for kinds whose endpoints are configured, not discovered."""

    authorization_endpoint: str
    token_endpoint: str
    revocation_endpoint: str = ""
    # The authorization server's issuer: when set, a callback carrying a different ``iss``
    # is refused (RFC 9207 mix-up defence), and it is the LinkedIdentity issuer.
    issuer: str = ""

    def check_endpoints(self, allow_http: bool) -> None:
        require_url(self.authorization_endpoint, "authorization_endpoint", allow_http=allow_http)
        require_url(self.token_endpoint, "token_endpoint", allow_http=allow_http)
        require_url(self.revocation_endpoint, "revocation_endpoint", allow_http=allow_http,
                    required=False)
        require_url(self.issuer, "issuer", allow_http=allow_http, required=False)


@dataclass(frozen=True)
class Endpoints:
    authorization: str
    token: str
    revocation: str | None
    issuer: str | None


@dataclass(frozen=True)
class Pending:
    """What ``LinkStart.pending`` holds. Secrets: the hub keeps it server-side."""

    state: str
    code_verifier: str = field(repr=False)
    nonce: str = field(repr=False)
    redirect_uri: str
    created_at: float

    def encode(self) -> bytes:
        return json.dumps(
            {"v": 1, "state": self.state, "cv": self.code_verifier, "nonce": self.nonce,
             "ru": self.redirect_uri, "t": self.created_at},
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Pending:
        try:
            data = json.loads(raw)
            if data.get("v") != 1:
                raise ValueError("version")
            return cls(str(data["state"]), str(data["cv"]), str(data["nonce"]),
                       str(data["ru"]), float(data["t"]))
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
            raise InvalidUpstreamData(
                "The linking session is invalid. Please start again.", reason="bad_pending"
            ) from None


def _flat_param(params: Mapping[str, str], key: str) -> str | None:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > _MAX_PARAM:
        raise InvalidUpstreamData(reason="bad_callback", detail=f"parameter {key}")
    return value


class OAuthFlow:
    """The code flow for one configured client."""

    def __init__(
        self,
        network: str,
        config: OAuthClientConfig,
        http: HttpClient,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.network = network
        self.config = config
        self.http = http
        self.clock = clock

    # -- authorization request (RFC 6749 §4.1.1, RFC 7636 §4.1-4.3, OIDC Core §3.1.2.1) --

    def begin(
        self,
        endpoints: Endpoints,
        *,
        state: str,
        redirect_uri: str,
        scopes: tuple[str, ...],
        with_nonce: bool = False,
        extra: Mapping[str, str] | None = None,
    ) -> LinkStart:
        if not state or len(state) > 512 or not state.isprintable():
            raise ConfigError("state: 1-512 printable characters required")
        if not redirect_uri or not redirect_uri.startswith(("https://", "http://")):
            raise ConfigError("redirect_uri: an absolute http(s) URL is required")
        # RFC 7636 §4.1: 43-128 unreserved characters; 64 of Authlib's [A-Za-z0-9] ~ 381 bits.
        verifier = generate_token(64)
        nonce = generate_token(32) if with_nonce else ""
        params: dict[str, str] = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",  # never "plain" (RFC 7636 §4.2, RFC 9700 §2.1.1)
        }
        if scopes:
            params["scope"] = " ".join(scopes)
        if nonce:
            params["nonce"] = nonce
        for key, value in (extra or {}).items():
            params.setdefault(key, value)  # never overrides the security parameters above
        pending = Pending(state, verifier, nonce, redirect_uri, self.clock())
        return LinkStart(
            authorization_url=add_params_to_uri(endpoints.authorization, params),
            pending=pending.encode(),
        )

    # -- authorization response (RFC 6749 §4.1.2) ------------------------------------------

    def callback(
        self, params: Mapping[str, str], pending_raw: bytes, endpoints: Endpoints
    ) -> tuple[str, Pending]:
        """Check the callback against ``pending``; return (code, pending)."""
        pending = Pending.decode(pending_raw)
        if self.clock() - pending.created_at > self.config.link_timeout:
            raise InvalidUpstreamData(
                "The linking session expired. Please start again.", reason="link_expired",
                network=self.network,
            )
        state = _flat_param(params, "state") or ""
        # CSRF defence: the response must belong to the request this session started.
        if not hmac.compare_digest(state.encode(), pending.state.encode()):
            raise InvalidUpstreamData(
                "The sign-in response did not match this session. Please start again.",
                reason="state_mismatch", network=self.network,
            )
        iss = _flat_param(params, "iss")
        if iss is not None and endpoints.issuer and iss != endpoints.issuer:
            raise InvalidUpstreamData(reason="issuer_mismatch", network=self.network,
                                      detail="RFC 9207 iss does not match")
        error = _flat_param(params, "error")
        if error is not None:
            code = error if _ERROR_CODE.match(error) else "invalid_error"
            raise UpstreamRejected(
                "The link was cancelled or refused at the partner network.",
                reason=code, network=self.network,
            )
        code_value = _flat_param(params, "code")
        if not code_value:
            raise InvalidUpstreamData(reason="missing_code", network=self.network)
        return code_value, pending

    # -- token endpoint (RFC 6749 §4.1.3, §5, §6; RFC 7636 §4.5) -----------------------------

    def exchange_code(self, endpoints: Endpoints, code: str, pending: Pending) -> dict[str, Any]:
        return self._token_request(endpoints, {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": pending.redirect_uri,
            "code_verifier": pending.code_verifier,
        })

    def refresh(self, endpoints: Endpoints, link: LinkCredentials) -> tuple[dict[str, Any],
                                                                            LinkCredentials]:
        if not link.refresh_token:
            raise UpstreamRejected(reason="invalid_grant", network=self.network,
                                   detail="no refresh token stored")
        token = self._token_request(endpoints, {
            "grant_type": "refresh_token", "refresh_token": link.refresh_token,
        })
        return token, self.credentials(token, endpoint=link.endpoint, previous=link)

    def revoke(self, endpoints: Endpoints, link: LinkCredentials) -> None:
        """RFC 7009: revoke the refresh token (which also ends its access tokens, §2.1), then
        the access token. A 200 is success even for an unknown token (§2.2)."""
        if not endpoints.revocation:
            return
        for token, hint in ((link.refresh_token, "refresh_token"),
                            (link.access_token, "access_token")):
            if not token:
                continue
            resp = self.http.post_form(
                endpoints.revocation,
                {"token": token, "token_type_hint": hint, **self._auth_body()},
                headers=self._auth_headers(),
            )
            if resp.status == 400 and _oauth_error(resp) == "unsupported_token_type":
                continue  # §2.2.1: e.g. access tokens are not revocable there
            if resp.status >= 400:
                raise UpstreamRejected(reason=_oauth_error(resp) or f"http_{resp.status}",
                                       network=self.network)

    def credentials(
        self,
        token: Mapping[str, Any],
        *,
        endpoint: str | None = None,
        previous: LinkCredentials | None = None,
    ) -> LinkCredentials:
        expires_at = None
        expires_in = token.get("expires_in")
        if isinstance(expires_in, str) and expires_in.isdigit():
            expires_in = int(expires_in)
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
            seconds = min(max(float(expires_in), 0.0), 366 * 86400.0)
            expires_at = datetime.fromtimestamp(self.clock(), UTC) + timedelta(seconds=seconds)
        scope_value = token.get("scope")
        if isinstance(scope_value, str):
            scope = tuple(s for s in scope_value.split(" ") if s)
        elif previous is not None:
            scope = previous.scope  # RFC 6749 §6: unchanged unless stated
        else:
            scope = self.config.scopes  # §5.1: omitted means as requested
        refresh = token.get("refresh_token")
        return LinkCredentials(
            access_token=token["access_token"],
            # A refresh response without refresh_token keeps the old one (RFC 6749 §6).
            refresh_token=refresh if isinstance(refresh, str) and refresh else (
                previous.refresh_token if previous else None),
            token_type="Bearer",
            expires_at=expires_at,
            scope=scope,
            endpoint=endpoint,
        )

    # -- internals --------------------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        if self.config.token_endpoint_auth_method != "client_secret_basic":
            return {}
        # RFC 6749 §2.3.1: id and secret are form-urlencoded *before* base64.
        user = quote(self.config.client_id, safe="")
        pair = f"{user}:{quote(self.config.client_secret, safe='')}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}

    def _auth_body(self) -> dict[str, str]:
        method = self.config.token_endpoint_auth_method
        if method == "client_secret_post":
            return {"client_id": self.config.client_id,
                    "client_secret": self.config.client_secret}
        if method == "none":
            return {"client_id": self.config.client_id}
        return {}

    def _token_request(self, endpoints: Endpoints, body: dict[str, str]) -> dict[str, Any]:
        resp = self.http.post_form(endpoints.token, {**body, **self._auth_body()},
                                   headers=self._auth_headers())
        if resp.status >= 400:
            raise UpstreamRejected(
                "The partner network refused the link.",
                reason=_oauth_error(resp) or f"http_{resp.status}", network=self.network,
            )
        token = resp.json()
        if not isinstance(token, dict):
            raise InvalidUpstreamData(reason="wrong_shape", detail="token response",
                                      network=self.network)
        access = token.get("access_token")
        token_type = token.get("token_type")
        if not isinstance(access, str) or not access or len(access) > _MAX_PARAM:
            raise InvalidUpstreamData(reason="no_access_token", network=self.network)
        # RFC 6749 §7.1: we only know how to use Bearer tokens (RFC 6750).
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise InvalidUpstreamData(reason="unsupported_token_type", network=self.network)
        refresh = token.get("refresh_token")
        if refresh is not None and (not isinstance(refresh, str) or len(refresh) > _MAX_PARAM):
            raise InvalidUpstreamData(reason="bad_refresh_token", network=self.network)
        return token


def _oauth_error(resp: Response) -> str | None:
    try:
        data = json.loads(resp.body)
    except (ValueError, RecursionError):
        return None
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, str) and _ERROR_CODE.match(error) else None


class ConfiguredOAuthConnector:
    """What the kinds with configured OAuth 2.0 endpoints share: the HTTP client, the code +
    PKCE flow, linking's first step, refresh and revocation. Subclasses add how identity and
    activity are read."""

    def __init__(self, network: str, config: Any, *, session: Any = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.network = network
        self.config = config
        self.clock = clock
        self.http = HttpClient(network, config.http, session=session)
        self.flow = OAuthFlow(network, config, self.http, clock=clock)
        self.endpoints = Endpoints(
            authorization=config.authorization_endpoint,
            token=config.token_endpoint,
            revocation=config.revocation_endpoint or None,
            issuer=config.issuer or None,
        )

    def begin_link(self, *, state: str, redirect_uri: str) -> LinkStart:
        return self.flow.begin(self.endpoints, state=state, redirect_uri=redirect_uri,
                               scopes=self.config.scopes)

    def refresh(self, link: LinkCredentials) -> LinkCredentials:
        return self.flow.refresh(self.endpoints, link)[1]

    def revoke(self, link: LinkCredentials) -> None:
        self.flow.revoke(self.endpoints, link)
