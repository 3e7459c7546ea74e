"""Linked network accounts, their encrypted tokens, the relay's state and the feed cache.

Tables: ``link_networks`` (partner networks the relay knows), ``account_links`` (one row per
doctor x network account, with the link evidence), ``link_tokens`` (connector credentials,
encrypted), ``relay_states`` (conditional-GET validators, schedule, failures) and
``feed_items`` (normalised items, kept ``CURBSIDE_FEED_RETENTION_DAYS``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.persistence.db import Base, UTCDateTime, utcnow

LINK_STATES = ("pending", "active", "suspended", "revoked")
TABLES = ("link_networks", "account_links", "link_tokens", "relay_states", "feed_items")


def _new_id() -> str:
    return uuid.uuid4().hex


class LinkNetwork(Base):
    """A partner network: a connector kind and its config (encrypted: it holds secrets)."""

    __tablename__ = "link_networks"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    config_enc: Mapped[str] = mapped_column(Text)
    # Standard Webhooks receiver config (encrypted), when the network also pushes.
    webhook_enc: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # May a proven link be used to sign in to the hub (brokered sign-in)?
    signin: Mapped[bool] = mapped_column(Boolean, default=False)
    poll_interval: Mapped[int] = mapped_column(Integer, default=300)  # seconds
    rate_per_minute: Mapped[int] = mapped_column(Integer, default=60)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AccountLink(Base):
    __tablename__ = "account_links"
    __table_args__ = (Index("ix_account_links_doctor", "doctor_id", "state"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_new_id)
    doctor_id: Mapped[str] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"))
    network: Mapped[str] = mapped_column(ForeignKey("link_networks.name"))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    # "network|issuer|subject" while the link is not revoked, else NULL: one upstream account
    # belongs to at most one doctor (unique; NULLs never collide).
    active_key: Mapped[str | None] = mapped_column(String(700), unique=True)
    # Evidence (never an e-mail): who the upstream said signed in, when and how.
    issuer: Mapped[str | None] = mapped_column(String(255))
    subject: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(200))
    acr: Mapped[str | None] = mapped_column(String(255))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    authenticated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    linked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    proves_control: Mapped[bool] = mapped_column(Boolean, default=False)
    # The doctor's choices: stop pulling (paused) or keep pulling but hide from the feed.
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LinkToken(Base):
    """Connector credentials (access/refresh token, endpoint) as one MultiFernet token."""

    __tablename__ = "link_tokens"

    link_id: Mapped[str] = mapped_column(ForeignKey("account_links.id", ondelete="CASCADE"),
                                         primary_key=True)
    ciphertext: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RelayState(Base):
    __tablename__ = "relay_states"
    __table_args__ = (Index("ix_relay_states_due", "next_due"),)

    link_id: Mapped[str] = mapped_column(ForeignKey("account_links.id", ondelete="CASCADE"),
                                         primary_key=True)
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(64))
    cursor: Mapped[str | None] = mapped_column(String(2048))
    next_due: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(64))  # an error reason code
    skipped: Mapped[int] = mapped_column(Integer, default=0)  # bad items in the last page


class FeedItem(Base):
    __tablename__ = "feed_items"
    __table_args__ = (
        UniqueConstraint("link_id", "item_id", name="uq_feed_items_link_item"),
        Index("ix_feed_items_doctor_sort", "doctor_id", "sort_at", "id"),
        Index("ix_feed_items_fetched", "fetched_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    link_id: Mapped[str] = mapped_column(ForeignKey("account_links.id", ondelete="CASCADE"))
    doctor_id: Mapped[str] = mapped_column(String(32))
    network: Mapped[str] = mapped_column(String(63))
    item_id: Mapped[str] = mapped_column(String(512))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(String(500), default="")
    url: Mapped[str | None] = mapped_column(String(2048))
    actor: Mapped[str | None] = mapped_column(String(200))
    published: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sort_at: Mapped[datetime] = mapped_column(UTCDateTime)  # published, else first seen
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


__all__ = ["LINK_STATES", "TABLES", "AccountLink", "FeedItem", "LinkNetwork", "LinkToken", "RelayState"]
