"""``hub admin ...``: create, list and disable console accounts (the first admin comes from here)."""

from __future__ import annotations

import getpass
import json
import sys
from typing import Any

import click

from hub.persistence.models.admin import ROLES


def _accounts(ctx: click.Context) -> Any:
    from hub.admin.accounts import AdminAccounts

    h = ctx.obj.hub
    return AdminAccounts(h.db, h.secrets, h.accounts.passwords)


@click.group("admin")
def admin() -> None:
    """Admin console accounts (roles: auditor, verifier, admin)."""


@admin.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def create(ctx: click.Context, email: str, role: str, password_stdin: bool) -> None:
    """Create an admin; the password is read from stdin or prompted for, never an argument.

    Prints the admin's TOTP secret and otpauth URI once: hand them to the admin with the
    password, over a channel you trust. The console signs in only with codes from it.
    """
    from hub.admin.accounts import AdminAccountError
    from hub.audit import append

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise click.ClickException("the passwords differ")
    accounts = _accounts(ctx)
    try:
        account = accounts.create(email=email, password=password, role=role)
    except AdminAccountError as e:
        raise click.ClickException(str(e)) from None
    append(ctx.obj.hub.db, "admin:role:grant", actor="cli", detail={"admin": account.id, "role": role})
    totp = _issue_totp(ctx, accounts, account)
    click.echo(json.dumps({"id": account.id, "email": account.email, "role": account.role,
                           "totp_secret": totp.secret, "otpauth_uri": totp.uri}))


def _issue_totp(ctx: click.Context, accounts: Any, account: Any) -> Any:
    from hub.audit import append

    totp = accounts.issue_totp(account)
    append(ctx.obj.hub.db, "auth:mfa:enrol", actor="cli",
           detail={"console": "admin", "admin": account.id, "issued_by": "cli"})
    return totp


@admin.command("reset-totp")
@click.option("--email", required=True)
@click.pass_context
def reset_totp(ctx: click.Context, email: str) -> None:
    """Give an admin a new TOTP secret (a lost authenticator, or an account made before
    secrets were issued at creation); the old one stops working. Prints the secret and
    otpauth URI once."""
    accounts = _accounts(ctx)
    account = accounts.by_email(email)
    if account is None:
        raise click.ClickException("no admin with this email")
    totp = _issue_totp(ctx, accounts, account)
    click.echo(json.dumps({"id": account.id, "email": account.email,
                           "totp_secret": totp.secret, "otpauth_uri": totp.uri}))


@admin.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """One line per admin: id, email, role, TOTP enrolled, disabled."""
    for a in _accounts(ctx).all():
        state = "disabled" if a.disabled else "active"
        mfa = "totp" if a.mfa_enrolled else "no-totp-yet"
        click.echo(f"{a.id}\t{a.email}\t{a.role}\t{mfa}\t{state}")


@admin.command("disable")
@click.option("--email", required=True)
@click.pass_context
def disable(ctx: click.Context, email: str) -> None:
    """Disable an admin; their console session ends at their next request."""
    accounts = _accounts(ctx)
    account = accounts.by_email(email)
    if account is None:
        raise click.ClickException("no admin with this email")
    accounts.set_disabled(account.id, True)
    from hub.audit import append

    append(ctx.obj.hub.db, "admin:account:disable", actor="cli", detail={"admin": account.id})
    click.echo(f"disabled {account.id}")
