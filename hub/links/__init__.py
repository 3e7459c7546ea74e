"""Account linking and the feed relay (uses :mod:`connectors`). See docs/links.md.

``links_for(hub)`` gives the per-hub :class:`~hub.links.service.Links` facade: networks,
token vault, linking service, relay and feed, built once and kept in ``hub.extra``.
"""

from __future__ import annotations

from typing import Any


def links_for(hub: Any) -> Any:
    from hub.links.service import Links

    links = hub.extra.get("links")
    if links is None:
        links = hub.extra["links"] = Links(hub)
    return links
