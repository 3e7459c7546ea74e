"""The ``feed`` kind: Atom or RSS, added by URL (no login)."""

from connectors.feed.config import FeedConfig
from connectors.feed.connector import FeedConnector

__all__ = ["FeedConfig", "FeedConnector"]
