"""``hub audit``: exit codes and readable messages, with a fake of the main CLI's context."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from hub.audit import Ed25519CheckpointKey
from hub.audit.cli import audit
from hub.persistence.db import Database

from .helpers import fill, tamper


@dataclass
class FakeSettings:
    secret_key: str = "a secret key the hub would generate"
    audit_checkpoint_key_file: str = ""


@dataclass
class FakeApp:
    """What the main ``hub`` command puts in ``ctx.obj``."""

    db: Database
    settings: FakeSettings = field(default_factory=FakeSettings)


def run(obj: Any, *args: str) -> Result:
    return CliRunner().invoke(audit, list(args), obj=obj)


@pytest.fixture
def app(db: Database) -> FakeApp:
    fill(db, 20)
    return FakeApp(db)


def test_verify_ok(app: FakeApp) -> None:
    result = run(app, "verify")
    assert result.exit_code == 0, result.output
    assert "audit log: OK" in result.output and "records checked: 20" in result.output


def test_verify_tampered_exits_1_and_names_the_record(app: FakeApp) -> None:
    tamper(app.db, "UPDATE audit_records SET actor = 'doctor:x' WHERE seq = 13")
    result = run(app, "verify")
    assert result.exit_code == 1
    assert "TAMPERED" in result.output and "record 13 was changed" in result.output


def test_checkpoint_then_verify_with_the_derived_key(app: FakeApp) -> None:
    result = run(app, "checkpoint")
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.strip())
    assert line["seq"] == 20 and line["alg"] == "hmac-sha256"
    verified = run(app, "verify")
    assert verified.exit_code == 0 and "signatures verified" in verified.output
    wrong = FakeApp(app.db, FakeSettings(secret_key="another secret"))
    assert run(wrong, "verify").exit_code == 1


def test_checkpoint_with_an_ed25519_key_file(app: FakeApp, tmp_path: Path) -> None:
    private, public = tmp_path / "audit.pem", tmp_path / "audit.pub"
    assert run(app, "keygen", str(private), str(public)).exit_code == 0
    assert run(app, "checkpoint", "--key-file", str(private)).exit_code == 0
    assert run(app, "verify", "--key-file", str(public)).exit_code == 0
    key = Ed25519CheckpointKey.from_pem(public.read_bytes())
    assert not key.can_sign
    refused = run(app, "checkpoint", "--key-file", str(public))
    assert refused.exit_code == 2 and "private key" in refused.output
    again = run(app, "keygen", str(private), str(public))
    assert again.exit_code == 2 and "refusing to overwrite" in again.output


def test_checkpoint_refuses_a_broken_chain(app: FakeApp) -> None:
    tamper(app.db, "UPDATE audit_records SET detail = '{}' WHERE seq = 5")
    result = run(app, "checkpoint")
    assert result.exit_code == 1 and "record 5 was changed" in result.output


def test_export_to_a_file_and_stdout(app: FakeApp, tmp_path: Path) -> None:
    out = tmp_path / "range.csv"
    result = run(
        app,
        "export",
        "--from",
        "2024-05-01T12:05:00Z",
        "--to",
        "2024-05-01T12:10:00Z",
        "--format",
        "csv",
        "--output",
        str(out),
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["seq"] for r in rows] == ["6", "7", "8", "9", "10"]
    result = run(app, "export", "--to", "2024-05-01T12:02Z")
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert [x["seq"] for x in lines] == [1, 2]
    # Both exports are themselves in the log.
    verify = run(app, "verify")
    assert "records checked: 22" in verify.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "--from", "last tuesday"], "is not an ISO 8601 date or time"),
        (["export", "--from", "2024-05-02", "--to", "2024-05-01"], "starts after it ends"),
        (["export", "--format", "xml"], "'xml' is not one of"),
        (["expire", "--days", "-3"], "-3 is not in the range"),
        (["checkpoint", "--key-file", "/nonexistent/key.pem"], "cannot read the key file"),
    ],
)
def test_bad_input_is_a_usage_error_not_a_traceback(
    app: FakeApp, tmp_path: Path, args: list[str], message: str
) -> None:
    target = tmp_path / "never-created.jsonl"
    result = run(app, *args, *(["--output", str(target)] if args[0] == "export" else []))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # click's clean exit, nothing uncaught
    assert not target.exists()


def test_missing_database_in_context(db: Database) -> None:
    result = run(object(), "verify")
    assert result.exit_code == 2 and "need the hub's database" in result.output


def test_unreachable_database_exits_3(tmp_path: Path) -> None:
    broken = FakeApp(Database(f"sqlite:///{tmp_path}/missing/dir/x.db"))
    result = run(broken, "verify")
    assert result.exit_code == 3 and "cannot read the audit log" in result.output


def test_erase_and_expire(app: FakeApp) -> None:
    result = run(app, "erase", "--subject", "d1")
    assert result.exit_code == 0 and "erased personal data of 1 record " in result.output
    result = run(app, "expire", "--days", "0")
    assert result.exit_code == 0 and "of 6 records older than 0 days" in result.output
    assert run(app, "verify").exit_code == 0
