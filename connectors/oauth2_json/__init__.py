"""The ``oauth2-json`` kind: OAuth 2.0 login and a JSON API with a configurable mapping."""

from connectors.oauth2_json.config import IdentityConfig, OAuth2JsonConfig
from connectors.oauth2_json.connector import OAuth2JsonConnector

__all__ = ["IdentityConfig", "OAuth2JsonConfig", "OAuth2JsonConnector"]
