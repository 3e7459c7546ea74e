"""``hub client create``, ``hub client policy set|show``, ``hub client initial-token``, ``hub client list``,
``hub client operator create``, ``hub logout-worker`` and ``hub logout list|retry|give-up``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from hub.audit.detail import looks_like_token
from hub.cli_context import Context, pass_ctx


@click.group("policy")
def policy() -> None:
    """A client's access and claim-release policy (versioned; see docs/policies.md)."""


@policy.command("set")
@click.argument("client_id")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def policy_set(c: Context, client_id: str, file: Path) -> None:
    """Validate FILE (YAML or JSON) and make it the client's policy in force."""
    from hub.relying.policy import store
    from policies import PolicyError

    try:
        stored = store(c.hub).set(client_id, file.read_bytes(), actor="cli",
                                  format="json" if file.suffix == ".json" else "yaml")
    except PolicyError as e:
        for problem in e.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(f"policy refused: {e.path}") from None
    except LookupError:
        raise click.ClickException(f"no client {client_id!r}") from None
    click.echo(f"policy version {stored.version} in force for {client_id} ({stored.digest})")


@policy.command("show")
@click.argument("client_id")
@click.option("--history", is_flag=True, help="every version, newest first")
@pass_ctx
def policy_show(c: Context, client_id: str, history: bool) -> None:
    from hub.relying.policy import store

    ps = store(c.hub)
    rows = ps.history(client_id) if history else [p for p in [ps.current(client_id)] if p]
    if not rows:
        raise click.ClickException(f"no policy for {client_id!r} (it admits every signed-in doctor)")
    for p in rows:
        json.dump({"version": p.version, "digest": p.digest, "created_at": p.created_at.isoformat(),
                   "created_by": p.created_by, "document": p.policy.to_document()},
                  sys.stdout, indent=2)
        click.echo()


@click.command("create")
@click.option("--name", required=True, help="Shown to doctors on the consent page.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Repeat for each.")
@click.option("--post-logout-redirect-uri", "post_logout", multiple=True, help="Repeat for each.")
@click.option("--grant-type", "grant_types", multiple=True,
              type=click.Choice(["authorization_code", "refresh_token", "client_credentials"]))
@click.option("--token-endpoint-auth-method", "auth_method", default=None,
              type=click.Choice(["client_secret_basic", "client_secret_post", "none"]),
              help="none: a public client (no secret; PKCE only).  [default: client_secret_basic]")
@click.option("--public", is_flag=True, help="Same as --token-endpoint-auth-method none.")
@click.option("--subject-type", type=click.Choice(["pairwise", "public"]), default="pairwise",
              show_default=True)
@click.option("--sector-identifier-uri", default=None,
              help="https URL of the JSON list of redirect URIs whose hosts share pairwise subjects.")
@click.option("--backchannel-logout-uri", default=None, help="Where the hub POSTs logout tokens.")
@click.option("--backchannel-logout-session-required/--no-backchannel-logout-session-required",
              default=None, help="Whether logout tokens must carry the session's sid.")
@click.option("--scope", default=None, help="Space-separated scopes the client may ask for.")
@click.option("--contact", "contacts", multiple=True, help="An email address; repeat for each.")
@click.option("--alg", type=click.Choice(["RS256", "ES256", "EdDSA", "Ed25519"]), default="RS256")
@click.option("--pending", is_flag=True, help="Create it pending an admin's approval.")
@pass_ctx
def client_create(c: Context, name: str, redirect_uris: tuple[str, ...], post_logout: tuple[str, ...],
                  grant_types: tuple[str, ...], auth_method: str | None, public: bool, subject_type: str,
                  sector_identifier_uri: str | None, backchannel_logout_uri: str | None,
                  backchannel_logout_session_required: bool | None, scope: str | None,
                  contacts: tuple[str, ...], alg: str, pending: bool) -> None:
    """Register a client and print its credentials as JSON (the secret is shown once).

    The metadata passes the checks a self-registered client's does (RFC 7591 names); the
    sector_identifier_uri document is not fetched: the administrator vouches for it.
    """
    from hub.domain.client_metadata import ClientMetadataError, strict_metadata

    if public and auth_method not in (None, "none"):
        raise click.UsageError("--public is --token-endpoint-auth-method none; give one of them")
    optional = {"grant_types": list(grant_types), "sector_identifier_uri": sector_identifier_uri,
                "backchannel_logout_uri": backchannel_logout_uri,
                "backchannel_logout_session_required": backchannel_logout_session_required,
                "scope": scope, "contacts": list(contacts)}
    md: dict[str, Any] = {
        "client_name": name,
        "redirect_uris": list(redirect_uris),
        "post_logout_redirect_uris": list(post_logout),
        "token_endpoint_auth_method": "none" if public else auth_method or "client_secret_basic",
        "subject_type": subject_type,
        "id_token_signed_response_alg": alg,
        **{k: v for k, v in optional.items() if v not in (None, [])},
    }
    try:
        md = strict_metadata(md, outbound=None, insecure_transport=c.hub.settings.insecure_transport)
    except ClientMetadataError as e:
        raise click.ClickException(f"{e.error}: {e.description}") from None
    out = c.hub.clients.create(md, status="pending" if pending else "active")
    c.hub.audit_event("client:registration:create", actor="cli", client_id=out["client_id"],
                      status="pending" if pending else "active", via="cli")
    click.echo(json.dumps(out, indent=2))


@click.command("initial-token")
@click.option("--label", default="", help="who the token is for (shown in the audit log)")
@click.option("--ttl", default=7 * 86400, show_default=True, help="seconds until it expires")
@click.option("--uses", default=1, show_default=True, help="how many clients it may register")
@click.option("--operator", default=None, help="email of the operator who will own the clients")
@click.option("--approved", is_flag=True,
              help="approve in advance: networks it registers are active at once (an invitation)")
@pass_ctx
def initial_token(c: Context, label: str, ttl: int, uses: int, operator: str | None, approved: bool) -> None:
    """Issue an RFC 7591 initial access token for POST /register (printed once).

    Without --approved the networks it registers wait for an admin's approval."""
    from hub.pages.operators import operator_id_for
    from hub.relying.invitations import issue_initial_token

    if looks_like_token(label):
        # The issue is audited with its label, and the audit log refuses token-like values
        # (hub/audit/detail.py): refused before a token exists.
        raise click.BadParameter("write it in words; it must not look like a code or a secret",
                                 param_hint="--label")
    op_id = operator_id_for(c.hub, operator) if operator else None
    if operator and op_id is None:
        raise click.ClickException(f"no operator {operator!r}")
    click.echo(issue_initial_token(c.hub, label=label, ttl=ttl, uses=uses, actor="cli", operator_id=op_id,
                                   approved=approved))


@click.command("list")
@pass_ctx
def client_list(c: Context) -> None:
    """Every client: id, status and name, tab-separated; pending ones await an admin."""
    for client in sorted(c.hub.clients.all(), key=lambda cl: (cl.status != "pending", cl.name)):
        # A client changed by RFC 7592 since its approval is pending again (docs/decisions.md).
        note = "\tawaits approval in the admin console" if client.status == "pending" else ""
        click.echo(f"{client.client_id}\t{client.status}\t{client.name}{note}")


@click.group("operator")
def operator() -> None:
    """Partner network operators (portal at /operator; password and TOTP)."""


@operator.command("create")
@click.argument("email")
@pass_ctx
def operator_create(c: Context, email: str) -> None:
    """Create an operator; prints the otpauth:// URI for their authenticator app."""
    import getpass

    from hub.pages.operators import create_operator

    password = getpass.getpass("Password (12+ characters): ")
    try:
        op_id, uri = create_operator(c.hub, email, password)
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"operator {op_id}\nadd to the authenticator app: {uri}")


# ``hub client ...`` subcommands (hub/cli.py adds them to its client group).
CLIENT_COMMANDS = (client_create, policy, initial_token, client_list, operator)


@click.command("logout-worker")
@click.option("--interval", default=1.0, show_default=True, help="seconds between passes")
@click.option("--once", is_flag=True, help="one pass over the due deliveries, then exit")
@pass_ctx
def worker(c: Context, interval: float, once: bool) -> None:
    """Deliver queued back-channel logouts (retries with backoff; see docs/relying-parties.md)."""
    from hub.ops.logging import configure as configure_logging
    from hub.relying import backchannel

    hub = c.hub
    configure_logging(hub.settings)
    backchannel.run_worker(hub, interval=interval, once=once)


@click.group("logout")
def logout() -> None:
    """Back-channel logout deliveries to partner networks (docs/operator-guide.md)."""


@logout.command("list")
@click.option("--status", type=click.Choice(["failed", "pending", "delivered"]), default=None)
@click.option("--client", "client_id", default=None, help="only this client's deliveries")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 10000))
@pass_ctx
def logout_list(c: Context, status: str | None, client_id: str | None, limit: int) -> None:
    """Deliveries newest first: id, client, status, attempts, next attempt, last error."""
    from hub.relying import backchannel

    for d in backchannel.list_deliveries(c.hub.db, status=status, client_id=client_id, limit=limit):
        when = d["next_attempt_at"].isoformat(timespec="seconds") if d["next_attempt_at"] else "-"
        click.echo(f"{d['id']}\t{d['client_id']}\t{d['status']}\t{d['attempts']}\t{when}\t"
                   f"{d['last_error'] or ''}")


@logout.command("retry")
@click.argument("delivery_ids", nargs=-1, type=int)
@click.option("--client", "client_id", default=None, help="every failed delivery of this client")
@click.option("--all-failed", is_flag=True, help="every failed delivery")
@pass_ctx
def logout_retry(c: Context, delivery_ids: tuple[int, ...], client_id: str | None, all_failed: bool) -> None:
    """Queue failed deliveries again, due now, with a fresh attempt budget (audited)."""
    from hub.relying import backchannel

    if sum([bool(delivery_ids), client_id is not None, all_failed]) != 1:
        raise click.UsageError("give delivery ids, --client ID or --all-failed (one of them)")
    if client_id is not None and c.hub.clients.get(client_id) is None:
        raise click.ClickException(f"no client {client_id!r}")
    try:
        ids = backchannel.retry(c.hub, ids=list(delivery_ids) or None, client_id=client_id,
                                all_failed=all_failed, actor="cli")
    except (LookupError, ValueError) as e:
        raise click.ClickException(str(e).strip("'\"")) from None
    click.echo(f"{len(ids)} deliveries queued again" + (f": {', '.join(map(str, ids))}" if ids else ""))


@logout.command("give-up")
@click.argument("delivery_id", type=int)
@pass_ctx
def logout_give_up(c: Context, delivery_id: int) -> None:
    """Stop retrying a pending delivery; it is marked failed (audited)."""
    from hub.relying import backchannel

    try:
        backchannel.give_up(c.hub, delivery_id, actor="cli")
    except (LookupError, ValueError) as e:
        raise click.ClickException(str(e).strip("'\"")) from None
    click.echo(f"delivery {delivery_id} given up")
