"""Account linking and the feed relay (uses :mod:`connectors`). See docs/links.md.

``links_for(hub)`` gives the hub's :class:`~hub.links.service.Links` facade: networks,
token vault, linking service, relay and feed, built once by the composition root
(hub/composition.py) and kept as ``hub.links``.
"""

from __future__ import annotations

from typing import Any


def links_for(hub: Any) -> Any:
    return hub.links
