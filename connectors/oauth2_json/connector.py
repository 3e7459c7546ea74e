"""The ``oauth2-json`` kind: OAuth 2.0 code + PKCE, identity and activity from a JSON API."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from connectors.base import ActivityPage, LinkCredentials, LinkedIdentity
from connectors.jsonapi import fetch_json_activity, origin, require_object, subject_of
from connectors.mapping import lookup
from connectors.normalize import plain_text
from connectors.oauth import ConfiguredOAuthConnector
from connectors.oauth2_json.config import OAuth2JsonConfig


class OAuth2JsonConnector(ConfiguredOAuthConnector):
    kind = "oauth2-json"
    config: OAuth2JsonConfig

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

