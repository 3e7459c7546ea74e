"""The ``feed`` kind: Atom (RFC 4287) or RSS 2.0, parsed with feedparser.

Linking is by URL, with no proof of ownership (a deliberate simplification, see
docs/connectors.md): ``LinkedIdentity.proves_control`` is False, so a feed link is shown in
the merged feed but never used for sign-in, verification or claims. Feeds are public, so
no token is stored and plain http is allowed; the SSRF guard and ``allowed_hosts`` apply.
"""

from __future__ import annotations

import hmac
import io
import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import feedparser
import requests

from connectors.base import ActivityPage, LinkCredentials, LinkedIdentity, LinkStart
from connectors.errors import ConfigError, InvalidUpstreamData, UpstreamRejected
from connectors.feed.config import FeedConfig
from connectors.http import HttpClient, Response
from connectors.mapping import collect
from connectors.normalize import make_item, plain_text, safe_url

ACCEPT = ("application/atom+xml, application/rss+xml;q=0.9, application/xml;q=0.8, "
          "text/xml;q=0.7, */*;q=0.1")


def _entry_item(entry: Any, *, network: str, base: str) -> Any:
    if not isinstance(entry, Mapping):
        return None
    content = entry.get("content")
    body = None
    if isinstance(content, list) and content and isinstance(content[0], Mapping):
        body = content[0].get("value")
    return make_item(
        network=network,
        kind="post",
        title=entry.get("title"),
        summary=entry.get("summary") or body,
        url=entry.get("link"),
        published=entry.get("published_parsed") or entry.get("updated_parsed"),
        actor=entry.get("author"),
        id=entry.get("id") or entry.get("link"),
        base_url=base,
    )


class FeedConnector:
    kind = "feed"

    def __init__(
        self,
        network: str,
        config: FeedConfig,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.network = network
        self.config = config
        self.clock = clock
        self.http = HttpClient(network, config.http, session=session)

    def begin_link(self, *, state: str, redirect_uri: str) -> LinkStart:
        if not state or len(state) > 512 or not state.isprintable():
            raise ConfigError("state: 1-512 printable characters required")
        pending = json.dumps({"v": 1, "kind": "feed", "state": state, "t": self.clock()})
        return LinkStart(form_fields=("url",), pending=pending.encode())

    def complete_link(self, params: Mapping[str, str], pending: bytes) -> LinkedIdentity:
        self._check_pending(params, pending)
        url = safe_url(params.get("url"))
        if not url or not self._host_allowed(url):
            raise UpstreamRejected("That feed address cannot be used.", reason="bad_url",
                                   network=self.network)
        resp = self.http.get(url, accept=ACCEPT, secure=False)
        parsed = self._parse(resp)
        title = parsed.get("feed", {}).get("title") if isinstance(parsed, Mapping) else None
        return LinkedIdentity(
            network=self.network,
            issuer=f"{urlsplit(url).scheme}://{urlsplit(url).netloc}",
            subject=url,
            display_name=plain_text(title, 200) or None,
            acr=None,
            amr=(),
            authenticated_at=None,
            linked_at=datetime.fromtimestamp(self.clock(), UTC),
            proves_control=False,
            credentials=LinkCredentials(endpoint=url, token_type="none"),
        )

    def fetch_activity(
        self,
        link: LinkCredentials,
        *,
        cursor: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> ActivityPage:
        url = link.endpoint
        if not url or cursor is not None or not self._host_allowed(url):
            raise UpstreamRejected(reason="bad_url" if cursor is None else "bad_cursor",
                                   network=self.network)
        resp = self.http.get(url, accept=ACCEPT, etag=etag, last_modified=last_modified,
                             secure=False)
        if resp.not_modified:
            return ActivityPage(not_modified=True, etag=resp.etag or etag,
                                last_modified=resp.last_modified or last_modified)
        parsed = self._parse(resp)
        entries = parsed.get("entries") or []
        items, skipped = collect(
            (_entry_item(e, network=self.network, base=resp.url) for e in entries),
            total=len(entries),
        )
        # No cursor: a feed document is one page (RFC 5005 archives are not followed).
        return ActivityPage(items=items, skipped=skipped, etag=resp.etag,
                            last_modified=resp.last_modified)

    def revoke(self, link: LinkCredentials) -> None:
        return None  # nothing was granted upstream; the hub just forgets the URL

    # -- internals --------------------------------------------------------------------------

    def _check_pending(self, params: Mapping[str, str], pending: bytes) -> None:
        try:
            data = json.loads(pending)
            state, created = str(data["state"]), float(data["t"])
            if data.get("kind") != "feed":
                raise ValueError("kind")
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
            raise InvalidUpstreamData("The linking session is invalid. Please start again.",
                                      reason="bad_pending", network=self.network) from None
        if self.clock() - created > self.config.link_timeout:
            raise InvalidUpstreamData("The linking session expired. Please start again.",
                                      reason="link_expired", network=self.network)
        given = params.get("state")
        if not isinstance(given, str) or not hmac.compare_digest(given.encode(), state.encode()):
            raise InvalidUpstreamData(reason="state_mismatch", network=self.network)

    def _host_allowed(self, url: str) -> bool:
        if not self.config.allowed_hosts:
            return True
        host = (urlsplit(url).hostname or "").lower()
        return any(host == h or (h.startswith(".") and host.endswith(h))
                   for h in self.config.allowed_hosts)

    def _parse(self, resp: Response) -> Any:
        try:
            # A stream, never bytes or str: feedparser fetches a str that looks like a URL and
            # open()s bytes that name a local file (so a body of b"/etc/hosts" would be read
            # from disk). The base for relative links is the URL we actually fetched.
            parsed = feedparser.parse(
                io.BytesIO(resp.body),
                response_headers={"content-location": resp.url,
                                  "content-type": resp.headers.get("Content-Type", "")},
            )
        except Exception as exc:  # noqa: BLE001 - a parser crash on hostile input is data error
            raise InvalidUpstreamData(reason="malformed_feed", detail=type(exc).__name__,
                                      network=self.network) from None
        if not parsed.get("version") and not parsed.get("entries"):
            raise InvalidUpstreamData("That address is not an Atom or RSS feed.",
                                      reason="not_a_feed", network=self.network)
        return parsed
