"""Short-lived state behind one interface; see base.Store."""

from __future__ import annotations

from sqlalchemy import Engine

from hub.store.base import Store


def open_store(url: str, engine: Engine, *, prefix: str = "curbside:") -> Store:
    if url == "sql":
        from hub.store.sql import SQLStore

        return SQLStore(engine)
    from hub.store.redis import RedisStore

    return RedisStore(url, prefix=prefix)


__all__ = ["Store", "open_store"]
