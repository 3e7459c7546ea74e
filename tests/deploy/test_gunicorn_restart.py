"""A supervisor restarts a killed hub at once on the same port (deploy/gunicorn.conf.py).

Measured before the post_fork hook: after `kill -9` of the gunicorn master, its workers
noticed within a second but then drained in-flight connections for graceful_timeout (20 s)
with the listening socket still open, so a restart failed with "Address already in use"
for ~22 s (gunicorn gives up after five binds a second apart).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "gunicorn.conf.py"
GUNICORN = [sys.executable, "-m", "gunicorn", "-c", str(CONF), "hub.wsgi:app"]

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until_serving(issuer: str, process: subprocess.Popen[bytes], deadline: float) -> bool:
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"{issuer}/.well-known/openid-configuration", timeout=1).json()["issuer"] == issuer:
                return True
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.1)
    return False


def test_a_killed_master_can_be_restarted_on_the_same_port_at_once(tmp_path: Path) -> None:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURBSIDE_")}
    env |= {"CURBSIDE_BIND": f"127.0.0.1:{port}", "CURBSIDE_WORKERS": "1", "CURBSIDE_THREADS": "2",
            "CURBSIDE_ISSUER": issuer, "CURBSIDE_INSECURE_TRANSPORT": "1",
            "CURBSIDE_DATABASE_URL": f"sqlite:///{tmp_path}/hub.db", "CURBSIDE_INSTANCE_DIR": str(tmp_path)}
    from hub.persistence.db import Database
    from hub.persistence.schema import upgrade

    db = Database(env["CURBSIDE_DATABASE_URL"])
    upgrade(db)
    db.engine.dispose()
    assert_restarts_at_once_after_master_kill(GUNICORN, env, port, issuer, tmp_path / "gunicorn.log")


def assert_restarts_at_once_after_master_kill(command: list[str], env: dict[str, str], port: int,
                                             issuer: str, log_path: Path) -> None:
    """Start ``command`` (a gunicorn master with one worker), hold requests in flight, kill
    -9 the master and start ``command`` again on the same port: it must serve, and the
    killed master's worker must be gone."""
    log = log_path.open("ab")
    first = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=log)
    second = None
    orphans: list[int] = []
    held: list[socket.socket] = []
    try:
        assert wait_until_serving(issuer, first, time.monotonic() + 60), "the hub did not start"
        # In-flight requests (headers not finished): what makes a worker drain before exiting.
        for _ in range(4):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET /.well-known/openid-configuration HTTP/1.1\r\nHost: x\r\n")
            held.append(s)
        time.sleep(0.5)
        orphans = children(first.pid)
        assert len(orphans) == 1

        first.send_signal(signal.SIGKILL)
        first.wait()
        second = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=log)

        # gunicorn retries the bind 5 times a second apart, then exits: serving within that
        # window means the port was free almost at once.
        assert wait_until_serving(issuer, second, time.monotonic() + 30), (
            "restart failed: " + log_path.read_text()[-600:])
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
