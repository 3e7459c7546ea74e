"""`hub serve` restarts at once on the same port after its master was killed, as the
gunicorn config does (tests/deploy/test_gunicorn_restart.py): both use one post_fork hook."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.deploy.test_gunicorn_restart import alive, children, free_port, wait_until_serving

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
    log = (tmp_path / "serve.log").open("ab")
    first = subprocess.Popen(serve, env=env, cwd=ROOT, stdout=log, stderr=log)
    second = None
    orphans: list[int] = []
    held: list[socket.socket] = []
    try:
        assert wait_until_serving(issuer, first, time.monotonic() + 60), "hub serve did not start"
        # Requests in flight, which a worker would otherwise drain before exiting.
        for _ in range(4):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET /.well-known/openid-configuration HTTP/1.1\r\nHost: x\r\n")
            held.append(s)
        time.sleep(0.5)
        orphans = children(first.pid)
        assert len(orphans) == 1  # the `hub serve` process is gunicorn's master

        first.send_signal(signal.SIGKILL)
        first.wait()
        second = subprocess.Popen(serve, env=env, cwd=ROOT, stdout=log, stderr=log)
        # gunicorn tries the bind 5 times a second apart, then exits: serving means the port
        # was free within that window.
        assert wait_until_serving(issuer, second, time.monotonic() + 30), (
            "restart failed: " + (tmp_path / "serve.log").read_text()[-600:])
        assert second.poll() is None
        assert not [pid for pid in orphans if alive(pid)], "workers of the killed master live on"
    finally:
        for s in held:
            s.close()
        for pid in orphans:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
        log.close()
