"""A bearer-protected JSON activity endpoint, mapped by :class:`ItemMapping` (used by the
oauth2-json kind and, optionally, by the oidc kind)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from authlib.common.urls import add_params_to_uri

from connectors.base import ActivityPage, LinkCredentials
from connectors.config import require_url
from connectors.errors import ConfigError, InvalidUpstreamData, UpstreamRejected
from connectors.http import HttpClient
from connectors.mapping import ItemMapping, check_path, lookup, map_items


@dataclass(frozen=True, kw_only=True)
class JsonActivityConfig:
    url: str  # GET with the member's bearer token, e.g. https://api.example/v1/me/posts
    mapping: ItemMapping = field(default_factory=ItemMapping)
    next: str = ""  # dotted path to the next page: a URL, or a token when cursor_param is set
    cursor_param: str = ""  # query parameter that carries the token from ``next``

    def __post_init__(self) -> None:
        check_path(self.next, "activity.next")
        if self.cursor_param and (not self.cursor_param.isidentifier() or not self.next):
            raise ConfigError("activity.cursor_param: an identifier, and needs activity.next")

    def check(self, allow_http: bool) -> None:
        require_url(self.url, "activity.url", allow_http=allow_http)


def same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    try:
        return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)
    except ValueError:
        return False


def fetch_json_activity(
    http: HttpClient,
    config: JsonActivityConfig,
    link: LinkCredentials,
    *,
    cursor: str | None,
    etag: str | None,
    last_modified: str | None,
) -> ActivityPage:
    if not link.access_token:
        raise UpstreamRejected(reason="invalid_token", network=http.network,
                               detail="no access token stored")
    url = _page_url(config, cursor, http.network)
    resp = http.get(url, bearer=link.access_token, etag=etag, last_modified=last_modified)
    if resp.not_modified:
        return ActivityPage(not_modified=True, etag=resp.etag or etag,
                            last_modified=resp.last_modified or last_modified)
    document = resp.json()
    items, skipped = map_items(document, config.mapping, network=http.network, base_url=resp.url)
    return ActivityPage(
        items=items,
        skipped=skipped,
        cursor=_next_cursor(config, document, resp.url),
        etag=resp.etag,
        last_modified=resp.last_modified,
    )


def _page_url(config: JsonActivityConfig, cursor: str | None, network: str) -> str:
    if cursor is None:
        return config.url
    if not cursor or len(cursor) > 2048 or not cursor.isprintable():
        raise UpstreamRejected(reason="bad_cursor", network=network)
    if config.cursor_param:
        return str(add_params_to_uri(config.url, {config.cursor_param: cursor}))
    # A URL cursor must stay on the API's origin: the bearer token goes with it.
    if not same_origin(cursor, config.url):
        raise UpstreamRejected(reason="bad_cursor", network=network)
    return cursor


def _next_cursor(config: JsonActivityConfig, document: Any, page_url: str) -> str | None:
    if not config.next:
        return None
    value = lookup(document, config.next)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value or len(value) > 2048 or not value.isprintable():
        return None
    if config.cursor_param:
        return value
    # Upstreams may send a relative next link; resolve it, then keep it on the same origin.
    absolute = urljoin(page_url, value)
    return absolute if same_origin(absolute, config.url) else None


def require_object(document: Any, what: str, network: str) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise InvalidUpstreamData(reason="wrong_shape", detail=f"{what} is not an object",
                                  network=network)
    return document


def subject_of(value: Any, network: str) -> str:
    """A stable upstream member id: a non-empty printable string (or integer), ≤255 chars."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not 0 < len(value) <= 255 or not value.isprintable():
        raise InvalidUpstreamData(reason="no_subject", network=network,
                                  detail="identity has no usable subject")
    return value


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
