"""``hub networks add/list`` and ``hub worker``."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from connectors import registry
from connectors.errors import ConfigError
from hub.audit.events import register_event
from hub.cli_choices import RegistryChoice

register_event("admin:network:add")


def _hub() -> Any:
    from hub.cli import Context

    ctx = click.get_current_context().find_object(Context)
    assert ctx is not None
    return ctx.hub


@click.group()
def networks() -> None:
    """Partner networks the hub links doctors' accounts to (connectors)."""


@networks.command("add")
@click.argument("name")
@click.option("--kind", required=True,
              type=RegistryChoice(lambda: registry.KINDS))
@click.option("--config", "config_path", required=True, type=click.File("r"),
              help="JSON or YAML file with the connector config ('-' for standard input).")
@click.option("--webhook", "webhook_path", type=click.File("r"),
              help="JSON or YAML file with a Standard Webhooks receiver config.")
@click.option("--display-name", default="")
@click.option("--signin/--no-signin", default=None,
              help="Allow brokered sign-in with proven links (default: the kind's own, "
                   "e.g. yes for oidc).")
@click.option("--poll-interval", default=300, type=int, help="Seconds between pulls.")
@click.option("--rate-per-minute", default=60, type=int)
def networks_add(name: str, kind: str, config_path: Any, webhook_path: Any, display_name: str,
                 signin: bool | None, poll_interval: int, rate_per_minute: int) -> None:
    """Add or replace a network. The config is validated now; secrets are stored encrypted."""
    import yaml  # type: ignore[import-untyped]

    config = yaml.safe_load(config_path.read())
    webhook = yaml.safe_load(webhook_path.read()) if webhook_path else None
    from hub.links import links_for

    try:
        links_for(_hub()).networks.add(name, kind, config or {}, display_name=display_name,
                                       webhook=webhook, signin=signin,
                                       poll_interval=poll_interval,
                                       rate_per_minute=rate_per_minute)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    _hub().audit_event("admin:network:add", actor="cli", network=name, kind=kind)
    click.echo(json.dumps({"network": name, "kind": kind}))


@networks.command("list")
def networks_list() -> None:
    """Show networks, their kind and how many doctors linked them."""
    from sqlalchemy import func, select

    from hub.links import links_for
    from hub.persistence.models.links import AccountLink

    hub = _hub()
    with hub.db.session() as s:
        counts = dict(s.execute(select(AccountLink.network, func.count()).where(
            AccountLink.state == "active").group_by(AccountLink.network)).all())
    for n in links_for(hub).networks.all():
        flags = ",".join(f for f, on in (("enabled", n.enabled), ("signin", n.signin),
                                         ("webhooks", n.receiver is not None)) if on)
        click.echo(f"{n.name}\t{n.kind}\t{counts.get(n.name, 0)} linked\t{flags}\t"
                   f"{n.display_name}")
    sys.stdout.flush()


@click.command()
@click.option("--workers", default=4, type=int, help="Worker threads.")
def worker(workers: int) -> None:
    """Run the background queue (feed relay, deliveries) until interrupted."""
    from hub.worker import run_worker

    run_worker(workers=workers, hub=_hub())
