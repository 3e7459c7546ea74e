"""Every pull connector × every conformance check, against the fake network over HTTP."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conformance import CHECKS, PROFILES, Harness, Profile
from connector_fakes import Fake


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_conformance(profile: Profile, check: Callable[[Harness], None], fake: Fake) -> None:
    check(Harness(profile, fake))
