"""The ``hub`` command: schema, accounts, clients, keys, serving and the demo."""

from __future__ import annotations

import getpass
import json
import sys
from typing import Any

import click

from hub.admin.cli import admin
from hub.audit.cli import audit
from hub.cli_context import Context, pass_ctx
from hub.federation_cli import federation
from hub.links import cli as links_cli
from hub.relying import cli as relying_cli
from hub.verification.cli import registers


class HubGroup(click.Group):
    """Every command's failed start-up check, and an unreachable database or store, ends
    the command with one line and a non-zero exit, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from hub.domain.crypto import KeyEncryptionKeysError
        from hub.ops.outage import outage_part
        from hub.ops.startup import StartupError, unreachable

        try:
            return super().invoke(ctx)
        except (StartupError, KeyEncryptionKeysError) as e:
            raise click.ClickException(str(e)) from None
        except Exception as e:
            if outage_part(e) is None:
                raise
            hub = ctx.obj._hub if isinstance(ctx.obj, Context) else None
            url = hub.settings.database_url if hub else ""
            raise click.ClickException(unreachable(url, e)) from None


@click.group(cls=HubGroup)
@click.pass_context
def main(ctx: click.Context) -> None:
    """Curbside hub: an OpenID Provider for doctors. Settings come from CURBSIDE_* variables."""
    ctx.obj = Context()
    ctx.call_on_close(lambda: _release(ctx.obj))


def _release(c: Context) -> None:
    """Close the command's database connections when it ends, failed or not, instead of
    whenever the garbage collector finds the hub (a PostgreSQL slot held meanwhile)."""
    if c._hub is not None:
        c._hub.db.engine.dispose()


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(c: Context) -> None:
    """Create or migrate the schema to the latest version."""
    from hub.ops.startup import check_signing_keys
    from hub.persistence.schema import upgrade

    upgrade(c.db)
    c.hub.keys.ensure()
    check_signing_keys(c.hub)  # a wrong key-encryption key is found now, not at a sign-in
    click.echo("schema is up to date; signing keys ready")


@main.group()
def doctor() -> None:
    """Doctor accounts."""


@doctor.command("create")
@click.option("--email", required=True)
@click.option("--given-name", default="")
@click.option("--family-name", default="")
@click.option("--locale", default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_ctx
def doctor_create(c: Context, email: str, given_name: str, family_name: str, locale: str | None,
                  password_stdin: bool) -> None:
    """Create a doctor account (the password is prompted for, never an argument)."""
    from hub.domain.accounts import AccountError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
    try:
        d = c.hub.accounts.create(email=email, password=password, given_name=given_name,
                                  family_name=family_name, locale=locale)
    except AccountError as e:
        raise click.ClickException(str(e)) from None
    click.echo(json.dumps({"id": d.id, "email": d.email}))


@main.group()
def client() -> None:
    """Relying parties (partner networks)."""


@client.command("subject-map")
@click.argument("client_id")
@pass_ctx
def client_subject_map(c: Context, client_id: str) -> None:
    """Print 'previous_sub,sub' (CSV) for every doctor known to a public-subject client.

    Until 2026-12 a public sub was the doctor's account id; the network re-keys its
    accounts with this list once (docs/relying-parties.md).
    """
    from sqlalchemy import select, union

    from hub.persistence.models.grants import Consent, Grant

    found = c.hub.clients.get(client_id)
    if found is None:
        raise click.ClickException(f"no client {client_id!r}")
    if found.subject_type != "public":
        raise click.ClickException("the client has pairwise subjects; they did not change")
    with c.db.session() as s:
        doctors = sorted(s.scalars(union(
            select(Consent.doctor_id).where(Consent.client_id == found.client_id),
            select(Grant.doctor_id).where(Grant.client_id == found.client_id))))
    click.echo("previous_sub,sub")
    for doctor_id in doctors:
        click.echo(f"{doctor_id},{c.hub.subject(doctor_id, found)}")


@main.group()
def keys() -> None:
    """Signing keys."""


# A next key reaches relying parties' caches within the JWKS max-age after every hub
# process reloaded its keys; a minute on top covers clocks and slow fetches.
ROTATION_MARGIN = 60


@keys.command("rotate")
@click.option("--force", is_flag=True,
              help="Rotate even though relying parties may not have fetched the next key yet.")
@pass_ctx
def keys_rotate(c: Context, force: bool) -> None:
    """Start signing with the published next key; publish a new next key.

    Refused until the next key has been published for the JWKS cache lifetime plus a
    margin: a relying party with a cached JWKS could not validate what it signs before.
    """
    from hub.domain.keys import RELOAD_EVERY, RotationTooSoon
    from hub.protocol.discovery import JWKS_MAX_AGE

    wait = 0 if force else JWKS_MAX_AGE + RELOAD_EVERY + ROTATION_MARGIN
    try:
        promoted = c.hub.keys.rotate(published_for=wait)
    except RotationTooSoon as e:
        raise click.ClickException(
            f"the next signing key was published less than {wait:.0f} s ago and relying "
            f"parties may not have it yet; rotate {e} (or now with --force, breaking ID "
            "token validation at relying parties with a cached JWKS)") from None
    c.hub.audit_event("keys:signing:rotate", actor="cli", algs=sorted(promoted))
    click.echo(json.dumps({"signing": promoted}))


@keys.command("list")
@pass_ctx
def keys_list(c: Context) -> None:
    """Show published keys and their state."""
    from sqlalchemy import select

    from hub.persistence.models.keys import SigningKey

    with c.db.session() as s:
        for k in s.scalars(select(SigningKey).order_by(SigningKey.created_at)):
            click.echo(f"{k.kid}\t{k.alg}\t{k.state}\t{k.created_at:%Y-%m-%d %H:%M}")


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.option("--workers", default=2, type=int)
@pass_ctx
def serve(c: Context, host: str, port: int, workers: int) -> None:
    """Serve the hub under gunicorn."""
    from hub.ops.startup import check_before_serving
    from hub.server import run_gunicorn

    check_before_serving(c.hub)  # here as a plain message; each worker checks again
    c.hub.db.engine.dispose()  # the workers open their own; none is held open across fork
    run_gunicorn(f"{host}:{port}", workers=workers)


@main.command()
@click.option("--port", default=5000, type=int)
@click.option("--network-port", default=5001, type=int,
              help="The demo partner network's port; the demo also uses the next four.")
@click.option("--instance", default="instance/demo", help="Where the demo keeps its data.")
def demo(port: int, network_port: int, instance: str) -> None:
    """Run the hub with demo data, partner networks, communities and a small federation to
    click through; prints every address and demo sign-in."""
    from hub.demo.run import run_demo

    run_demo(port=port, network_port=network_port, instance=instance)


main.add_command(audit)
main.add_command(admin)
main.add_command(registers)
main.add_command(relying_cli.worker)
main.add_command(relying_cli.logout)
main.add_command(links_cli.networks)
main.add_command(links_cli.worker)
main.add_command(federation)
for _command in relying_cli.CLIENT_COMMANDS:
    client.add_command(_command)


if __name__ == "__main__":
    main()
