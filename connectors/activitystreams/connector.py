"""The ``activitystreams`` kind: OAuth 2.0 login, then the member's AS2 collection."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from connectors.activitystreams.config import ActivityStreamsConfig
from connectors.activitystreams.parse import (
    ACCEPT,
    AS2_CONTENT_TYPES,
    first_type,
    page_items,
    ref,
    to_item,
)
from connectors.base import ActivityPage, LinkCredentials, LinkedIdentity
from connectors.errors import InvalidUpstreamData, UpstreamRejected
from connectors.http import Response
from connectors.jsonapi import origin, require_object, same_origin, subject_of
from connectors.mapping import collect
from connectors.normalize import plain_text
from connectors.oauth import ConfiguredOAuthConnector

_COLLECTIONS = frozenset({"collection", "orderedcollection"})


class ActivityStreamsConnector(ConfiguredOAuthConnector):
    kind = "activitystreams"
    config: ActivityStreamsConfig

    def complete_link(self, params: Mapping[str, str], pending: bytes) -> LinkedIdentity:
        code, state = self.flow.callback(params, pending, self.endpoints)
        token = self.flow.exchange_code(self.endpoints, code, state)
        actor = require_object(self._get(self.config.actor_url, token["access_token"]).json(),
                               "actor", self.network)
        collection = ref(actor.get(self.config.collection))
        collection = urljoin(self.config.actor_url, collection) if collection else None
        # The bearer token will be sent to this URL: keep it on the actor's origin.
        if not collection or not same_origin(collection, self.config.actor_url):
            raise InvalidUpstreamData(reason="no_collection", network=self.network,
                                      detail=f"actor has no same-origin {self.config.collection}")
        name = actor.get("name") or actor.get("preferredUsername")
        return LinkedIdentity(
            network=self.network,
            issuer=self.config.issuer or origin(self.config.authorization_endpoint),
            subject=subject_of(ref(actor), self.network),
            display_name=plain_text(name, 200) or None,
            acr=None,
            amr=(),
            authenticated_at=None,
            linked_at=datetime.fromtimestamp(self.clock(), UTC),
            proves_control=True,
            credentials=self.flow.credentials(token, endpoint=collection),
        )

    def fetch_activity(
        self,
        link: LinkCredentials,
        *,
        cursor: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> ActivityPage:
        home = link.endpoint
        if not home or not link.access_token:
            raise UpstreamRejected(reason="invalid_token", network=self.network,
                                   detail="link has no collection or token")
        if cursor is not None and not same_origin(cursor, home):
            raise UpstreamRejected(reason="bad_cursor", network=self.network)
        resp = self._get(cursor or home, link.access_token, etag=etag,
                         last_modified=last_modified)
        if resp.not_modified:
            return ActivityPage(not_modified=True, etag=resp.etag or etag,
                                last_modified=resp.last_modified or last_modified)
        doc = require_object(resp.json(), "collection", self.network)
        page: Mapping[str, Any] = doc
        page_url = resp.url
        if cursor is None and first_type(doc.get("type")) in _COLLECTIONS \
                and page_items(doc) is None:
            # AS2 Core §5.3: a paged collection points at its first page, inline or by URL.
            first = doc.get("first")
            if isinstance(first, Mapping):
                page = first
            elif isinstance(first_url := ref(first), str):
                page_url = urljoin(resp.url, first_url)
                if not same_origin(page_url, home):
                    raise InvalidUpstreamData(reason="bad_first", network=self.network)
                page = require_object(self._get(page_url, link.access_token).json(), "page",
                                      self.network)
            else:
                return ActivityPage(etag=resp.etag, last_modified=resp.last_modified)
        raw_items = page_items(page)
        if raw_items is None:
            if "orderedItems" in page or "items" in page:
                raise InvalidUpstreamData(reason="wrong_shape", network=self.network,
                                          detail="items is not a list")
            raw_items = []
        items, skipped = collect(
            (to_item(raw, network=self.network, base=page_url) for raw in raw_items),
            total=len(raw_items),
        )
        return ActivityPage(
            items=items,
            skipped=skipped,
            cursor=self._next(page, page_url, home),
            etag=resp.etag,
            last_modified=resp.last_modified,
        )

    def _get(self, url: str, token: str, **conditional: Any) -> Response:
        resp = self.http.get(url, accept=ACCEPT, bearer=token, **conditional)
        if not resp.not_modified and resp.content_type not in AS2_CONTENT_TYPES:
            raise InvalidUpstreamData(reason="content_type", network=self.network,
                                      detail=f"unexpected {resp.content_type!r}")
        return resp

    def _next(self, page: Mapping[str, Any], page_url: str, home: str) -> str | None:
        nxt = ref(page.get("next"))
        if not nxt:
            return None
        absolute = urljoin(page_url, nxt)
        return absolute if same_origin(absolute, home) and absolute != page_url else None
