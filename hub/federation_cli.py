"""``hub federation``: the hub as trust anchor and trust-mark issuer (docs/federation.md).

Enrol a network as a subordinate with a metadata policy, list and remove subordinates,
issue and revoke trust marks, and show a network's resolved trust chain or why it fails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from federation import FederationError
from hub.cli_context import Context, pass_ctx
from hub.domain.federation import Federation
from hub.domain.federation_authority import FederationAuthority


def _federation(c: Context) -> Federation:
    return c.hub.federation  # type: ignore[no-any-return]


def _authority(c: Context) -> FederationAuthority:
    return FederationAuthority(_federation(c))


def _json_file(path: str | None, what: str) -> Any:
    if path is None:
        return None
    try:
        value = json.loads(Path(path).read_text())
    except OSError as e:
        raise click.ClickException(f"cannot read {what} file {path}: {e.strerror}") from None
    except ValueError as e:
        raise click.ClickException(f"{what} file {path} is not JSON: {e}") from None
    if not isinstance(value, dict):
        raise click.ClickException(f"{what} file {path} must hold a JSON object")
    return value


def _out(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


@click.group()
def federation() -> None:
    """The hub as trust anchor and trust-mark issuer (OpenID Federation 1.0)."""


@federation.command("enrol")
@click.argument("entity_id")
@click.option("--policy", "policy_file", help="JSON file: metadata_policy by entity type.")
@click.option("--jwks", "jwks_file", help="JSON file: the entity's federation JWKS "
              "(default: taken from its published entity configuration).")
@pass_ctx
def enrol(c: Context, entity_id: str, policy_file: str | None, jwks_file: str | None) -> None:
    """Vouch for ENTITY_ID as a subordinate, with a metadata policy."""
    try:
        sub = _authority(c).enrol(entity_id, metadata_policy=_json_file(policy_file, "policy"),
                                  jwks=_json_file(jwks_file, "JWKS"))
    except FederationError as e:
        raise click.ClickException(f"{e.error}: {e.description}") from None
    _out({"entity_id": sub.entity_id, "entity_types": sub.entity_types,
          "metadata_policy": sub.metadata_policy})


@federation.command("subordinates")
@click.option("--entity-type", help="Only subordinates of this entity type.")
@pass_ctx
def subordinates(c: Context, entity_type: str | None) -> None:
    """List the subordinates."""
    _out([{"entity_id": s.entity_id, "entity_types": s.entity_types,
           "metadata_policy": s.metadata_policy} for s in _authority(c).subordinates(entity_type)])


@federation.command("remove")
@click.argument("entity_id")
@pass_ctx
def remove(c: Context, entity_id: str) -> None:
    """Stop vouching for ENTITY_ID (its chains through this hub fail once they expire)."""
    if not _authority(c).remove(entity_id):
        raise click.ClickException(f"{entity_id} is not a subordinate")
    click.echo(f"removed {entity_id}")


@federation.group("trust-mark")
def trust_mark() -> None:
    """Trust marks this hub issues."""


@trust_mark.command("issue")
@click.argument("entity_id")
@click.option("--type", "trust_mark_type", required=True, help="The trust mark type URI.")
@click.option("--lifetime", type=click.IntRange(min=0), default=365 * 24 * 3600,
              show_default=True, help="Seconds; 0 for a mark that does not expire.")
@pass_ctx
def trust_mark_issue(c: Context, entity_id: str, trust_mark_type: str, lifetime: int) -> None:
    """Issue a trust mark to ENTITY_ID; prints the JWT the entity publishes."""
    try:
        click.echo(_authority(c).issue_trust_mark(entity_id, trust_mark_type, lifetime=lifetime))
    except FederationError as e:
        raise click.ClickException(f"{e.error}: {e.description}") from None


@trust_mark.command("revoke")
@click.argument("entity_id")
@click.option("--type", "trust_mark_type", required=True, help="The trust mark type URI.")
@pass_ctx
def trust_mark_revoke(c: Context, entity_id: str, trust_mark_type: str) -> None:
    """Revoke ENTITY_ID's trust marks of a type (the status endpoint answers 'revoked')."""
    n = _authority(c).revoke_trust_marks(entity_id, trust_mark_type)
    if not n:
        raise click.ClickException(f"{entity_id} holds no active {trust_mark_type} trust mark")
    click.echo(f"revoked {n} trust mark(s)")


@trust_mark.command("list")
@pass_ctx
def trust_mark_list(c: Context) -> None:
    """Every trust mark issued, with its state."""
    _out(_authority(c).trust_marks())


@federation.command("chain")
@click.argument("entity_id")
@click.option("--anchor", help="Resolve to this trust anchor only.")
@pass_ctx
def chain(c: Context, entity_id: str, anchor: str | None) -> None:
    """Show ENTITY_ID's resolved trust chain, or the reason it fails (exit status 1)."""
    result = _authority(c).show_chain(entity_id, anchor)
    _out(result)
    if not result["resolved"]:
        raise SystemExit(1)
