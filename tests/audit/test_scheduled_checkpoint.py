"""Checkpoints in production: the worker writes them on a schedule with an Ed25519 key the
web hub never holds, ships a copy outside the database, and `hub audit verify` reports the
newest records deleted, even when the checkpoint rows were deleted with them."""

from __future__ import annotations

import gc
import json
import logging
import os
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from huey import MemoryHuey  # type: ignore[import-untyped]
from sqlalchemy import func, select, text

from hub.audit.jobs import JOB, write_scheduled_checkpoint
from hub.cli import main
from hub.composition import build_hub
from hub.persistence.db import Database
from hub.persistence.models.audit import CHECKPOINTS
from hub.services import Hub
from hub.settings import Settings
from hub.worker import Queue, _scheduler, periodic_jobs, resolve
from tests.flows.conftest import make_settings

from .helpers import fill, tamper

INTERVAL = 1  # seconds, so the real scheduler thread enqueues at once


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: Path
    jwk: dict[str, str]


def hub_cli(env: dict[str, str], *args: str) -> Result:
    """The `hub` command as an operator runs it, configured only by CURBSIDE_* variables."""
    result = CliRunner().invoke(main, list(args), env=env)
    # Each invocation builds a Hub whose engine lives until the cycle collector runs; free
    # its connection now, as the process exit would (the test PostgreSQL is shared).
    gc.collect()
    return result


@pytest.fixture
def keypair(tmp_path: Path) -> KeyPair:
    private, public = tmp_path / "writer" / "checkpoint.pem", tmp_path / "checkpoint.pub.pem"
    private.parent.mkdir()
    result = CliRunner().invoke(main, ["audit", "keygen", str(private), str(public)])
    assert result.exit_code == 0, result.output
    return KeyPair(private, public, json.loads(result.stdout))


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    return tmp_path / "shipped" / "checkpoints.jsonl"


@pytest.fixture
def worker_hub(backend: Any, db: Database, tmp_path: Path, keypair: KeyPair, shipped: Path) -> Iterator[Hub]:
    """The hub as `hub worker` builds it on the writer's host: it holds the private key."""
    shipped.parent.mkdir()
    settings = make_settings(
        backend, tmp_path / "instance",
        audit_checkpoint_key_file=str(keypair.private),
        audit_checkpoint_log=str(shipped),
        audit_checkpoint_interval=INTERVAL,
    )  # fmt: skip
    hub = build_hub(settings, store_prefix=f"t{backend.redis_prefix}:audit:")
    yield hub
    hub.db.engine.dispose()


@pytest.fixture
def verifier_env(backend: Any, tmp_path: Path, keypair: KeyPair) -> dict[str, str]:
    """A serving host's settings: the public key only, no private key file anywhere."""
    return {
        "CURBSIDE_ISSUER": "http://127.0.0.1:5000",
        "CURBSIDE_INSECURE_TRANSPORT": "1",
        "CURBSIDE_DATABASE_URL": backend.database_url,
        "CURBSIDE_STORE_URL": backend.store_url,
        "CURBSIDE_INSTANCE_DIR": str(tmp_path / "verifier"),
        "CURBSIDE_SECRET_KEY": os.environ["CURBSIDE_TEST_SECRET_KEY"],
        "CURBSIDE_KEY_ENCRYPTION_KEYS": os.environ["CURBSIDE_TEST_KEK"],
        "CURBSIDE_AUDIT_CHECKPOINT_PUBLIC_KEY_FILE": str(keypair.public),
    }


def run_scheduled_jobs(hub: Hub) -> None:
    """What `hub worker` does: its scheduler thread enqueues the periodic jobs of the hub's
    settings, and a consumer worker dequeues and executes them (huey's Worker.loop)."""
    audit_job = {JOB: periodic_jobs(hub.settings)[JOB]}
    queue = Queue(MemoryHuey("audit-test"), hub)
    stop = threading.Event()
    thread = threading.Thread(target=_scheduler, args=(queue, audit_job, stop), daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if queue.huey.pending_count():
                break
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(5)
    task = queue.huey.dequeue()
    assert task is not None, "the scheduler enqueued no checkpoint job"
    queue.huey.execute(task)


def superuser_delete(db: Database, sql: str) -> None:
    """Delete as a database superuser would: around the append-only triggers."""
    if db.is_sqlite:
        tamper(db, sql)
        return
    with db.engine.begin() as conn:
        # Triggers fire only in the origin role; a superuser can leave it (PostgreSQL docs,
        # "session_replication_role").
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.execute(text(sql))


def delete_newest_records(db: Database, after: int) -> None:
    superuser_delete(db, f"DELETE FROM audit_personal_data WHERE seq > {after}")
    superuser_delete(db, f"DELETE FROM audit_records WHERE seq > {after}")


def test_worker_registers_the_checkpoint_at_the_configured_interval() -> None:
    env = {"CURBSIDE_INSECURE_TRANSPORT": "1"}
    assert periodic_jobs(Settings.from_env(env))[JOB] == 300.0  # on by default
    assert periodic_jobs(Settings.from_env({**env, "CURBSIDE_AUDIT_CHECKPOINT_INTERVAL": "120"}))[JOB] == 120.0
    assert JOB not in periodic_jobs(Settings.from_env({**env, "CURBSIDE_AUDIT_CHECKPOINT_INTERVAL": "0"}))
    assert resolve(JOB) is write_scheduled_checkpoint


def test_deleting_the_newest_records_after_a_scheduled_checkpoint_is_reported(
    db: Database, worker_hub: Hub, verifier_env: dict[str, str], shipped: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    fill(db, 30)
    with caplog.at_level(logging.INFO, logger="hub.audit.checkpoint"):
        run_scheduled_jobs(worker_hub)
    line = json.loads(shipped.read_text())
    assert line["seq"] == 30 and line["alg"] == "ed25519"
    assert any(json.dumps(line, sort_keys=True) in r.getMessage() for r in caplog.records)  # the log copy

    ok = hub_cli(verifier_env, "audit", "verify")
    assert ok.exit_code == 0, ok.output
    assert "signatures verified" in ok.output
    # Its age is what tells a monitor that the writer stopped.
    assert f"newest checkpoint: #{line['id']}, seq 30, written {line['time']}" in ok.output

    delete_newest_records(db, after=25)
    cut = hub_cli(verifier_env, "audit", "verify")
    assert cut.exit_code == 1, cut.output
    assert f"first problem: records after 25 are missing: signed checkpoint #{line['id']} covers seq 30\n" in cut.output

    # Deleting the checkpoint rows too leaves a shorter chain that is intact in itself ...
    superuser_delete(db, "DELETE FROM audit_checkpoints")
    assert hub_cli(verifier_env, "audit", "verify").exit_code == 0
    # ... but not intact against the copy shipped outside the database.
    against = hub_cli(verifier_env, "audit", "verify", "--against", str(shipped))
    assert against.exit_code == 1, against.output
    assert (
        f"first problem: records after 25 are missing: shipped checkpoint of {line['time']} "
        "(line 1, seq 30) covers seq 30\n"
    ) in against.output
    assert "1 shipped checkpoint(s) are missing from audit_checkpoints" in against.output


def test_shipped_copy_checks_out_on_an_untouched_log(
    db: Database, worker_hub: Hub, verifier_env: dict[str, str], shipped: Path
) -> None:
    fill(db, 5)
    run_scheduled_jobs(worker_hub)
    fill(db, 4)  # appended since: not yet covered, not a problem
    run_scheduled_jobs(worker_hub)
    assert len(shipped.read_text().splitlines()) == 2
    result = hub_cli(verifier_env, "audit", "verify", "--against", str(shipped))
    assert result.exit_code == 0, result.output
    assert "shipped checkpoints compared: 2" in result.output


def test_a_forged_shipped_line_is_reported_not_trusted(
    db: Database, worker_hub: Hub, verifier_env: dict[str, str], shipped: Path
) -> None:
    fill(db, 5)
    run_scheduled_jobs(worker_hub)
    forged = json.loads(shipped.read_text()) | {"seq": 500}
    with shipped.open("a") as f:
        f.write(json.dumps(forged) + "\n")
    result = hub_cli(verifier_env, "audit", "verify", "--against", str(shipped))
    assert result.exit_code == 1, result.output
    assert "(line 2, seq 500) has an invalid signature" in result.output
    assert "records after" not in result.output  # an unsigned claim proves no deletion


def test_rewrite_after_deleting_the_checkpoint_rows_is_caught_by_the_shipped_copy(
    db: Database, worker_hub: Hub, verifier_env: dict[str, str], shipped: Path
) -> None:
    fill(db, 6)
    run_scheduled_jobs(worker_hub)
    superuser_delete(db, "DELETE FROM audit_checkpoints")
    # Replace the whole log by a fresh, internally consistent one of the same length.
    delete_newest_records(db, after=0)
    fill(db, 6)
    assert hub_cli(verifier_env, "audit", "verify").exit_code == 0
    result = hub_cli(verifier_env, "audit", "verify", "--against", str(shipped))
    assert result.exit_code == 1, result.output
    assert "first problem: record 6 no longer matches the shipped checkpoint" in result.output


def test_unreadable_shipped_file_is_a_one_line_usage_error(
    db: Database, verifier_env: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('\n{"seq": "x"}\n')
    result = hub_cli(verifier_env, "audit", "verify", "--against", str(bad))
    assert result.exit_code == 2 and f"{bad} line 2: not a checkpoint line" in result.output
    assert "Traceback" not in result.output
    missing = hub_cli(verifier_env, "audit", "verify", "--against", str(tmp_path / "none.jsonl"))
    assert missing.exit_code == 2 and "cannot read" in missing.output


def test_scheduled_checkpoint_over_a_broken_chain_alerts_and_signs_nothing(
    db: Database, worker_hub: Hub, shipped: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fill(db, 8)
    tamper(db, "UPDATE audit_records SET actor = 'doctor:x' WHERE seq = 7")
    with caplog.at_level(logging.ERROR, logger="hub.audit.checkpoint"):
        run_scheduled_jobs(worker_hub)
    assert "audit log TAMPERED: refusing to sign a checkpoint: record 7 was changed" in caplog.text
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(CHECKPOINTS)).scalar() == 0
    assert not shipped.exists()


def test_serving_host_cannot_sign_and_never_reads_the_private_key(
    db: Database, verifier_env: dict[str, str], tmp_path: Path
) -> None:
    fill(db, 3)
    result = hub_cli(verifier_env, "audit", "checkpoint")
    assert result.exit_code == 2
    assert ("CURBSIDE_AUDIT_CHECKPOINT_PUBLIC_KEY_FILE is set but CURBSIDE_AUDIT_CHECKPOINT_KEY_FILE "
            "is not: this process cannot sign checkpoints") in result.output
    # Verifying with the public key set never touches the private key file.
    env = verifier_env | {"CURBSIDE_AUDIT_CHECKPOINT_KEY_FILE": str(tmp_path / "not-here.pem")}
    assert hub_cli(env, "audit", "verify").exit_code == 0


def test_checkpoint_signed_with_the_secret_key_is_not_trusted_once_a_public_key_is_set(
    db: Database, verifier_env: dict[str, str]
) -> None:
    """A serving host holds the secret key: a checkpoint it could sign proves nothing."""
    fill(db, 3)
    hmac_env = {k: v for k, v in verifier_env.items() if k != "CURBSIDE_AUDIT_CHECKPOINT_PUBLIC_KEY_FILE"}
    assert hub_cli(hmac_env, "audit", "checkpoint").exit_code == 0  # HMAC, derived from the secret key
    result = hub_cli(verifier_env, "audit", "verify")
    assert result.exit_code == 1
    assert "is signed by an unknown hmac-sha256 key" in result.output


def test_keygen_private_key_is_0600_and_the_printed_jwk_verifies(
    db: Database, worker_hub: Hub, verifier_env: dict[str, str], keypair: KeyPair, tmp_path: Path
) -> None:
    assert stat.S_IMODE(keypair.private.stat().st_mode) == 0o600
    assert keypair.jwk["kty"] == "OKP" and keypair.jwk["crv"] == "Ed25519" and "d" not in keypair.jwk
    jwk_file = tmp_path / "checkpoint.jwk"
    jwk_file.write_text(json.dumps(keypair.jwk))
    fill(db, 4)
    run_scheduled_jobs(worker_hub)
    env = verifier_env | {"CURBSIDE_AUDIT_CHECKPOINT_PUBLIC_KEY_FILE": str(jwk_file)}
    result = hub_cli(env, "audit", "verify")
    assert result.exit_code == 0 and "signatures verified" in result.output
    private_jwk = tmp_path / "private.jwk"
    private_jwk.write_text(json.dumps(keypair.jwk | {"d": keypair.jwk["x"]}))
    env = verifier_env | {"CURBSIDE_AUDIT_CHECKPOINT_PUBLIC_KEY_FILE": str(private_jwk)}
    refused = hub_cli(env, "audit", "verify")
    assert refused.exit_code == 2 and "holds a private key; give the public key only" in refused.output


def test_keygen_with_a_permissive_umask_still_writes_0600(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        result = CliRunner().invoke(main, ["audit", "keygen", str(tmp_path / "k.pem")])
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600
