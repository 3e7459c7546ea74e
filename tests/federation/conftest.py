from __future__ import annotations

import pytest
from federation_fakes import FakeFederation, three_level


@pytest.fixture
def fed() -> FakeFederation:
    return three_level(FakeFederation())
