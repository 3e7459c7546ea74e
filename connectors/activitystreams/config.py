"""Config of the ``activitystreams`` kind."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.config import require_url
from connectors.errors import ConfigError
from connectors.oauth import OAuthClientConfig, OAuthEndpointsConfig


@dataclass(frozen=True, kw_only=True)
class ActivityStreamsConfig(OAuthClientConfig, OAuthEndpointsConfig):
    actor_url: str  # GET with the member's token -> their AS2 actor (e.g. a Person)
    # The actor property that names the collection to read (AS2 Core §5.1 / ActivityPub §4.1):
    # "outbox" for what the doctor posted, "inbox" or an extension such as "notifications".
    collection: str = "outbox"

    def __post_init__(self) -> None:
        super().__post_init__()
        allow_http = self.http.insecure_transport
        self.check_endpoints(allow_http)
        require_url(self.actor_url, "actor_url", allow_http=allow_http)
        if not self.collection.isidentifier():
            raise ConfigError("collection: an actor property name such as outbox")
