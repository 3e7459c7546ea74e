"""Fixtures for the policies tests."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

# tests/conftest.py makes pytest put tests/ on sys.path, and there this directory looks
# like a namespace package called "policies" that hides the real one, which the editable
# install only offers through a finder consulted after sys.path. The project root first
# lets the real package win. (A `pythonpath = ["."]` in pytest's settings would do it
# for every test directory.)
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pytest  # noqa: E402
from policy_makers import NOW  # noqa: E402

from policies import SubjectFacts  # noqa: E402
from policies.examples import sample_profiles  # noqa: E402


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def profiles() -> dict[str, SubjectFacts]:
    """The shipped sample doctors, with NOW as the time of the dry run."""
    return sample_profiles(NOW)
