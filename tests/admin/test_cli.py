"""``hub admin create|list|disable`` as an operator runs them for the first admin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hub.cli import main


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {"CURBSIDE_DATABASE_URL": f"sqlite:///{tmp_path}/hub.db", "CURBSIDE_INSTANCE_DIR": str(tmp_path),
           "CURBSIDE_ISSUER": "https://id.curbside.example", "CURBSIDE_ARGON2_MEMORY_COST": "1024",
           "CURBSIDE_ARGON2_TIME_COST": "1"}
    assert CliRunner().invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    # Until the lead's migration adds admin_accounts, create it the way the test database does.
    from sqlalchemy import create_engine

    import hub.persistence.models  # noqa: F401
    from hub.persistence.db import Base

    engine = create_engine(env["CURBSIDE_DATABASE_URL"])
    Base.metadata.create_all(engine, checkfirst=True)
    engine.dispose()
    return env


def run(env: dict[str, str], *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=input)


def test_create_list_and_disable_admins(env: dict[str, str]) -> None:
    r = run(env, "admin", "create", "--email", "Root@Curbside.example", "--role", "admin", "--password-stdin",
            input="a long admin passphrase\n")
    assert r.exit_code == 0, r.output
    created = json.loads(r.output)
    assert created["email"] == "root@curbside.example" and created["role"] == "admin"
    assert created["otpauth_uri"].startswith("otpauth://totp/") and created["totp_secret"]
    r = run(env, "admin", "list")
    line = f"{created['id']}\troot@curbside.example\tadmin\ttotp\tactive"
    assert r.exit_code == 0 and line in r.output
    r = run(env, "admin", "disable", "--email", "root@curbside.example")
    assert r.exit_code == 0 and "disabled" in run(env, "admin", "list").output
    r = run(env, "audit", "export")
    events = [json.loads(line)["event"] for line in r.output.splitlines() if line.startswith("{")]
    assert events[:3] == ["admin:role:grant", "auth:mfa:enrol", "admin:account:disable"]


def test_bad_admin_input_gets_readable_errors(env: dict[str, str]) -> None:
    r = run(env, "admin", "create", "--email", "a@b.org", "--role", "admin", "--password-stdin",
            input="short\n")
    assert r.exit_code == 1 and "at least 12" in r.output
    r = run(env, "admin", "create", "--email", "a@b.org", "--role", "superuser", "--password-stdin",
            input="x\n")
    assert r.exit_code == 2 and "superuser" in r.output
    run(env, "admin", "create", "--email", "a@b.org", "--role", "auditor", "--password-stdin",
        input="a long admin passphrase\n")
    r = run(env, "admin", "create", "--email", "A@b.org", "--role", "auditor", "--password-stdin",
            input="a long admin passphrase\n")
    assert r.exit_code == 1 and "already exists" in r.output
    r = run(env, "admin", "disable", "--email", "nobody@b.org")
    assert r.exit_code == 1 and "no admin" in r.output
