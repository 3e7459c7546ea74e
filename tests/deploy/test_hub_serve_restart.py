"""`hub serve` restarts at once on the same port after its master was killed, as the
gunicorn config does (tests/deploy/test_gunicorn_restart.py): both use one post_fork hook."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.test_gunicorn_restart import assert_restarts_at_once_after_master_kill, free_port

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")]


def test_hub_serve_killed_with_its_master_can_be_restarted_on_the_same_port_at_once(
        tmp_path: Path) -> None:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURBSIDE_")}
    env |= {"CURBSIDE_ISSUER": issuer, "CURBSIDE_INSECURE_TRANSPORT": "1",
            "CURBSIDE_DATABASE_URL": f"sqlite:///{tmp_path}/hub.db",
            "CURBSIDE_INSTANCE_DIR": str(tmp_path / "instance"),
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    serve = [sys.executable, "-m", "hub.cli", "serve", "--port", str(port), "--workers", "1"]
    assert subprocess.run([sys.executable, "-m", "hub.cli", "db", "upgrade"], env=env, cwd=ROOT,
                          capture_output=True, timeout=120).returncode == 0
    assert_restarts_at_once_after_master_kill(serve, env, port, issuer, tmp_path / "serve.log")
