"""deploy/postgres-init/10-curbside-roles.sh: migrate as one role, serve as another.

Runs the init script against the test PostgreSQL (a fresh database and two fresh roles),
migrates with `hub db upgrade` as the migration role, uses the hub as the serving role, and
checks what the serving role must not be able to do to the audit trail.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from hub.cli import main

PG_URL = os.environ.get("CURBSIDE_TEST_DATABASE_URL", "")
SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "postgres-init" / "10-curbside-roles.sh"

pytestmark = pytest.mark.skipif(not PG_URL.startswith("postgresql"), reason="CURBSIDE_TEST_DATABASE_URL not set")


@dataclass(frozen=True)
class Roles:
    migrator_url: str
    app_url: str
    migrator: str
    app: str


@pytest.fixture(scope="module")
def roles() -> Iterator[Roles]:
    if shutil.which("psql") is None:
        pytest.skip("psql (PostgreSQL's client) is not installed")
    admin_url = sa.make_url(PG_URL)
    tag = secrets.token_hex(4)
    db, migrator, app = f"cs_roles_{tag}", f"cs_migrator_{tag}", f"cs_app_{tag}"
    migrator_pw, app_pw = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{db}"'))
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "CURBSIDE_"))}
        env |= {"PGHOST": admin_url.host or "127.0.0.1", "PGPORT": str(admin_url.port or 5432),
                "POSTGRES_USER": admin_url.username or "postgres", "POSTGRES_DB": db,
                "CURBSIDE_DB_MIGRATOR": migrator, "CURBSIDE_DB_APP": app,
                "CURBSIDE_DB_MIGRATOR_PASSWORD": migrator_pw, "CURBSIDE_DB_APP_PASSWORD": app_pw}
        if admin_url.password:
            env["PGPASSWORD"] = admin_url.password
        done = subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert migrator_pw not in done.stdout + done.stderr
        url = admin_url.set(drivername="postgresql+psycopg", database=db)
        yield Roles(url.set(username=migrator, password=migrator_pw).render_as_string(hide_password=False),
                    url.set(username=app, password=app_pw).render_as_string(hide_password=False),
                    migrator, app)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{app}"'))
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{migrator}"'))
        admin.dispose()


@pytest.fixture(scope="module")
def migrated(roles: Roles, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """`hub db upgrade` as the migration role; returns the serving role's hub environment."""
    instance = tmp_path_factory.mktemp("instance")
    env = {"CURBSIDE_ISSUER": "https://id.curbside.example", "CURBSIDE_INSTANCE_DIR": str(instance),
           "CURBSIDE_ARGON2_MEMORY_COST": "1024", "CURBSIDE_ARGON2_TIME_COST": "1"}
    r = CliRunner().invoke(main, ["db", "upgrade"], env=env | {"CURBSIDE_DATABASE_URL": roles.migrator_url})
    assert r.exit_code == 0, r.output
    return env | {"CURBSIDE_DATABASE_URL": roles.app_url}


def test_the_migration_role_owns_every_table(roles: Roles, migrated: dict[str, str]) -> None:
    engine = sa.create_engine(roles.app_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'"))
        owners = {name: owner for name, owner in rows}
    engine.dispose()
    assert {"audit_records", "audit_checkpoints", "doctors", "alembic_version"} <= set(owners)
    assert set(owners.values()) == {roles.migrator}


@pytest.fixture(scope="module")
def audited(roles: Roles, migrated: dict[str, str]) -> dict[str, str]:
    """The serving role did the hub's daily work: DML on several tables and audit records."""
    r = CliRunner().invoke(main, ["doctor", "create", "--email", "dr@example.org", "--password-stdin"],
                           env=migrated, input="a long enough password\n")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["email"] == "dr@example.org"
    r = CliRunner().invoke(main, ["keys", "rotate"], env=migrated)  # updates keys, appends to the audit log
    assert r.exit_code == 0, r.output
    return migrated


def test_the_hub_works_as_the_serving_role(roles: Roles, audited: dict[str, str]) -> None:
    engine = sa.create_engine(roles.app_url)
    with engine.connect() as conn:
        events = list(conn.execute(sa.text("SELECT event FROM audit_records")).scalars())
    engine.dispose()
    assert "keys:signing:rotate" in events
    r = CliRunner().invoke(main, ["audit", "verify"], env=audited)
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize(("statement", "refusal"), [
    ("UPDATE audit_records SET event = 'nothing happened'", "append-only"),
    ("DELETE FROM audit_records", "append-only"),
    ("TRUNCATE audit_records", "permission denied"),
    ("ALTER TABLE audit_records DISABLE TRIGGER ALL", "must be owner"),
    ("DROP TRIGGER audit_records_append_only ON audit_records", "must be owner"),
    ("DROP TABLE audit_records", "must be owner"),
    ("SET session_replication_role = replica", "permission denied"),
    ("CREATE TABLE shadow (x int)", "permission denied for schema public"),
])
def test_the_serving_role_cannot_rewrite_the_audit_trail(
        roles: Roles, audited: dict[str, str], statement: str, refusal: str) -> None:
    engine = sa.create_engine(roles.app_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM audit_records")).scalar_one() > 0
            with pytest.raises(sa.exc.DBAPIError, match=refusal):
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()
