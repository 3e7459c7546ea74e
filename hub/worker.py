"""The background queue: huey on Redis, or on an SQLite file in the instance folder.

Generic on purpose (feed relay, back-channel logout deliveries, ...): a job is named by
``"module:function"`` inside the ``hub`` package and called as ``function(hub, *args)`` in
the worker, so producers and the consumer agree on one huey task (``curbside.run``) and no
registry has to be imported in the same order in every process.

    queue = hub.queue                            # one per hub (hub/composition.py)
    queue.enqueue("hub.links.jobs:pull", link_id)
    queue.enqueue("hub.links.jobs:revoke", network, blob, delay=60)

``CURBSIDE_STORE_URL=redis://...`` selects ``RedisHuey`` (several machines); otherwise
``SqliteHuey`` on ``<instance>/queue.db`` (one machine, any number of processes).
``immediate=True`` runs jobs in the caller's thread (tests, the demo, the benchmark).

Arguments must be JSON-like plain data (huey pickles them; never pass secrets in clear).
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey  # type: ignore[import-untyped]

from hub.audit.jobs import JOB as AUDIT_CHECKPOINT_JOB
from hub.ops.logging import configure as configure_logging

log = logging.getLogger("hub.worker")
TASK_NAME = "curbside.run"
# Jobs enqueued every N seconds by the worker's scheduler thread (huey's own periodic
# tasks have minute granularity). Other features add their entries here.
PERIODIC: dict[str, float] = {
    "hub.links.jobs:tick": 15.0,
    # Licence withdrawals found by register deltas or re-checks end sessions within a minute.
    "hub.verification.jobs:process_withdrawals": 60.0,
    "hub.verification.jobs:recheck_due": 3600.0,
    "hub.verification.jobs:purge_documents": 3600.0,
    # Back-channel logout deliveries (the outbox row is the source of truth; this drives it).
    "hub.relying.backchannel:process_due": 5.0,
    # Sealed refresh-token successors outlive their grace window by at most a minute.
    "hub.domain.tokens:erase_stale_successors": 60.0,
}


def periodic_jobs(settings: Any) -> dict[str, float]:
    """:data:`PERIODIC` plus the jobs whose interval is a setting."""
    jobs = dict(PERIODIC)
    # Signed audit checkpoints (docs/audit.md): the interval bounds how many newest records
    # can be deleted unnoticed. 0 leaves them to another writer.
    if settings.audit_checkpoint_interval > 0:
        jobs[AUDIT_CHECKPOINT_JOB] = float(settings.audit_checkpoint_interval)
    return jobs


def resolve(name: str) -> Callable[..., Any]:
    """``"hub.x.y:function"`` -> the function; only inside the hub package."""
    module, _, attr = name.partition(":")
    if not module.startswith("hub.") or not attr or not attr.isidentifier():
        raise ValueError(f"not a hub job name: {name!r}")
    fn = getattr(importlib.import_module(module), attr)
    if not callable(fn):
        raise ValueError(f"not callable: {name!r}")
    return fn  # type: ignore[no-any-return]


class Queue:
    """One huey instance, and what its jobs are called with (``context``: the hub).

    The huey instance is made at the first job (or the worker's start) from ``store_url``
    and ``instance_path`` (``make_huey``): a hub process that never queues anything opens
    no queue file and no Redis connection for it."""

    def __init__(self, huey: Huey | None, context: Any, *, store_url: str = "",
                 instance_path: Path | None = None, immediate: bool = False) -> None:
        self._context = context
        self._store_url, self._instance_path = store_url, instance_path
        self._immediate = immediate
        self._lock = threading.Lock()
        self._huey: Huey | None = None
        self._task: Any = None
        if huey is not None:
            self._attach(huey)

    def _attach(self, huey: Huey) -> None:
        def run(name: str, args: list[Any], kwargs: dict[str, Any]) -> None:
            resolve(name)(self._context, *args, **kwargs)

        # retries are per enqueue (see enqueue); the default is none.
        self._task = huey.task(name=TASK_NAME, context=False)(run)
        self._huey = huey

    @property
    def huey(self) -> Huey:
        with self._lock:
            if self._huey is None:
                if self._instance_path is None and not self._immediate:
                    raise RuntimeError("this queue was given neither a huey nor where to keep one")
                self._attach(make_huey(self._store_url, self._instance_path or Path("."),
                                       immediate=self._immediate))
            return self._huey

    def switch(self, *, immediate: bool) -> None:
        """Run jobs in the caller's thread from now on, or go back to the real queue; the
        same Queue object, so whoever holds it (the links service) follows."""
        with self._lock:
            if self.immediate != immediate:
                self._immediate = immediate
                self._huey = self._task = None

    @property
    def immediate(self) -> bool:
        return bool(self._huey.immediate) if self._huey is not None else self._immediate

    def enqueue(self, name: str, *args: Any, delay: float | None = None, retries: int = 0,
                retry_delay: float = 30, **kwargs: Any) -> None:
        resolve(name)  # fail at the producer on a typo, not in the worker
        try:
            huey = self.huey
            if delay:
                self._task.schedule(args=(name, list(args), dict(kwargs)), delay=delay,
                                    retries=retries, retry_delay=retry_delay)
            else:
                task = self._task.s(name, list(args), dict(kwargs))
                task.retries, task.retry_delay = retries, retry_delay
                huey.enqueue(task)
        except Exception:  # noqa: BLE001 - in immediate mode a failed job must not fail the caller
            if not self.immediate:
                raise
            log.exception("job %s failed", name)


def make_huey(store_url: str, instance_path: Path, *, immediate: bool = False,
              name: str = "curbside") -> Huey:
    if immediate:
        return MemoryHuey(name, immediate=True)
    if store_url.startswith(("redis://", "rediss://")):
        return RedisHuey(name, url=store_url)
    instance_path.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str(instance_path / "queue.db"))


def queue_for(hub: Any, *, immediate: bool | None = None) -> Queue:
    """The hub's queue (``hub.queue``); ``immediate`` switches it to running jobs in the
    caller's thread (tests, the demo, the benchmark) or back to the real queue."""
    queue: Queue = hub.queue
    if immediate is not None:
        queue.switch(immediate=immediate)
    return queue


def _scheduler(queue: Queue, periodic: Mapping[str, float], stop: threading.Event) -> None:
    due = dict.fromkeys(periodic, 0.0)
    while not stop.is_set():
        now = time.monotonic()
        for name, every in periodic.items():
            if now >= due[name]:
                due[name] = now + every
                try:
                    queue.enqueue(name)
                except Exception:  # noqa: BLE001 - keep scheduling the others
                    log.exception("could not enqueue %s", name)
        stop.wait(1.0)


def run_worker(hub: Any, *, workers: int = 4, periodic: Mapping[str, float] | None = None) -> None:
    """Consume jobs until interrupted (``hub worker``): ``workers`` threads plus a scheduler
    thread for :data:`PERIODIC`. Relay jobs spend their time waiting on partner networks,
    so threads, not processes. ``hub`` comes from the composition root (the CLI builds it)."""
    configure_logging(hub.settings)
    queue = queue_for(hub, immediate=False)
    stop = threading.Event()
    jobs = periodic_jobs(hub.settings) if periodic is None else periodic
    thread = threading.Thread(target=_scheduler, args=(queue, jobs, stop), daemon=True)
    thread.start()
    consumer = queue.huey.create_consumer(workers=workers, worker_type="thread",
                                          periodic=False)
    try:
        consumer.run()
    finally:
        stop.set()
