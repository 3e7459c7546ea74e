"""``hub serve`` logs each request by its path, never its query string: /authorize carries
login_hint (a doctor's email) and id_token_hint (who the doctor is at a network)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import requests


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_hub_serve_logs_paths_without_query_strings(tmp_path: Path) -> None:
    env = {**os.environ, "CURBSIDE_DATABASE_URL": f"sqlite:///{tmp_path}/hub.db",
           "CURBSIDE_INSTANCE_DIR": str(tmp_path), "CURBSIDE_ISSUER": "https://id.curbside.example",
           "CURBSIDE_ARGON2_MEMORY_COST": "1024", "CURBSIDE_ARGON2_TIME_COST": "1"}
    hub = [sys.executable, "-m", "hub.cli"]
    subprocess.run([*hub, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen([*hub, "serve", "--port", str(port), "--workers", "1"], env=env,
                                  cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    requests.get(f"{base}/jwks", timeout=10)
                    break
                except requests.ConnectionError:
                    assert server.poll() is None, log.read_text()[-2000:]
                    time.sleep(0.1)
            query = urlencode({"client_id": "network-1", "login_hint": "anna.devries@example.org",
                               "id_token_hint": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbm5hIn0.c2ln",
                               "state": "state-1234"})
            page = requests.get(f"{base}/authorize?{query}", timeout=10)
            assert page.status_code == 400  # an unknown network: the request reached the hub
        finally:
            server.terminate()
            server.wait(timeout=30)
    logged = log.read_text()
    assert '"GET /authorize" 400' in logged, logged[-2000:]
    for secret in ("anna.devries", "eyJhbGciOiJSUzI1NiJ9", "state-1234", "login_hint", "?"):
        assert secret not in logged.split('"GET /jwks"')[-1], logged[-2000:]
