"""Configurable mapping from a network's JSON to :class:`ActivityItem` (oauth2-json, oidc
activity APIs, webhook payloads).

Paths are dotted: ``data.posts``, ``links.self``, ``authors.0.name`` (a numeric segment
indexes a list). A path that does not resolve gives ``None`` — a missing field is not an
error; a *container* of the wrong shape is (:class:`InvalidUpstreamData`), and an item of the
wrong shape is skipped and counted, so one bad item never loses the others.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.base import ActivityItem
from connectors.errors import ConfigError, InvalidUpstreamData
from connectors.normalize import make_item

_PATH = re.compile(r"^[A-Za-z0-9_@$:-]+(\.[A-Za-z0-9_@$:-]+)*$")
MAX_ITEMS = 500  # per page: bounds work on a hostile page even under the byte cap


def check_path(value: str, key: str, *, allow_empty: bool = True) -> None:
    if value == "" and allow_empty:
        return
    if len(value) > 200 or not _PATH.match(value):
        raise ConfigError(f"{key}: not a dotted path")


def lookup(data: Any, path: str) -> Any:
    """Follow a dotted path; ``""`` is the value itself. Never raises."""
    if path == "":
        return data
    cur = data
    for segment in path.split("."):
        if isinstance(cur, Mapping):
            cur = cur.get(segment)
        elif isinstance(cur, list) and segment.isdigit() and int(segment) < len(cur):
            cur = cur[int(segment)]
        else:
            return None
        if cur is None:
            return None
    return cur


@dataclass(frozen=True, kw_only=True)
class ItemMapping:
    """Where each :class:`ActivityItem` field lives in one JSON item. ``""`` = not present."""

    items_path: str = ""  # path to the list of items in the response ("" = the root)
    id: str = "id"
    title: str = "title"
    summary: str = ""
    url: str = "url"
    published: str = "published"
    actor: str = ""
    kind: str = ""  # path to a type field; else default_kind
    default_kind: str = "post"

    def __post_init__(self) -> None:
        for name in ("items_path", "id", "title", "summary", "url", "published", "actor", "kind"):
            check_path(getattr(self, name), name)
        if not self.id and not self.url:
            raise ConfigError("mapping: needs an id or a url path")


def map_item(
    raw: Any, mapping: ItemMapping, *, network: str, base_url: str | None = None
) -> ActivityItem | None:
    if not isinstance(raw, Mapping):
        return None

    def get(path: str) -> Any:
        return lookup(raw, path) if path else None

    return make_item(
        network=network,
        kind=get(mapping.kind),
        title=get(mapping.title),
        summary=get(mapping.summary),
        url=get(mapping.url),
        published=get(mapping.published),
        actor=get(mapping.actor),
        id=get(mapping.id),
        base_url=base_url,
        default_kind=mapping.default_kind,
    )


def map_items(
    document: Any, mapping: ItemMapping, *, network: str, base_url: str | None = None
) -> tuple[tuple[ActivityItem, ...], int]:
    """(items, skipped). :class:`InvalidUpstreamData` if ``items_path`` is not a list."""
    raw_items = lookup(document, mapping.items_path)
    if raw_items is None and mapping.items_path and isinstance(document, Mapping):
        return (), 0  # an empty page may omit the list
    if not isinstance(raw_items, list):
        raise InvalidUpstreamData(
            reason="wrong_shape",
            detail=f"items_path {mapping.items_path!r} is {type(raw_items).__name__}, not a list",
            network=network,
        )
    return collect(
        (map_item(raw, mapping, network=network, base_url=base_url) for raw in raw_items),
        total=len(raw_items),
    )


def collect(
    candidates: Any, *, total: int
) -> tuple[tuple[ActivityItem, ...], int]:
    """Keep the first MAX_ITEMS good items, dedupe by id, count the rest as skipped."""
    items: list[ActivityItem] = []
    seen: set[str] = set()
    for item in candidates:
        if len(items) >= MAX_ITEMS:
            break
        if item is None or item.id in seen:
            continue
        seen.add(item.id)
        items.append(item)
    return tuple(items), max(total - len(items), 0)
