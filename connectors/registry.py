"""The one place that maps a kind name to its implementation, config type, label and
abilities (after dex); the hub derives its command choices, page labels and sign-in rules
from it.

Adding a network kind = one subpackage + one entry in ``KINDS``. A network *instance* (e.g.
"sermo") is the hub's name plus a kind and a plain-data config::

    connector = build("sermo", "oauth2-json", {"client_id": ..., ...})

:func:`add_kind` and :func:`remove_kind` change the table at run time (tests add a
throwaway kind).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from connectors.activitystreams import ActivityStreamsConfig, ActivityStreamsConnector
from connectors.base import Connector
from connectors.config import parse_config
from connectors.errors import ConfigError
from connectors.feed import FeedConfig, FeedConnector
from connectors.oauth2_json import OAuth2JsonConfig, OAuth2JsonConnector
from connectors.oidc import OidcConfig, OidcConnector
from connectors.webhooks import WebhookConfig, WebhookReceiver
from connectors.webhooks.receiver import AddOnce

_NETWORK = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


@dataclass(frozen=True)
class Kind:
    factory: Callable[..., Connector]  # (network, config, *, session, clock) -> Connector
    config_type: type
    label: str  # what a doctor or an operator reads, e.g. "OpenID Connect"
    # Linking proves the doctor controls the upstream account (they signed in there), so
    # the link may serve as a sign-in method; False for kinds linked by URL alone (feed).
    proves_control: bool = True
    # Offer brokered sign-in unless the operator says otherwise (the upstream is an
    # OpenID Provider whose ID token names the doctor).
    signs_in_by_default: bool = False

    def allows_signin(self, requested: bool | None) -> bool:
        """May a network of this kind sign doctors in? ``requested`` is the operator's
        choice (None: the kind's default); a kind whose links prove nothing never may."""
        wanted = self.signs_in_by_default if requested is None else requested
        return wanted and self.proves_control


KINDS: dict[str, Kind] = {
    "oidc": Kind(OidcConnector, OidcConfig, "OpenID Connect", signs_in_by_default=True),
    "oauth2-json": Kind(OAuth2JsonConnector, OAuth2JsonConfig, "OAuth 2.0 + JSON API"),
    "activitystreams": Kind(ActivityStreamsConnector, ActivityStreamsConfig, "ActivityStreams"),
    "feed": Kind(FeedConnector, FeedConfig, "Atom/RSS feed", proves_control=False),
}
_lock = threading.Lock()


def add_kind(name: str, kind: Kind) -> None:
    """Put a kind in the table (replacing one of the same name)."""
    with _lock:
        KINDS[name] = kind


def remove_kind(name: str) -> None:
    with _lock:
        KINDS.pop(name, None)


def labels() -> dict[str, str]:
    """Kind name → label, for pages and listings."""
    return {name: kind.label for name, kind in KINDS.items()}

# Push receivers are not pull connectors (no begin_link/fetch_activity), so they have their own
# table; a network that pushes pairs one with a connector for linking.
RECEIVERS: Mapping[str, type] = {"webhooks": WebhookConfig}


def _check_network(network: str) -> None:
    if not isinstance(network, str) or not _NETWORK.match(network):
        raise ConfigError("network: lower-case letters, digits, '.', '_' or '-' (max 63)")


def load_config(kind: str, data: Mapping[str, Any]) -> Any:
    """Validate plain data into the kind's typed config (unknown keys are an error)."""
    if kind in KINDS:
        return parse_config(KINDS[kind].config_type, data)
    if kind in RECEIVERS:
        return parse_config(RECEIVERS[kind], data)
    raise ConfigError(f"kind: unknown {kind!r}; known: {', '.join([*KINDS, *RECEIVERS])}")


def build(
    network: str,
    kind: str,
    config: Mapping[str, Any] | Any,
    *,
    session: requests.Session | None = None,
    clock: Callable[[], float] = time.time,
) -> Connector:
    """A connector for ``network`` of ``kind``; ``config`` is plain data or the typed config."""
    _check_network(network)
    if kind not in KINDS:
        raise ConfigError(f"kind: unknown {kind!r}; known: {', '.join(KINDS)}")
    spec = KINDS[kind]
    typed = parse_config(spec.config_type, config)
    return spec.factory(network, typed, session=session, clock=clock)


def build_receiver(
    network: str,
    config: Mapping[str, Any] | WebhookConfig,
    *,
    add_once: AddOnce,
    clock: Callable[[], float] = time.time,
) -> WebhookReceiver:
    _check_network(network)
    return WebhookReceiver(network, parse_config(WebhookConfig, config), add_once=add_once,
                           clock=clock)
