"""Domain events: a service publishes what happened, once; listeners subscribe.

The composition root (hub/composition.py) is the only place that subscribes, so every
entry point (web app, CLI, worker) gets the same listeners: back-channel logout and the
audit trail hear "a doctor's sessions ended" however it came about, and the service that
ends them knows neither.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

E = TypeVar("E")


@dataclass(frozen=True)
class DoctorSessionsEnded:
    """Every SSO session of a doctor ended and every grant revoked (tokens die at once).

    Published by ``Hub.end_doctor_sessions``: the doctor's "sign out everywhere", an admin,
    a licence withdrawal. ``grant_ids`` are the grants revoked now; ``reason`` is the short
    code stored on each of them, ``note`` an admin's free-text reason.
    """

    doctor_id: str
    grant_ids: tuple[str, ...]
    reason: str
    actor: str | None = None
    note: str | None = None
    address: str | None = None


class Events:
    """A synchronous publisher: listeners run in the publisher's thread, in the order they
    subscribed, and a listener's error reaches the publisher (a listener that must never
    undo the event, such as back-channel logout, catches its own errors)."""

    def __init__(self) -> None:
        self._listeners: dict[type, list[Callable[[Any], None]]] = {}

    def subscribe(self, kind: type[E], listener: Callable[[E], None]) -> None:
        self._listeners.setdefault(kind, []).append(listener)

    def publish(self, event: object) -> None:
        for listener in self._listeners.get(type(event), ()):
            listener(event)
