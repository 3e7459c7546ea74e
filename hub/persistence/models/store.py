"""Backing table of the SQL implementation of the short-lived Store."""

from __future__ import annotations

from sqlalchemy import Float, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.persistence.db import Base


class StoreEntry(Base):
    __tablename__ = "store_entries"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    # Used only by Store.incr (rate limits), so counting needs no read-modify-write.
    counter: Mapped[int] = mapped_column(Integer, default=0)
    # Unix time; expired rows are invisible at once and purged lazily.
    expires_at: Mapped[float] = mapped_column(Float, index=True)
