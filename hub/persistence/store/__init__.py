"""Short-lived state behind one interface; see base.Store."""

from __future__ import annotations

from sqlalchemy import Engine

from hub.persistence.store.base import Store


def open_store(url: str, engine: Engine, *, prefix: str = "curbside:",
               connect_timeout: float = 1.0, timeout: float = 1.0,
               health_check_interval: int = 30, breaker_threshold: int = 3,
               breaker_cooldown: float = 2.0) -> Store:
    """The store at ``url``; the timeouts apply to Redis (the SQL store has the database's)."""
    if url == "sql":
        from hub.persistence.store.sql import SQLStore

        return SQLStore(engine)
    from hub.persistence.store.redis import RedisStore

    return RedisStore(url, prefix=prefix, connect_timeout=connect_timeout, timeout=timeout,
                      health_check_interval=health_check_interval,
                      breaker_threshold=breaker_threshold, breaker_cooldown=breaker_cooldown)


__all__ = ["Store", "open_store"]
