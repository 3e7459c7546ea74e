"""Found in review (2026-12): the ``hub`` command answers a malformed key-encryption key
with one line, and lets go of its database connections when a command ends."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hub.cli import main

MALFORMED = "not-a-fernet-key"
# Every command that builds the hub; none may answer with a traceback.
COMMANDS = [["db", "upgrade"], ["keys", "list"], ["keys", "rotate"],
            ["doctor", "create", "--email", "a@b.org", "--password-stdin"], ["client", "subject-map", "x"],
            ["admin", "list"], ["admin", "create", "--email", "a@b.org", "--role", "admin", "--password-stdin"],
            ["audit", "verify"], ["audit", "export"], ["audit", "checkpoint"], ["audit", "expire", "--days", "30"],
            ["networks", "list"], ["logout", "list"], ["registers", "recheck"],
            ["registers", "process-withdrawals"], ["registers", "purge-documents"], ["serve", "--port", "1"],
            ["worker"], ["logout-worker"]]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {"CURBSIDE_DATABASE_URL": f"sqlite:///{tmp_path}/hub.db", "CURBSIDE_INSTANCE_DIR": str(tmp_path),
           "CURBSIDE_ISSUER": "https://id.curbside.example", "CURBSIDE_ARGON2_MEMORY_COST": "1024",
           "CURBSIDE_ARGON2_TIME_COST": "1"}
    assert CliRunner().invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    return env


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input="a long enough password\n")


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_malformed_key_encryption_key_is_one_line(env: dict[str, str], command: list[str]) -> None:
    r = run({**env, "CURBSIDE_KEY_ENCRYPTION_KEYS": MALFORMED}, *command)
    # A SystemExit is click's own ending; anything else is an uncaught traceback.
    assert isinstance(r.exception, SystemExit) and r.exit_code == 1, r.exception
    assert r.output.strip().splitlines() == [
        "Error: CURBSIDE_KEY_ENCRYPTION_KEYS must be Fernet keys (32 url-safe base64 bytes)"]


@pytest.fixture
def no_garbage_collection() -> Iterator[None]:
    """What a connection left to the garbage collector looks like: still open."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _open_handles(path: Path) -> int:
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        pytest.skip("needs /proc to count open files")
    return sum(1 for fd in fds.iterdir() if os.path.realpath(fd) == str(path))


@pytest.mark.parametrize("command", [["keys", "list"], ["admin", "list"],
                                     ["client", "subject-map", "no-such-client"]],  # one that fails
                         ids=" ".join)
def test_a_command_closes_its_database_connections_when_it_ends(
        env: dict[str, str], tmp_path: Path, no_garbage_collection: None, command: list[str]) -> None:
    db = (tmp_path / "hub.db").resolve()
    before = _open_handles(db)
    r = run(env, *command)
    assert "Traceback" not in r.output
    assert _open_handles(db) == before
