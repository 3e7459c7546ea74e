"""``hub demo``: a hub with a demo doctor and a demo partner network, on two local ports."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

DEMO_EMAIL = "demo.doctor@curbside.test"
DEMO_PASSWORD = "demo-password-1234"  # demo data only; printed for the newcomer


def start_communities(app: Any, issuer: str, *, first_port: int) -> list[tuple[str, str]]:
    """Two reference communities as upstream networks of the hub, and an in-process relay.

    Artsennet: an OpenID Provider with a JSON activity API that pushes signed webhooks (and
    also serves the demo relying party under /rp). Casus: OAuth 2.0 with ActivityStreams.
    """
    from hub.demo.community import (
        connector_config,
        create_community_app,
        new_webhook_secret,
        webhook_config,
        with_relying_party,
    )
    from hub.demo.network import create_network_app
    from hub.domain.client_metadata import validate_metadata
    from hub.links import links_for
    from hub.worker import queue_for

    hub = app.extensions["curbside"]
    queue_for(hub, immediate=True)  # no separate worker process for the demo
    links = links_for(hub)
    started = []
    specs = [("artsennet", "Artsennet", "oidc", True), ("casus", "Casus", "activitystreams", False)]
    for offset, (name, display, kind, pushes) in enumerate(specs):
        port = first_port + offset
        base = f"http://localhost:{port}"
        client_secret = secrets.token_urlsafe(24)
        whsec = new_webhook_secret() if pushes else None
        community = create_community_app(
            name=display, base_url=base, client_id="curbside", client_secret=client_secret,
            redirect_uris=[f"{issuer}/links/callback"],
            webhook_url=f"{issuer}/links/webhooks/{name}" if pushes else None,
            webhook_secret=whsec)
        links.networks.add(name, kind, connector_config(base, kind=kind, client_id="curbside",
                                                        client_secret=client_secret),
                           display_name=display, webhook=webhook_config(whsec) if whsec else None,
                           poll_interval=10)
        wsgi: Any = community
        if pushes:  # this community is also a relying party of the hub
            rp_id = f"demo-{name}"
            if hub.clients.get(rp_id) is None:
                hub.clients.create(validate_metadata({
                    "client_name": display, "redirect_uris": [f"{base}/rp/callback"],
                    "post_logout_redirect_uris": [f"{base}/rp/"]}), client_id=rp_id)
            rp = create_network_app(name=f"{display} (signs in with Curbside)", issuer=issuer,
                                    client_id=rp_id, client_secret=hub.clients.rotate_secret(rp_id),
                                    base_url=f"{base}/rp")
            wsgi = with_relying_party(community, rp)
        server = make_server("localhost", port, wsgi, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append((display, base))

    def relay_loop() -> None:
        while True:
            try:
                links.relay.run_due(budget=20)
                links.relay.purge(hub.settings.feed_retention_days)
            except Exception:  # noqa: BLE001 - keep the demo relay alive
                logging.getLogger("hub.demo").exception("relay round failed")
            time.sleep(3)

    threading.Thread(target=relay_loop, daemon=True).start()
    return started


def run_demo(*, port: int, network_port: int, instance: str) -> None:
    from hub import create_app
    from hub.persistence.schema import upgrade
    from hub.settings import Settings

    Path(instance).mkdir(parents=True, exist_ok=True)
    issuer = f"http://127.0.0.1:{port}"
    network_url = f"http://localhost:{network_port}"
    settings = Settings.from_env(
        # The demo's partner networks run on this machine: the hub may call them.
        issuer=issuer, insecure_transport=True, outbound_allow_local=True, instance_dir=instance,
        database_url=f"sqlite:///{Path(instance).resolve()}/hub.db")
    app = create_app(settings)
    hub = app.extensions["curbside"]
    upgrade(hub.db)
    hub.keys.ensure()
    if hub.accounts.by_email(DEMO_EMAIL) is None:
        hub.accounts.create(email=DEMO_EMAIL, password=DEMO_PASSWORD, given_name="Anna",
                            family_name="de Vries", locale="nl-NL", email_verified=True)
    client_id = "demo-network"
    if hub.clients.get(client_id) is None:
        from hub.domain.client_metadata import validate_metadata

        hub.clients.create(validate_metadata({
            "client_name": "Demo Doctors Forum",
            "redirect_uris": [f"{network_url}/callback"],
            "post_logout_redirect_uris": [f"{network_url}/"],
        }), client_id=client_id)
    secret = hub.clients.rotate_secret(client_id)

    from hub.demo.network import create_network_app

    network = create_network_app(name="Demo Doctors Forum", issuer=issuer, client_id=client_id,
                                 client_secret=secret, base_url=network_url)
    hub_server = make_server("127.0.0.1", port, app, threaded=True)
    net_server = make_server("localhost", network_port, network, threaded=True)
    threading.Thread(target=net_server.serve_forever, daemon=True).start()
    communities = start_communities(app, issuer, first_port=network_port + 1)
    listing = "\n".join(f"  {name + ':':<29} {url}/" for name, url in communities)
    print(f"""
Curbside demo is running.

  Partner network (start here): {network_url}/
  Hub (OpenID Provider):        {issuer}/   discovery: {issuer}/.well-known/openid-configuration
  Your linked networks:         {issuer}/account/links   merged feed: {issuer}/feed

Communities (upstream sign-in, activity, webhooks; link them from your account page,
then write a post there and watch it arrive in your Curbside feed):
{listing}

  Demo doctor:  {DEMO_EMAIL}
  Password:     {DEMO_PASSWORD}

Press Ctrl+C to stop.
""", flush=True)
    try:
        hub_server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        net_server.shutdown()
