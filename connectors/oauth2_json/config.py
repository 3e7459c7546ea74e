"""Config of the ``oauth2-json`` kind: OAuth 2.0 login plus a JSON API."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.config import require_url
from connectors.jsonapi import JsonActivityConfig
from connectors.mapping import check_path
from connectors.oauth import OAuthClientConfig, OAuthEndpointsConfig


@dataclass(frozen=True, kw_only=True)
class IdentityConfig:
    url: str  # GET with the member's token: who is this? e.g. https://api.example/v1/me
    subject: str = "id"  # dotted path to the stable member id (never the e-mail address)
    name: str = "name"  # dotted path to the display name ("" = none)

    def __post_init__(self) -> None:
        check_path(self.subject, "identity.subject", allow_empty=False)
        check_path(self.name, "identity.name")


@dataclass(frozen=True, kw_only=True)
class OAuth2JsonConfig(OAuthClientConfig, OAuthEndpointsConfig):
    identity: IdentityConfig
    activity: JsonActivityConfig

    def __post_init__(self) -> None:
        super().__post_init__()
        allow_http = self.http.insecure_transport
        self.check_endpoints(allow_http)
        require_url(self.identity.url, "identity.url", allow_http=allow_http)
        self.activity.check(allow_http)
