"""Misconfigurations found at start, each as one line, by the commands an operator runs.

The commands run as subprocesses, as an operator or an init system runs them, so what is
checked is what reaches the terminal: one line, a non-zero exit, no traceback.
"""

from __future__ import annotations

import gc
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from tests.flows.conftest import _KEK as SUITE_KEK
from tests.flows.conftest import _SECRET_KEY as SUITE_SECRET_KEY

HUB = [sys.executable, "-m", "hub.cli"]
ROOT = Path(__file__).resolve().parents[1]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURBSIDE_")
           or k.startswith("CURBSIDE_TEST_")}
    env.update({"CURBSIDE_DATABASE_URL": f"sqlite:///{tmp_path}/hub.db",
                "CURBSIDE_INSTANCE_DIR": str(tmp_path / "instance"),
                "CURBSIDE_ISSUER": "https://id.curbside.example",
                "CURBSIDE_ARGON2_MEMORY_COST": "1024", "CURBSIDE_ARGON2_TIME_COST": "1"})
    env.update(extra)
    return env


def hub(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HUB, *args], env=env, capture_output=True, text=True, timeout=120,
                          cwd=cwd or ROOT)


def _one_line(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode != 0, r.stdout
    assert "Traceback" not in r.stderr, r.stderr
    lines = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- an instance folder the hub cannot write to ------------------------------------------

def test_db_upgrade_in_an_instance_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # root can write anywhere, but not make a folder under a file
    env = _env(tmp_path, CURBSIDE_INSTANCE_DIR=str(blocker / "instance"))
    line = _one_line(hub(env, "db", "upgrade"))
    assert f"cannot write to the folder {blocker / 'instance'}" in line
    assert "secret_key" in line  # what it needs the folder for
    _one_line(hub(env, "keys", "list"))  # every command, not only upgrade


def test_db_upgrade_on_a_read_only_mount_is_one_line(tmp_path: Path) -> None:
    """A read-only bind mount, which root cannot write to either (os.access would say yes
    to root for a folder of mode 0555, and root could write there indeed)."""
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs unshare -m (a private mount namespace) to make a read-only mount")
    folder = tmp_path / "instance"
    folder.mkdir()
    env = _env(tmp_path, CURBSIDE_INSTANCE_DIR=str(folder),
               CURBSIDE_DATABASE_URL=f"sqlite:///{folder}/hub.db")
    script = (f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && "
              f"exec {' '.join(HUB)} db upgrade")
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], env=env, capture_output=True,
                       text=True, timeout=120, cwd=ROOT)
    if "mount:" in r.stderr:
        pytest.skip(f"cannot mount here: {r.stderr.strip()}")
    line = _one_line(r)
    assert f"cannot write to the folder {folder}" in line and "Read-only file system" in line


# -- an unreachable database -------------------------------------------------------------

@pytest.mark.parametrize("command", [["db", "upgrade"], ["keys", "list"], ["serve", "--port", "1"]])
def test_commands_on_an_unreachable_database_are_one_line(tmp_path: Path, command: list[str]) -> None:
    closed = f"postgresql+psycopg://curbside:s3cret@127.0.0.1:{_free_port()}/curbside"
    line = _one_line(hub(_env(tmp_path, CURBSIDE_DATABASE_URL=closed, CURBSIDE_STORE_URL="redis://x"),
                         *command))
    assert "the database (postgresql+psycopg://curbside:***@127.0.0.1:" in line
    assert "unreachable" in line and "s3cret" not in line


# -- a key-encryption key that cannot decrypt the signing keys ----------------------------

@pytest.fixture
def upgraded(backend: Any, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Settings of a hub whose schema and signing keys exist, on either backend, in a
    database of its own: these tests rotate keys, which the suite's shared database must
    not see under a running hub's cached keys."""
    from click.testing import CliRunner

    from hub.cli import main
    from tests.conftest import PG_URL, _pg_schema_url

    schema = _pg_schema_url(PG_URL) if backend.name == "postgres-redis" else None
    url = next(schema) if schema else f"sqlite:///{tmp_path}/own.db"
    env = _env(tmp_path, CURBSIDE_DATABASE_URL=url, CURBSIDE_STORE_URL=backend.store_url,
               CURBSIDE_SECRET_KEY=SUITE_SECRET_KEY, CURBSIDE_KEY_ENCRYPTION_KEYS=SUITE_KEK)
    r = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    gc.collect()  # close the pooled connections of the hub the command built, now
    assert r.exit_code == 0, r.output
    yield env
    gc.collect()
    if schema:
        next(schema, None)


def test_a_wrong_key_encryption_key_stops_the_hub_at_start_with_one_line(
        upgraded: dict[str, str], tmp_path: Path) -> None:
    wrong = {**upgraded, "CURBSIDE_KEY_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    for command in (["serve", "--port", "1"], ["db", "upgrade"]):
        line = _one_line(hub(wrong, *command))
        assert "CURBSIDE_KEY_ENCRYPTION_KEYS cannot decrypt" in line, line
    # gunicorn on hub.wsgi (deploy/gunicorn.conf.py) stops as well, instead of serving 500s.
    port = _free_port()
    server = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy/gunicorn.conf.py"), "hub.wsgi:app"],
        env={**wrong, "CURBSIDE_BIND": f"127.0.0.1:{port}", "CURBSIDE_WORKERS": "1"},
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert server.returncode != 0
    assert "Traceback" not in server.stderr, server.stderr
    ours = [line for line in server.stderr.splitlines() if line.startswith("curbside: ")]
    assert len(ours) == 1 and "CURBSIDE_KEY_ENCRYPTION_KEYS cannot decrypt" in ours[0], server.stderr
    # The right key passes the same check.
    right = hub(upgraded, "db", "upgrade")
    assert right.returncode == 0 and "signing keys ready" in right.stdout


# -- key rotation waits for relying parties' caches --------------------------------------

def _age_next_keys(database_url: str, by: timedelta) -> None:
    from sqlalchemy import update

    from hub.persistence.db import Database
    from hub.persistence.models.keys import SigningKey

    db = Database(database_url)
    try:
        with db.session() as s:
            for key in s.query(SigningKey).filter(SigningKey.state == "next"):
                s.execute(update(SigningKey).where(SigningKey.kid == key.kid)
                          .values(created_at=key.created_at - by))
    finally:
        db.engine.dispose()


def test_a_second_rotation_waits_for_jwks_caches_unless_forced(upgraded: dict[str, str]) -> None:
    from click.testing import CliRunner

    from hub.cli import main
    from hub.protocol.discovery import JWKS_MAX_AGE

    def cli(*args: str) -> Any:  # in-process: rotating generates keys, a process each is slow
        result = CliRunner().invoke(main, list(args), env=upgraded)
        gc.collect()  # close the pooled connections of the hub the command built, now
        return result

    first = cli("keys", "rotate")  # the next keys were published with the first active ones
    assert first.exit_code == 0, first.output
    refused = cli("keys", "rotate")
    assert refused.exit_code == 1 and len(refused.output.strip().splitlines()) == 1
    assert "relying parties may not have it yet" in refused.output and "--force" in refused.output
    assert re.search(r"not before \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", refused.output)
    keys = cli("keys", "list").output  # the refused rotation rotated nothing
    assert keys.count("\tactive\t") == 4 and keys.count("\tnext\t") == 4
    # Once the next keys have been published for longer than a cached JWKS lives, it goes.
    _age_next_keys(upgraded["CURBSIDE_DATABASE_URL"], timedelta(seconds=JWKS_MAX_AGE - 1))
    assert cli("keys", "rotate").exit_code == 1  # the margin still applies
    _age_next_keys(upgraded["CURBSIDE_DATABASE_URL"], timedelta(seconds=JWKS_MAX_AGE))
    later = cli("keys", "rotate")
    assert later.exit_code == 0, later.output
    assert set(json.loads(later.output)["signing"]) == {"RS256", "ES256", "EdDSA", "Ed25519"}


# -- the pairwise-subject salt: a setting, or the instance folder's file ------------------

SALT = "s" * 20 + "-a-salt-of-forty-three-characters"


def _sub(env: dict[str, str]) -> str:
    """The `sub` a pairwise network gets for one doctor from a hub built on ``env``."""
    from types import SimpleNamespace

    from hub.services import Hub
    from hub.settings import Settings

    hub = Hub.build(Settings.from_env(env))
    try:
        client = SimpleNamespace(subject_type="pairwise", sector_identifier="network.example")
        return str(hub.subject("doctor-1", client))
    finally:
        hub.db.engine.dispose()


def test_the_salt_setting_survives_recreating_the_instance_folder(tmp_path: Path) -> None:
    """A container re-created with an empty instance folder and the same setting gives every
    doctor the same `sub`; without the setting each new folder would get a new salt."""
    first = _env(tmp_path, CURBSIDE_INSTANCE_DIR=str(tmp_path / "a"), CURBSIDE_PAIRWISE_SALT=SALT)
    second = {**first, "CURBSIDE_INSTANCE_DIR": str(tmp_path / "b")}
    assert _sub(first) == _sub(second)
    assert not (tmp_path / "a" / "pairwise_salt").exists()  # the setting is the only copy
    unset = {k: v for k, v in first.items() if k != "CURBSIDE_PAIRWISE_SALT"}
    assert _sub({**unset, "CURBSIDE_INSTANCE_DIR": str(tmp_path / "c")}) != _sub(first)


def test_an_existing_salt_file_keeps_every_sub_and_may_move_into_the_setting(tmp_path: Path) -> None:
    env = _env(tmp_path)
    before = _sub(env)  # a hub of an earlier version: the salt is generated into the folder
    stored = (tmp_path / "instance" / "pairwise_salt").read_text().strip()
    assert _sub(env) == before
    # The operator copies the file's salt into the setting: nothing changes, and the start
    # checks pass with both in place.
    moved = {**env, "CURBSIDE_PAIRWISE_SALT": stored + "\n"}
    assert _sub(moved) == before
    r = hub(moved, "db", "upgrade")
    assert r.returncode == 0, r.stderr


def test_a_salt_setting_that_contradicts_the_salt_file_stops_every_command_with_one_line(
        tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert hub(env, "db", "upgrade").returncode == 0  # writes the salt file
    salt_file = tmp_path / "instance" / "pairwise_salt"
    before = salt_file.read_bytes()
    other = {**env, "CURBSIDE_PAIRWISE_SALT": SALT}
    for command in (["db", "upgrade"], ["keys", "list"], ["serve", "--port", str(_free_port())]):
        line = _one_line(hub(other, *command))
        assert line.startswith("Error: CURBSIDE_PAIRWISE_SALT differs from the salt in "), line
        assert str(salt_file) in line and SALT not in line
    assert salt_file.read_bytes() == before  # neither salt was overwritten
    # gunicorn on hub.wsgi (the image's command) refuses as well.
    server = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy/gunicorn.conf.py"), "hub.wsgi:app"],
        env={**other, "CURBSIDE_BIND": f"127.0.0.1:{_free_port()}", "CURBSIDE_WORKERS": "1"},
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert server.returncode != 0
    ours = [line for line in server.stderr.splitlines() if line.startswith("curbside: ")]
    assert len(ours) == 1 and "CURBSIDE_PAIRWISE_SALT differs" in ours[0], server.stderr


def test_a_short_salt_setting_is_refused(tmp_path: Path) -> None:
    line = _one_line(hub(_env(tmp_path, CURBSIDE_PAIRWISE_SALT="short"), "keys", "list"))
    assert "CURBSIDE_PAIRWISE_SALT must be at least 32 characters" in line
