"""Connectors to partner networks: framework-free library code (no hub, Flask, SQLAlchemy,
Redis, policies or federation imports). See docs/connectors.md.

The interface is in :mod:`connectors.base`, the kind table in :mod:`connectors.registry`.
"""

from connectors.base import (
    ActivityItem,
    ActivityPage,
    Connector,
    LinkCredentials,
    LinkedIdentity,
    LinkStart,
    Refreshing,
)
from connectors.errors import (
    ConfigError,
    ConnectorError,
    InvalidUpstreamData,
    UpstreamRejected,
    UpstreamUnavailable,
)

__all__ = [
    "ActivityItem",
    "ActivityPage",
    "ConfigError",
    "Connector",
    "ConnectorError",
    "InvalidUpstreamData",
    "LinkCredentials",
    "LinkStart",
    "LinkedIdentity",
    "Refreshing",
    "UpstreamRejected",
    "UpstreamUnavailable",
]
