"""The ``oidc`` kind: link (and brokered sign-in) with an upstream OpenID Provider."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import requests

from connectors.base import ActivityPage, LinkCredentials, LinkedIdentity, LinkStart
from connectors.errors import InvalidUpstreamData
from connectors.http import HttpClient
from connectors.jsonapi import fetch_json_activity
from connectors.normalize import parse_datetime, plain_text
from connectors.oauth import OAuthFlow
from connectors.oidc.config import OidcConfig
from connectors.oidc.discovery import Provider
from connectors.oidc.idtoken import validate_id_token


class OidcConnector:
    kind = "oidc"

    def __init__(
        self,
        network: str,
        config: OidcConfig,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.network = network
        self.config = config
        self.clock = clock
        self.http = HttpClient(network, config.http, session=session)
        self.provider = Provider(config, self.http)
        self.flow = OAuthFlow(network, config, self.http, clock=clock)

    def begin_link(self, *, state: str, redirect_uri: str) -> LinkStart:
        meta = self.provider.metadata()
        extra = {"acr_values": " ".join(self.config.acr_values)} if self.config.acr_values else {}
        return self.flow.begin(meta.endpoints, state=state, redirect_uri=redirect_uri,
                               scopes=self.config.scopes, with_nonce=True, extra=extra)

    def complete_link(self, params: Mapping[str, str], pending: bytes) -> LinkedIdentity:
        meta = self.provider.metadata()
        if meta.iss_parameter_required and "iss" not in params:
            raise InvalidUpstreamData(reason="missing_iss", network=self.network,
                                      detail="RFC 9207: provider promised iss")
        code, state = self.flow.callback(params, pending, meta.endpoints)
        token = self.flow.exchange_code(meta.endpoints, code, state)
        claims = validate_id_token(
            token.get("id_token"),
            config=self.config,
            issuer=meta.issuer,
            algs=meta.algs,
            keys=lambda force: self.provider.keys(force=force),
            nonce=state.nonce,
            access_token=token["access_token"],
            now=self.clock(),
            network=self.network,
        )
        profile: Mapping[str, Any] = claims
        if self.config.userinfo and meta.userinfo_endpoint:
            profile = self._userinfo(meta.userinfo_endpoint, token["access_token"], claims)
        amr = claims.get("amr")
        acr = claims.get("acr")
        return LinkedIdentity(
            network=self.network,
            issuer=meta.issuer,
            subject=claims["sub"],
            display_name=_display_name(profile) or _display_name(claims),
            acr=acr if isinstance(acr, str) and acr.isprintable() else None,
            amr=tuple(a for a in amr if isinstance(a, str))[:10] if isinstance(amr, list) else (),
            authenticated_at=parse_datetime(claims.get("auth_time")),
            linked_at=datetime.fromtimestamp(self.clock(), UTC),
            proves_control=True,
            credentials=self.flow.credentials(token),
        )

    def refresh(self, link: LinkCredentials) -> LinkCredentials:
        # A refreshed ID token (OIDC Core §12.2) is not used: the link evidence stays the one
        # recorded at complete_link.
        _, creds = self.flow.refresh(self.provider.metadata().endpoints, link)
        return creds

    def fetch_activity(
        self,
        link: LinkCredentials,
        *,
        cursor: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> ActivityPage:
        if self.config.activity is None:
            return ActivityPage()
        return fetch_json_activity(self.http, self.config.activity, link, cursor=cursor,
                                   etag=etag, last_modified=last_modified)

    def revoke(self, link: LinkCredentials) -> None:
        self.flow.revoke(self.provider.metadata().endpoints, link)

    def _userinfo(self, url: str, access_token: str, claims: Mapping[str, Any]
                  ) -> Mapping[str, Any]:
        info = self.http.get(url, bearer=access_token).json()
        # OIDC Core §5.3.4: the UserInfo sub MUST match the ID token's, else it is not used.
        if not isinstance(info, dict) or info.get("sub") != claims["sub"]:
            raise InvalidUpstreamData(reason="userinfo_sub_mismatch", network=self.network)
        return info


def _display_name(profile: Mapping[str, Any]) -> str | None:
    for key in ("name", "preferred_username", "nickname"):
        text = plain_text(profile.get(key), 200)
        if text:
            return text
    given = plain_text(profile.get("given_name"), 100)
    family = plain_text(profile.get("family_name"), 100)
    return " ".join(p for p in (given, family) if p) or None
