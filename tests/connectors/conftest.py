from __future__ import annotations

from collections.abc import Iterator

import pytest
from connector_fakes import Fake, LiveServer, rsa_key


@pytest.fixture(scope="session", autouse=True)
def _keys() -> None:
    # Generate RSA keys before any server handler needs one: generating inside a handler
    # would eat into the client's 1 s test budget and fail a token request at random.
    for kid in ("k1", "k2", "attacker"):
        rsa_key(kid)


@pytest.fixture
def fake() -> Iterator[Fake]:
    state = Fake()
    server = LiveServer(state)
    try:
        yield state
    finally:
        server.close()
