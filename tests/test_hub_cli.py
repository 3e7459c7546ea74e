"""The ``hub`` command as an operator scripts it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.cli import main


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"CURBSIDE_DATABASE_URL": f"sqlite:///{tmp_path}/hub.db", "CURBSIDE_INSTANCE_DIR": str(tmp_path),
            "CURBSIDE_ISSUER": "https://id.curbside.example", "CURBSIDE_ARGON2_MEMORY_COST": "1024",
            "CURBSIDE_ARGON2_TIME_COST": "1"}


def run(env: dict[str, str], *args: str, input: str | None = None) -> object:
    return CliRunner().invoke(main, list(args), env=env, input=input)


def test_operator_scripts_schema_doctor_client_and_keys(env: dict[str, str]) -> None:
    r = run(env, "db", "upgrade")
    assert r.exit_code == 0, r.output
    r = run(env, "doctor", "create", "--email", "a@b.org", "--given-name", "Ann", "--password-stdin",
            input="a long enough password\n")
    assert r.exit_code == 0 and json.loads(r.output)["email"] == "a@b.org"
    r = run(env, "client", "create", "--name", "Nordic", "--redirect-uri", "https://nordic.example/cb")
    creds = json.loads(r.output)
    assert creds["client_secret"] and creds["subject_type"] == "pairwise"
    before = run(env, "keys", "list").output
    r = run(env, "keys", "rotate")
    assert r.exit_code == 0 and set(json.loads(r.output)["signing"]) == {"RS256", "ES256", "EdDSA", "Ed25519"}
    after = run(env, "keys", "list").output
    assert after.count("retired") == 4 and before.count("retired") == 0


def test_bad_input_gets_readable_errors(env: dict[str, str]) -> None:
    run(env, "db", "upgrade")
    r = run(env, "client", "create", "--name", "X", "--redirect-uri", "http://evil.example/cb")
    assert r.exit_code == 1 and "invalid_redirect_uri" in r.output and "Traceback" not in r.output
    r = run(env, "client", "create", "--name", "X", "--redirect-uri", "https://x.example/cb#frag")
    assert r.exit_code == 1 and "fragment" in r.output
    r = run(env, "doctor", "create", "--email", "a@b.org", "--password-stdin", input="short\n")
    assert r.exit_code == 1 and "at least" in r.output
    r = run({**env, "CURBSIDE_ISSUR": "x"}, "keys", "list")
    assert r.exit_code == 1 and "unknown setting CURBSIDE_ISSUR" in r.output
    r = run({**env, "CURBSIDE_ISSUER": "http://id.example"}, "keys", "list")
    assert r.exit_code == 1 and "https" in r.output


def test_serve_refuses_a_database_behind_the_code_with_a_plain_message(env: dict[str, str]) -> None:
    r = run(env, "serve", "--port", "1")
    assert r.exit_code == 1 and "run 'hub db upgrade'" in r.output
    assert "Traceback" not in r.output


def test_the_deploy_gunicorn_config_serves_with_its_documented_settings(
        env: dict[str, str], tmp_path: Path) -> None:
    """deploy/gunicorn.conf.py reads CURBSIDE_BIND/WORKERS/THREADS/FORWARDED_ALLOW_IPS; the
    app must not refuse them as unknown settings."""
    import os
    import socket
    import subprocess
    import sys
    import time

    import requests

    assert run(env, "db", "upgrade").exit_code == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = Path(__file__).resolve().parents[1]
    server_env = {**os.environ, **env, "CURBSIDE_BIND": f"127.0.0.1:{port}", "CURBSIDE_WORKERS": "1",
                  "CURBSIDE_THREADS": "2", "CURBSIDE_FORWARDED_ALLOW_IPS": "127.0.0.1"}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(root / "deploy/gunicorn.conf.py"),
                               "hub.wsgi:app"], env=server_env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            try:
                r = requests.get(f"http://127.0.0.1:{port}/.well-known/openid-configuration", timeout=10)
                break
            except requests.ConnectionError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
                time.sleep(0.1)
        assert r.status_code == 200 and r.json()["issuer"] == env["CURBSIDE_ISSUER"]
    finally:
        server.terminate()
        server.wait(timeout=20)
