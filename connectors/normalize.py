"""Turn hostile upstream values into the plain, bounded shapes of :class:`ActivityItem`.

Everything here is total: any input yields a clean value or ``None``, never an exception.
Titles and summaries are *plain text*: HTML is removed with nh3 (ammonia) with no tags
allowed (``script``/``style`` contents dropped entirely), then entities are unescaped, so the
hub must escape on output (Jinja autoescape does). URLs are absolute http(s) only.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import nh3

from connectors.base import ActivityItem

TITLE_MAX = 300
SUMMARY_MAX = 500
ACTOR_MAX = 200
ID_MAX = 512
URL_MAX = 2048
_INPUT_MAX = 100_000  # bound the sanitiser's work per field
_WS = re.compile(r"\s+")
_KIND = re.compile(r"[^a-z0-9_.:-]+")


def plain_text(value: Any, limit: int) -> str:
    """HTML or text in, single-line plain text out, at most ``limit`` characters."""
    if not isinstance(value, str) or not value:
        return ""
    value = value[:_INPUT_MAX]
    # Remove every tag; ammonia also drops the *contents* of script/style.
    cleaned = nh3.clean(value, tags=set(), attributes={}, strip_comments=True)
    text = html.unescape(cleaned)
    # Control and format characters (bidi overrides, zero-width) are dropped: they can
    # disguise text in the UI. Unicode category C = control, format, unassigned, private.
    text = "".join(" " if ch.isspace() else ch for ch in text
                   if ch.isspace() or unicodedata.category(ch)[0] != "C")
    text = _WS.sub(" ", text).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def safe_url(value: Any, *, base: str | None = None) -> str | None:
    """An absolute http(s) URL or None. Drops ``javascript:``, ``data:``, credentials
    (``https://good.example@evil.example``), control characters and over-long values."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > URL_MAX or not value.isprintable() or " " in value:
        return None
    try:
        if base:
            value = urljoin(base, value)
        parts = urlsplit(value)
        host = parts.hostname
        _ = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    return str(urlunsplit((parts.scheme.lower(), parts.netloc, parts.path, parts.query,
                           parts.fragment)))


def parse_datetime(value: Any) -> datetime | None:
    """ISO 8601 / RFC 3339 text, epoch seconds (or milliseconds), a ``time.struct_time`` or a
    datetime; always aware UTC. Naive values are taken as UTC. Nonsense gives None."""
    try:
        if isinstance(value, datetime):
            dt = value
        elif isinstance(value, bool):
            return None
        elif isinstance(value, int | float):
            if not math.isfinite(value):
                return None
            seconds = value / 1000 if abs(value) > 1e11 else value
            dt = datetime.fromtimestamp(seconds, UTC)
        elif isinstance(value, str) and 0 < len(value) <= 64:
            text = value.strip()
            if text.endswith(("Z", "z")):
                text = text[:-1] + "+00:00"
            dt = datetime.fromisoformat(text)
        elif hasattr(value, "tm_year") and hasattr(value, "tm_yday"):  # feedparser's *_parsed
            dt = datetime(*value[:6]).replace(tzinfo=UTC)
        else:
            return None
    except (ValueError, TypeError, OverflowError, OSError, IndexError):
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        dt = dt.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    if not 1990 <= dt.year <= 2200:
        return None
    return dt


def kind_token(value: Any, default: str = "post") -> str:
    if not isinstance(value, str):
        return default
    token = _KIND.sub("", value.strip().lower())[:40]
    return token or default


def item_id(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or not value.isprintable():
        return None
    if len(value) > ID_MAX:  # keep it stable but bounded
        return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
    return str(value)


def make_item(
    *,
    network: str,
    kind: Any,
    title: Any,
    summary: Any,
    url: Any,
    published: Any,
    actor: Any,
    id: Any,  # the field name of ActivityItem
    base_url: str | None = None,
    default_kind: str = "post",
) -> ActivityItem | None:
    """Build a normalised item, or None when it has nothing usable (no id and no URL, or
    neither title nor summary). Never raises."""
    clean_url = safe_url(url, base=base_url)
    clean_id = item_id(id) or clean_url
    clean_title = plain_text(title, TITLE_MAX)
    clean_summary = plain_text(summary, SUMMARY_MAX)
    if not clean_id or not (clean_title or clean_summary):
        return None
    if not clean_title:
        clean_title = plain_text(clean_summary, TITLE_MAX)
    return ActivityItem(
        network=network,
        kind=kind_token(kind, default_kind),
        title=clean_title,
        summary=clean_summary,
        url=clean_url,
        published=parse_datetime(published),
        actor=plain_text(actor, ACTOR_MAX) or None,
        id=clean_id,
    )
