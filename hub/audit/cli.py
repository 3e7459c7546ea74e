"""``hub audit ...``: verify the chain, export a range, write a checkpoint, erase data.

The main CLI registers :data:`audit` and puts an object with ``.db`` (a ``hub.db.Database``)
and ``.settings`` in ``ctx.obj``. Exit codes: 0 fine, 1 the chain is broken (verify,
checkpoint), 2 bad input (click's usage errors), 3 the database could not be used.
"""

from __future__ import annotations

import json
import os
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
from hub.audit.keyconfig import PRIVATE_SETTING, load_private_key_file, signing_key, verification_keys
from hub.audit.keys import CheckpointKey, Ed25519CheckpointKey
from hub.audit.log import append
from hub.audit.shipped import ShippedCheckpointError, checkpoint_line, read_shipped
from hub.audit.verify import verify_chain
from hub.persistence.db import Database

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
    """The writer's key: --key-file (Ed25519 private PEM), else the configured one
    (hub.audit.keyconfig.signing_key); None when there is nothing to sign with."""
    settings = _settings(ctx)
    try:
        if key_file is not None:
            return load_private_key_file(key_file) if must_sign else _any_key_file(key_file)
        return signing_key(settings, getattr(settings, "secret_key", ""))
    except CheckpointKeyError as exc:
        raise click.UsageError(str(exc)) from None


def _any_key_file(path: Path) -> CheckpointKey:
    """For verifying: a public key (PEM or JWK) or a private PEM (its public half is used)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointKeyError(f"cannot read the key file {path}: {exc.strerror}") from None
    if b"PRIVATE KEY" in data:
        return Ed25519CheckpointKey.from_pem(data)
    return Ed25519CheckpointKey.public_from_file_bytes(data)


def _verify_keys(ctx: click.Context, key_file: Path | None) -> list[CheckpointKey] | None:
    settings = _settings(ctx)
    try:
        if key_file is not None:
            return [_any_key_file(key_file)]
        return verification_keys(settings, getattr(settings, "secret_key", ""))
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
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Ed25519 public key (PEM or JWK). Default: the configured public keys, else the key file, "
    "else one derived from the secret key.",
)
@click.option(
    "--against",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Checkpoints shipped outside the database (JSON lines): catches records deleted "
    "together with their checkpoint rows.",
)
@click.pass_context
def verify_cmd(ctx: click.Context, key_file: Path | None, against: Path | None) -> None:
    """Walk the chain; exit 1 and name the first bad record if it was tampered with."""
    db = _db(ctx)
    keys = _verify_keys(ctx, key_file)
    try:
        shipped = read_shipped(against) if against is not None else None
    except ShippedCheckpointError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        report = verify_chain(db, verify_key=keys, shipped=shipped)
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
        raise click.UsageError(f"no checkpoint key: pass --key-file or set {PRIVATE_SETTING}")
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
    click.echo(checkpoint_line(cp))


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
@click.argument("public_file", type=click.Path(dir_okay=False, path_type=Path), required=False)
def keygen_cmd(private_file: Path, public_file: Path | None) -> None:
    """Create an Ed25519 checkpoint key pair; print the public key as a JWK.

    PRIVATE_FILE (mode 0600) belongs on the checkpoint writer's host only
    (CURBSIDE_AUDIT_CHECKPOINT_KEY_FILE); the public half (PUBLIC_FILE as PEM, or the JWK
    printed) goes to every verifier (CURBSIDE_AUDIT_CHECKPOINT_PUBLIC_KEY_FILE).
    """
    for path in (private_file, public_file):
        if path is not None and path.exists():
            raise click.UsageError(f"{path} exists; refusing to overwrite a key")
    key = Ed25519CheckpointKey.generate()
    try:
        # O_EXCL: never write a private key into a file someone else created (or a symlink).
        fd = os.open(private_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), 0o600)  # whatever the umask
            out.write(key.private_pem())
        if public_file is not None:
            public_file.write_bytes(key.public_pem())
    except OSError as exc:
        raise click.UsageError(f"cannot write the key: {exc.strerror}") from None
    click.echo(json.dumps(key.public_jwk(), sort_keys=True))
    click.echo(f"key id {key.key_id}", err=True)
