"""The ``oidc`` kind: the network is itself an OpenID Provider."""

from connectors.oidc.config import OidcConfig
from connectors.oidc.connector import OidcConnector

__all__ = ["OidcConfig", "OidcConnector"]
