"""ActivityStreams 2.0 documents to :class:`ActivityItem` (AS2 Core, AS2 Vocabulary).

Only what a merged feed needs: collections and pages (AS2 Core §5.3, §5.5), activities that
wrap an object (Create/Update/Announce/Add), plain objects, Link values (§4.2). Items given
only by reference (a bare URL) are skipped rather than dereferenced: fetching each one is an
N+1 amplification the upstream controls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import ActivityItem
from connectors.normalize import make_item, safe_url

AS2_CONTENT_TYPES = frozenset({"application/activity+json", "application/ld+json",
                               "application/json"})
ACCEPT = ('application/activity+json, '
          'application/ld+json; profile="https://www.w3.org/ns/activitystreams";q=0.9')
_WRAPPERS = frozenset({"create", "update", "announce", "add"})
_SKIP = frozenset({"delete", "tombstone", "undo"})


def first_type(value: Any) -> str:
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str)), "")
    return value.lower() if isinstance(value, str) else ""


def ref(value: Any) -> str | None:
    """The id of a reference that may be a URL string or an object/Link with id/href."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        for key in ("id", "href"):
            found = value.get(key)
            if isinstance(found, str):
                return found
    return None


def _lang(obj: Mapping[str, Any], key: str) -> Any:
    value = obj.get(key)
    if value is None:  # natural-language maps, AS2 Core §4.7.2
        mapped = obj.get(key + "Map")
        if isinstance(mapped, Mapping):
            value = next((v for v in mapped.values() if isinstance(v, str)), None)
    return value


def _url(obj: Mapping[str, Any], base: str | None) -> str | None:
    value = obj.get("url")
    candidates = value[:10] if isinstance(value, list) else [value]
    for candidate in candidates:
        if isinstance(candidate, Mapping):
            media = candidate.get("mediaType")
            if isinstance(media, str) and media not in ("text/html", ""):
                continue
            candidate = candidate.get("href")
        url = safe_url(candidate, base=base)
        if url:
            return url
    return safe_url(obj.get("id"), base=base)


def _actor(value: Any) -> Any:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, Mapping):
        return value.get("name") or value.get("preferredUsername") or ref(value)
    return value


def to_item(raw: Any, *, network: str, base: str | None) -> ActivityItem | None:
    if not isinstance(raw, Mapping):
        return None
    kind = first_type(raw.get("type"))
    obj: Mapping[str, Any] = raw
    inner = raw.get("object")
    if kind in _WRAPPERS and isinstance(inner, Mapping):
        obj = inner
        kind = first_type(inner.get("type")) or kind
    if kind in _SKIP:
        return None
    title = _lang(obj, "name") or _lang(obj, "summary")
    summary = _lang(obj, "content") or _lang(obj, "summary")
    return make_item(
        network=network,
        kind=kind,
        title=title,
        summary=summary,
        url=_url(obj, base),
        published=raw.get("published") or obj.get("published") or obj.get("updated"),
        actor=_actor(raw.get("actor") or obj.get("attributedTo")),
        id=ref(raw) or ref(obj),
        base_url=base,
        default_kind="note",
    )


def page_items(page: Mapping[str, Any]) -> list[Any] | None:
    for key in ("orderedItems", "items"):
        value = page.get(key)
        if isinstance(value, list):
            return value
    return None
