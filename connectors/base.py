"""The connector interface: one small protocol, optional abilities as separate protocols.

After dex: each upstream kind is a small package behind :class:`Connector`; optional
abilities (:class:`Refreshing`) are separate protocols the hub checks with ``isinstance``.
After SATOSA: every kind converts to the same internal shapes defined here.

Linking flow (the hub's view):

1. ``start = connector.begin_link(state=..., redirect_uri=...)``. Keep ``start.pending``
   server-side (it holds the PKCE verifier and nonce: secrets), keyed by ``state``, with a TTL.
   If ``start.authorization_url`` is set, redirect the browser there; otherwise (``feed``)
   show a form with ``start.form_fields``.
2. On the callback (or the form post): ``identity = connector.complete_link(params, pending)``
   where ``params`` is the query string (or form) as a flat mapping. Consume ``pending``
   atomically so a callback cannot be replayed.
3. Store ``identity.issuer``/``identity.subject`` as the link evidence and
   ``identity.credentials`` encrypted at rest.

Polling: ``fetch_activity(credentials, etag=..., last_modified=...)`` for the newest page;
keep the returned validators for the next poll; follow ``page.cursor`` for older pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from connectors.errors import ConnectorError


@dataclass(frozen=True, kw_only=True)
class LinkStart:
    """Where to send the doctor, and the opaque state the hub must keep until the callback."""

    pending: bytes = field(repr=False)
    authorization_url: str | None = None  # redirect here (OAuth/OIDC kinds) ...
    form_fields: tuple[str, ...] = ()  # ... or ask the doctor for these (feed: ("url",))

    def __post_init__(self) -> None:
        if (self.authorization_url is None) == (not self.form_fields):
            raise ConnectorError(detail="LinkStart needs exactly one of URL or form fields")


@dataclass(frozen=True, kw_only=True)
class LinkCredentials:
    """What the hub stores (encrypted) per link to fetch, refresh and revoke.

    Token fields are excluded from ``repr`` so they never reach a log line.
    """

    access_token: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    token_type: str = "Bearer"
    expires_at: datetime | None = None  # aware UTC; None = unknown / does not expire
    scope: tuple[str, ...] = ()
    endpoint: str | None = None  # per-link resource: the feed URL, the AS2 collection URL

    def expired(self, now: datetime, *, skew_seconds: int = 30) -> bool:
        if self.expires_at is None:
            return False
        return (self.expires_at - now).total_seconds() <= skew_seconds


@dataclass(frozen=True, kw_only=True)
class LinkedIdentity:
    """The evidence for one link: who the doctor is at the upstream, and how we know.

    ``proves_control`` is True only when the doctor authenticated at the upstream in this
    linking session (OIDC/OAuth kinds). A ``feed`` link is added by URL and proves nothing:
    never use it for sign-in, verification or claims, only to show public activity.
    """

    network: str
    issuer: str  # upstream issuer identifier (OIDC ``iss``) or the upstream's origin
    subject: str  # stable upstream id (OIDC ``sub``, API user id, AS2 actor id, feed URL)
    display_name: str | None
    acr: str | None  # OIDC Core §2 ``acr``, when the upstream sent one
    amr: tuple[str, ...]
    authenticated_at: datetime | None  # OIDC ``auth_time``, when sent
    linked_at: datetime
    proves_control: bool
    credentials: LinkCredentials


@dataclass(frozen=True, kw_only=True)
class ActivityItem:
    """One entry of the merged feed. ``title``/``summary`` are plain text (not HTML; render
    them escaped), capped at 300/500 characters; ``url`` is http(s) or None."""

    network: str
    kind: str  # "post", "article", "comment", "note", ... lower-case token
    title: str
    summary: str
    url: str | None
    published: datetime | None  # aware UTC
    actor: str | None  # display name or id of the author, plain text
    id: str  # stable within (network); dedupe on (network, id)


@dataclass(frozen=True, kw_only=True)
class ActivityPage:
    items: tuple[ActivityItem, ...] = ()
    cursor: str | None = None  # opaque: pass back to get the next (older) page; None = end
    etag: str | None = None  # validators of this response, for the next conditional poll
    last_modified: str | None = None
    not_modified: bool = False  # the upstream answered 304: nothing new
    skipped: int = 0  # malformed items dropped from this page (for metrics)


@runtime_checkable
class Connector(Protocol):
    """Every kind. Methods raise only :class:`connectors.errors.ConnectorError` subclasses."""

    kind: str
    network: str

    def begin_link(self, *, state: str, redirect_uri: str) -> LinkStart: ...

    def complete_link(self, params: Mapping[str, str], pending: bytes) -> LinkedIdentity: ...

    def fetch_activity(
        self,
        link: LinkCredentials,
        *,
        cursor: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> ActivityPage: ...

    def revoke(self, link: LinkCredentials) -> None:
        """Best effort at the upstream (RFC 7009); a no-op where there is nothing to revoke.
        Raises :class:`UpstreamUnavailable` so the hub's outbox can retry."""
        ...


@runtime_checkable
class Refreshing(Protocol):
    """Optional: the kind can renew an access token (RFC 6749 §6). The returned credentials
    replace the stored ones; a rotated refresh token is included when the upstream sent one.
    ``UpstreamRejected(reason="invalid_grant")`` means the link must be re-established."""

    def refresh(self, link: LinkCredentials) -> LinkCredentials: ...
