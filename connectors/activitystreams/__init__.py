"""The ``activitystreams`` kind: ActivityStreams 2.0 collections (outbox, inbox, ...)."""

from connectors.activitystreams.config import ActivityStreamsConfig
from connectors.activitystreams.connector import ActivityStreamsConnector

__all__ = ["ActivityStreamsConfig", "ActivityStreamsConnector"]
