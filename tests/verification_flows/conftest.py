"""Fixtures: the running hub of the flow tests, with the live register interfaces (BIG,
NPPES) pointed at a local fake, so no test touches the network."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.verification import registry
from tests.flows.conftest import RunningHub, browser, running_hub  # noqa: F401  (fixtures)
from tests.verification_flows.registers import FakeRegisters


@pytest.fixture(scope="session")
def fake_registers(running_hub: RunningHub) -> Iterator[FakeRegisters]:  # noqa: F811
    fake = FakeRegisters()
    verifiers = registry.for_hub(running_hub.hub)
    verifiers["nl-big"].endpoint = f"{fake.base}/big"  # type: ignore[attr-defined]
    verifiers["us-nppes"].api_url = f"{fake.base}/nppes"  # type: ignore[attr-defined]
    yield fake
    fake.close()


@pytest.fixture(autouse=True)
def _registers_are_local(fake_registers: FakeRegisters) -> None:
    """Every test here runs with the fake live registers in place."""
