"""``hub audit ...``: verify the chain, export a range, write a checkpoint, erase data.

The main CLI registers :data:`audit` and puts an object with ``.db`` (a ``hub.db.Database``)
and ``.settings`` in ``ctx.obj``. Exit codes: 0 fine, 1 the chain is broken (verify,
checkpoint), 2 bad input (click's usage errors), 3 the database could not be used.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from hub.audit.checkpoint import ChainBrokenError, write_checkpoint
from hub.audit.erasure import erase_older_than, erase_subject
from hub.audit.errors import AuditRangeError, CheckpointKeyError
from hub.audit.events import AuditEvent
from hub.audit.export import FORMATS, export, parse_range
from hub.audit.keys import CheckpointKey, Ed25519CheckpointKey, HmacCheckpointKey
from hub.audit.log import append
from hub.audit.verify import verify_chain
from hub.db import Database

CLI_ACTOR = "cli"


class DatabaseUnavailable(click.ClickException):
    exit_code = 3


def _db(ctx: click.Context) -> Database:
    db = getattr(ctx.obj, "db", None)
    if not isinstance(db, Database):
        raise click.UsageError("the audit commands need the hub's database (run them as `hub audit`)")
    return db


def _settings(ctx: click.Context) -> Any:
    return getattr(ctx.obj, "settings", None)


def _load_key(ctx: click.Context, key_file: Path | None, *, must_sign: bool) -> CheckpointKey | None:
    """--key-file (Ed25519 PEM), else settings.audit_checkpoint_key_file, else an HMAC key
    derived from settings.secret_key; None when there is nothing to use."""
    settings = _settings(ctx)
    path = key_file or (Path(p) if (p := getattr(settings, "audit_checkpoint_key_file", "")) else None)
    try:
        if path is not None:
            try:
                key: CheckpointKey = Ed25519CheckpointKey.from_pem(path.read_bytes())
            except OSError as exc:
                raise click.UsageError(f"cannot read the key file {path}: {exc.strerror}") from None
            if must_sign and not getattr(key, "can_sign", True):
                raise click.UsageError(f"{path} holds a public key; signing needs the private key")
            return key
        secret = getattr(settings, "secret_key", "")
        return HmacCheckpointKey.derive(secret) if secret else None
    except CheckpointKeyError as exc:
        raise click.UsageError(str(exc)) from None


def _range(start: str | None, end: str | None) -> None:
    try:
        parse_range(start, end)
    except AuditRangeError as exc:
        raise click.UsageError(str(exc)) from None


def _records(n: int) -> str:
    return f"{n} record" if n == 1 else f"{n} records"


@click.group("audit")
def audit() -> None:
    """The tamper-evident audit log."""


KEY_FILE = click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Ed25519 key (PEM). Default: the configured key, else one derived from the secret key.",
)


@audit.command("verify")
@KEY_FILE
@click.pass_context
def verify_cmd(ctx: click.Context, key_file: Path | None) -> None:
    """Walk the chain; exit 1 and name the first bad record if it was tampered with."""
    db = _db(ctx)
    key = _load_key(ctx, key_file, must_sign=False)
    try:
        report = verify_chain(db, verify_key=key)
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"cannot read the audit log: {exc.__class__.__name__}") from None
    click.echo(str(report))
    ctx.exit(0 if report.ok else 1)


@audit.command("export")
@click.option("--from", "start", metavar="ISO8601", help="First instant (inclusive), UTC if no offset.")
@click.option("--to", "end", metavar="ISO8601", help="End instant (exclusive), UTC if no offset.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="jsonl", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="File; default stdout.")
@click.pass_context
def export_cmd(ctx: click.Context, start: str | None, end: str | None, fmt: str, output: Path | None) -> None:
    """Export records of a time range as JSON Lines or CSV (streamed)."""
    db = _db(ctx)
    _range(start, end)  # before the output file is created
    try:
        if output is None:
            count = export(db, start, end, fmt, sys.stdout)
        else:
            with output.open("w", encoding="utf-8", newline="") as out:
                count = export(db, start, end, fmt, out)
        # Exports carry personal data, so who exported what is itself audited.
        append(
            db,
            AuditEvent.AUDIT_LOG_EXPORT,
            actor=CLI_ACTOR,
            detail={"from": start, "to": end, "format": fmt, "records": count},
        )
    except OSError as exc:
        raise click.UsageError(f"cannot write {output}: {exc.strerror}") from None
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"cannot read the audit log: {exc.__class__.__name__}") from None
    click.echo(f"exported {_records(count)}", err=True)


@audit.command("checkpoint")
@KEY_FILE
@click.pass_context
def checkpoint_cmd(ctx: click.Context, key_file: Path | None) -> None:
    """Verify the records since the last checkpoint, then sign the newest one.

    Prints the checkpoint as one JSON line: ship it somewhere outside the database too.
    """
    db = _db(ctx)
    key = _load_key(ctx, key_file, must_sign=True)
    if key is None:
        raise click.UsageError("no checkpoint key: pass --key-file or configure the secret key")
    try:
        cp = write_checkpoint(db, key)
    except ChainBrokenError as exc:
        click.echo(str(exc), err=True)
        ctx.exit(1)
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"cannot write the checkpoint: {exc.__class__.__name__}") from None
    if cp is None:
        click.echo("the audit log is empty; no checkpoint written", err=True)
        return
    click.echo(json.dumps(cp.as_dict(), sort_keys=True))


@audit.command("erase")
@click.option("--subject", required=True, help="The doctor's account id.")
@click.pass_context
def erase_cmd(ctx: click.Context, subject: str) -> None:
    """Erase a doctor's personal data from the audit log (the chain stays verifiable)."""
    try:
        result = erase_subject(_db(ctx), subject, actor=CLI_ACTOR)
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"cannot erase: {exc.__class__.__name__}") from None
    click.echo(f"erased personal data of {_records(result.records)} (pseudonym {result.pseudonym})")


@audit.command("expire")
@click.option("--days", required=True, type=click.IntRange(min=0), help="Keep this many days.")
@click.pass_context
def expire_cmd(ctx: click.Context, days: int) -> None:
    """Retention: erase personal data of records older than --days."""
    try:
        count = erase_older_than(_db(ctx), days, actor=CLI_ACTOR)
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"cannot expire: {exc.__class__.__name__}") from None
    click.echo(f"erased personal data of {_records(count)} older than {days} days")


@audit.command("keygen")
@click.argument("private_file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("public_file", type=click.Path(dir_okay=False, path_type=Path))
def keygen_cmd(private_file: Path, public_file: Path) -> None:
    """Create an Ed25519 checkpoint key pair (the public half is for auditors)."""
    for path in (private_file, public_file):
        if path.exists():
            raise click.UsageError(f"{path} exists; refusing to overwrite a key")
    key = Ed25519CheckpointKey.generate()
    try:
        private_file.touch(mode=0o600)
        private_file.write_bytes(key.private_pem())
        public_file.write_bytes(key.public_pem())
    except OSError as exc:
        raise click.UsageError(f"cannot write the key: {exc.strerror}") from None
    click.echo(f"key id {key.key_id}")
