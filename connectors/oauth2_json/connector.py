"""The ``oauth2-json`` kind: OAuth 2.0 code + PKCE, identity and activity from a JSON API."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import requests

from connectors.base import ActivityPage, LinkCredentials, LinkedIdentity, LinkStart
from connectors.http import HttpClient
from connectors.jsonapi import fetch_json_activity, origin, require_object, subject_of
from connectors.mapping import lookup
from connectors.normalize import plain_text
from connectors.oauth import Endpoints, OAuthFlow
from connectors.oauth2_json.config import OAuth2JsonConfig


class OAuth2JsonConnector:
    kind = "oauth2-json"

    def __init__(
        self,
        network: str,
        config: OAuth2JsonConfig,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
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

    def complete_link(self, params: Mapping[str, str], pending: bytes) -> LinkedIdentity:
        code, state = self.flow.callback(params, pending, self.endpoints)
        token = self.flow.exchange_code(self.endpoints, code, state)
        ident = self.config.identity
        profile = require_object(
            self.http.get(ident.url, bearer=token["access_token"]).json(), "identity",
            self.network)
        return LinkedIdentity(
            network=self.network,
            issuer=self.config.issuer or origin(self.config.authorization_endpoint),
            subject=subject_of(lookup(profile, ident.subject), self.network),
            display_name=plain_text(lookup(profile, ident.name), 200) if ident.name else None,
            acr=None,
            amr=(),
            authenticated_at=None,
            linked_at=datetime.fromtimestamp(self.clock(), UTC),
            proves_control=True,
            credentials=self.flow.credentials(token),
        )

    def refresh(self, link: LinkCredentials) -> LinkCredentials:
        return self.flow.refresh(self.endpoints, link)[1]

    def fetch_activity(
        self,
        link: LinkCredentials,
        *,
        cursor: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> ActivityPage:
        return fetch_json_activity(self.http, self.config.activity, link, cursor=cursor,
                                   etag=etag, last_modified=last_modified)

    def revoke(self, link: LinkCredentials) -> None:
        self.flow.revoke(self.endpoints, link)
