"""The domain's event publisher: who hears an event, in which order, and what a failing
listener does to the publisher."""

from __future__ import annotations

import pytest

from hub.domain.events import DoctorSessionsEnded, Events


def ended(doctor_id: str = "d-1") -> DoctorSessionsEnded:
    return DoctorSessionsEnded(doctor_id, ("g-1", "g-2"), "admin", actor="admin-1")


def test_listeners_hear_each_event_once_in_the_order_they_subscribed() -> None:
    events, heard = Events(), []
    events.subscribe(DoctorSessionsEnded, lambda e: heard.append(("audit", e.doctor_id)))
    events.subscribe(DoctorSessionsEnded, lambda e: heard.append(("logout", e.grant_ids)))
    events.publish(ended())
    assert heard == [("audit", "d-1"), ("logout", ("g-1", "g-2"))]


def test_an_event_nobody_subscribed_to_reaches_no_listener() -> None:
    events, heard = Events(), []
    events.subscribe(DoctorSessionsEnded, heard.append)
    events.publish(object())
    assert heard == []


def test_a_failing_listener_fails_the_publisher_and_stops_later_listeners() -> None:
    """The audit record of an ending must not be skipped silently; a listener that must
    never undo the event (back-channel logout) catches its own errors."""
    events, heard = Events(), []

    def broken(event: DoctorSessionsEnded) -> None:
        raise RuntimeError("audit log unavailable")

    events.subscribe(DoctorSessionsEnded, broken)
    events.subscribe(DoctorSessionsEnded, heard.append)
    with pytest.raises(RuntimeError):
        events.publish(ended())
    assert heard == []
