"""``hub demo``: a hub with a demo doctor and a demo partner network, on two local ports."""

from __future__ import annotations

import threading
from pathlib import Path

from werkzeug.serving import make_server

DEMO_EMAIL = "demo.doctor@curbside.test"
DEMO_PASSWORD = "demo-password-1234"  # demo data only; printed for the newcomer


def run_demo(*, port: int, network_port: int, instance: str) -> None:
    from hub import create_app
    from hub.schema import upgrade
    from hub.settings import Settings

    Path(instance).mkdir(parents=True, exist_ok=True)
    issuer = f"http://127.0.0.1:{port}"
    network_url = f"http://localhost:{network_port}"
    settings = Settings.from_env(
        issuer=issuer, insecure_transport=True, instance_dir=instance,
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
        from hub.oidc.registration import validate_metadata

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
    print(f"""
Curbside demo is running.

  Partner network (start here): {network_url}/
  Hub (OpenID Provider):        {issuer}/   discovery: {issuer}/.well-known/openid-configuration

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
