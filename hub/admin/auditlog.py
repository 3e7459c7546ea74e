"""Verifying the chain and streaming exports from the console, reusing hub.audit as is.

``hub.audit.export`` writes to a file-like object; a web response wants an iterator. A
worker thread runs the export into a small bounded queue that the response drains, so
the export code (formats, CSV formula guard, batching) is the CLI's, memory stays flat,
and a client that goes away stops the export at its next write.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from hub.audit import CheckpointKey, VerifyReport, export, verification_keys, verify_chain

CHUNK = 64 * 1024
QUEUE_CHUNKS = 16
VERIFY_LOCK_KIND = "admin-audit-verify"
VERIFY_LOCK_TTL = 900


def checkpoint_key(hub: Any) -> list[CheckpointKey] | None:
    """The keys `hub audit verify` would trust (hub.audit.keyconfig): the configured public
    keys, so the web hub never needs the private key that signs checkpoints."""
    return verification_keys(hub.settings, hub.secrets.secret_key)


def run_verification(hub: Any) -> VerifyReport | None:
    """Verify the whole chain; None if another verification is already running (it reads
    every record, so two at once would only slow the database down)."""
    if not hub.store.add_once(VERIFY_LOCK_KIND, "run", ttl=VERIFY_LOCK_TTL):
        return None
    try:
        return verify_chain(hub.db, verify_key=checkpoint_key(hub))
    finally:
        hub.store.delete(VERIFY_LOCK_KIND, "run")


class _Cancelled(Exception):
    pass


class _QueueWriter:
    """The TextIO side of the pipe: buffers writes into chunks for the queue."""

    def __init__(self, q: queue.Queue[str | BaseException | None], stop: threading.Event) -> None:
        self.q = q
        self.stop = stop
        self.buf: list[str] = []
        self.size = 0

    def write(self, text: str) -> int:
        self.buf.append(text)
        self.size += len(text)
        if self.size >= CHUNK:
            self.flush()
        return len(text)

    def flush(self) -> None:
        if self.buf:
            self._put("".join(self.buf))
            self.buf, self.size = [], 0

    def _put(self, item: str | BaseException | None) -> None:
        while True:
            if self.stop.is_set():
                raise _Cancelled
            try:
                self.q.put(item, timeout=0.5)
                return
            except queue.Full:
                continue


def stream_export(hub: Any, start: datetime | None, end: datetime | None, fmt: str) -> Iterator[str]:
    """Yield the export of ``start <= time < end`` in chunks of about CHUNK characters."""
    q: queue.Queue[str | BaseException | None] = queue.Queue(maxsize=QUEUE_CHUNKS)
    stop = threading.Event()
    writer = _QueueWriter(q, stop)

    def work() -> None:
        try:
            export(hub.db, start, end, fmt, writer)  # type: ignore[arg-type]
            writer.flush()
            writer._put(None)
        except _Cancelled:
            return
        except BaseException as exc:  # noqa: BLE001 (handed to the response thread)
            try:
                writer._put(exc)
            except _Cancelled:
                return

    thread = threading.Thread(target=work, name="audit-export", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()  # the client went away or the export ended: let the worker finish
