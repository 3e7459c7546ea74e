from __future__ import annotations

from collections.abc import Iterator

import pytest
from connector_fakes import Fake, LiveServer


@pytest.fixture
def fake() -> Iterator[Fake]:
    state = Fake()
    server = LiveServer(state)
    try:
        yield state
    finally:
        server.close()
