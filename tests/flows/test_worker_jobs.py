"""The worker's periodic jobs exist and run against a real hub without error (re-checks,
withdrawals, document purge, back-channel deliveries, feed relay tick)."""

from __future__ import annotations

from hub.worker import PERIODIC, resolve
from tests.flows.conftest import RunningHub


def test_every_periodic_job_runs(running_hub: RunningHub) -> None:
    assert {"hub.verification.jobs:recheck_due", "hub.verification.jobs:process_withdrawals",
            "hub.relying.backchannel:process_due"} <= set(PERIODIC)
    for name in PERIODIC:
        resolve(name)(running_hub.hub)
