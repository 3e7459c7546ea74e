"""``hub demo``: a hub with demo data, partner networks, communities and a small federation,
all on local ports, so a newcomer can click through everything the hub does.

Ports, from ``--port`` (the hub, 5000) and ``--network-port`` (N, 5001): the demo partner
network on N, the communities Artsennet and Casus on N+1 and N+2, the demo services (the
trust anchor, the BIG-register stand-in, the demo-only sign-in codes page) on N+3, and the
network that joins by OpenID Federation on N+4.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import threading
import time
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import click
import pyotp
from flask import Flask, render_template_string
from sqlalchemy import select
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import WSGIRequestHandler, make_server

from federation import public_jwks
from hub import create_app
from hub.demo.community import (
    connector_config,
    create_community_app,
    new_webhook_secret,
    webhook_config,
    with_relying_party,
)
from hub.demo.federated import (
    create_anchor_app,
    create_federated_network_app,
    federation_keys,
)
from hub.demo.network import create_network_app
from hub.demo.register import create_register_app, import_copy, verify_doctor
from hub.domain.client_metadata import validate_metadata
from hub.domain.crypto import new_token, sha256_hex
from hub.links import links_for
from hub.pages.operators import create_operator, operator_id_for
from hub.persistence.models.relying import OperatorAccount, RegistrationAccessToken
from hub.persistence.schema import upgrade
from hub.settings import Settings
from hub.worker import queue_for

# Demo data only; printed for the newcomer.
DEMO_EMAIL = "demo.doctor@curbside.test"
DEMO_PASSWORD = "demo-password-1234"
ADMIN_EMAIL = "demo.admin@curbside.test"
ADMIN_PASSWORD = "demo-admin-password"
OPERATOR_EMAIL = "demo.operator@curbside.test"
OPERATOR_PASSWORD = "demo-operator-password"
PHYSICIAN_SCOPE = "https://curbside.health/scopes/physician"

log = logging.getLogger("hub.demo")

# Each community its own seed posts: a doctor linked to both must not read one post twice.
COMMUNITIES = [
    ("artsennet", "Artsennet", "oidc", True, [
        ("Case: persistent cough after COVID", "Anyone seen this in <b>young</b> adults?"),
        ("Journal club: SGLT2 inhibitors", "Slides from Tuesday are up."),
        ("Locum swap on the 14th?", "Looking for a swap, <i>will return the favour</i>.")]),
    ("casus", "Casus", "activitystreams", False, [
        ("Casus: rash after amoxicillin in a 4-year-old", "Allergy or viral exanthem? Photos inside."),
        ("Guideline update: atrial fibrillation 2026", "What changed for anticoagulation."),
        ("Night shift tips for new registrars", "Share yours.")]),
]


class QuietHandler(WSGIRequestHandler):
    """Logs a request only when it failed: the relay polls the communities every few
    seconds, and a line per poll would bury the addresses the demo printed."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        status = code.value if isinstance(code, HTTPStatus) else code
        if str(status).isdigit() and int(status) >= 400 and not self.path.startswith("/favicon"):
            super().log_request(code, size)


def serve(host: str, port: int, app: Any) -> Any:
    server = make_server(host, port, app, threaded=True, request_handler=QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start_communities(app: Any, issuer: str, *, first_port: int) -> list[tuple[str, str]]:
    """Two reference communities as upstream networks of the hub, and an in-process relay.

    Artsennet: an OpenID Provider with a JSON activity API that pushes signed webhooks (and
    also serves the demo relying party under /rp). Casus: OAuth 2.0 with ActivityStreams.
    """
    hub = app.extensions["curbside"]
    queue_for(hub, immediate=True)  # no separate worker process for the demo
    links = links_for(hub)
    started = []
    for offset, (name, display, kind, pushes, posts) in enumerate(COMMUNITIES):
        port = first_port + offset
        base = f"http://localhost:{port}"
        client_secret = secrets.token_urlsafe(24)
        whsec = new_webhook_secret() if pushes else None
        community = create_community_app(
            name=display, base_url=base, client_id="curbside", client_secret=client_secret,
            redirect_uris=[f"{issuer}/links/callback"],
            webhook_url=f"{issuer}/links/webhooks/{name}" if pushes else None,
            webhook_secret=whsec, seed_posts=posts)
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
        serve("localhost", port, wsgi)
        started.append((display, base))

    def relay_loop() -> None:
        while True:
            try:
                links.relay.run_due(budget=20)
                links.relay.purge(hub.settings.feed_retention_days)
            except Exception:  # noqa: BLE001 - keep the demo relay alive
                log.exception("relay round failed")
            time.sleep(3)

    threading.Thread(target=relay_loop, daemon=True).start()
    return started


class DemoAccounts:
    """The admin's and the operator's TOTP secrets, kept in the instance folder so an
    authenticator app set up once keeps working after a restart of the demo."""

    def __init__(self, instance: str) -> None:
        self.path = Path(instance) / "demo-accounts.json"
        self.saved: dict[str, str] = json.loads(self.path.read_text()) if self.path.exists() else {}

    def secret(self, name: str, new: str | None = None) -> str:
        if name not in self.saved:
            self.saved[name] = new or pyotp.random_base32()
            self.path.write_text(json.dumps(self.saved))
            self.path.chmod(0o600)
        return self.saved[name]


def ensure_admin(app: Any, kept: DemoAccounts) -> str:
    accounts = app.extensions["curbside.admin"].accounts
    admin = accounts.by_email(ADMIN_EMAIL) or accounts.create(
        email=ADMIN_EMAIL, password=ADMIN_PASSWORD, role="admin")
    secret = kept.secret("admin")
    accounts.set_totp(admin.id, secret)
    return secret


def give_to_operator(hub: Any, client_id: str) -> None:
    """The demo operator runs the demo partner network: the portal lists it, with its
    policy to edit and dry-run (ownership is the registration access token's operator)."""
    with hub.db.session() as s:
        if s.get(RegistrationAccessToken, client_id) is None:
            s.add(RegistrationAccessToken(client_id=client_id, token_hash=sha256_hex(new_token(32)),
                                          operator_id=operator_id_for(hub, OPERATOR_EMAIL)))


def ensure_operator(hub: Any, kept: DemoAccounts) -> str:
    if operator_id_for(hub, OPERATOR_EMAIL) is None:
        _, uri = create_operator(hub, OPERATOR_EMAIL, OPERATOR_PASSWORD)
        issued = parse_qs(urlsplit(uri).query)["secret"][0]
        kept.saved.pop("operator", None)
        return kept.secret("operator", issued)
    secret = kept.secret("operator")
    with hub.db.session() as s:  # the saved secret again, as a restart must not change it
        op = s.scalar(select(OperatorAccount).where(OperatorAccount.email == OPERATOR_EMAIL))
        op.totp_secret_enc = hub.secrets.encrypt(secret.encode())
    return secret


CODES = """<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Demo sign-in codes</title>
<style>body{font:1.05rem/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}
code{font-size:1.4rem}</style></head><body><h1>Demo sign-in codes</h1>
<p><strong>Demo only.</strong> The admin console and the operator portal always ask for a code from an
authenticator app. So that you need no app to look around, this page shows the current codes of the demo
accounts (it reloads every 10 seconds; a code works once). A real hub has no such page.</p>
<ul>{% for who, url, code in rows %}<li>{{ who }} (<a href="{{ url }}">{{ url }}</a>):
<code id="{{ who|lower|replace(' ', '-') }}">{{ code }}</code></li>{% endfor %}</ul></body></html>"""


def create_codes_app(rows: list[tuple[str, str, str]]) -> Flask:
    """rows: (who, where, TOTP secret)."""
    app = Flask("demo-codes")

    @app.get("/")
    def codes() -> str:
        return render_template_string(CODES, rows=[(w, u, pyotp.TOTP(s).now()) for w, u, s in rows])

    return app


def create_index_app() -> Flask:
    app = Flask("demo-services")

    @app.get("/")
    def index() -> str:
        return ("<!doctype html><html lang='en'><title>Demo services</title><h1>Demo services</h1><ul>"
                "<li><a href='/codes/'>Sign-in codes of the demo admin and operator</a> (demo only)</li>"
                "<li><a href='/anchor/.well-known/openid-federation'>The demo trust anchor's entity "
                "configuration</a></li><li>/big-register/: a stand-in for the BIG-register's "
                "ListHcpApprox4 webservice (SOAP, POST)</li></ul></html>")

    return app


def busy_ports(host: str, ports: list[int]) -> list[int]:
    """The ports another program holds: found before the demo migrates and seeds anything,
    so a second ``hub demo`` says which options to change instead of werkzeug's words about
    a port the newcomer never chose (the demo derives five of its six)."""
    busy = []
    for number in ports:
        with socket.socket() as probe:
            # As werkzeug's server binds: a port in TIME_WAIT is free to it, so free here.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, number))
            except OSError:
                busy.append(number)
    return busy


def run_demo(*, port: int, network_port: int, instance: str) -> None:
    busy = busy_ports("localhost", [port, *range(network_port, network_port + 5)])
    if busy:
        raise click.ClickException(
            f"{'ports' if len(busy) > 1 else 'port'} {', '.join(map(str, busy))} "
            f"{'are' if len(busy) > 1 else 'is'} in use on localhost (another hub demo?): stop "
            f"that program, or choose free ports with --port (the hub) and --network-port "
            f"(the partner network; the demo also uses the next four)")
    Path(instance).mkdir(parents=True, exist_ok=True)
    # The in-process queue runs a job per link and webhook; only its failures matter here.
    logging.getLogger("huey").setLevel(logging.WARNING)
    # Nor do the schema migrations' steps: a first start would open with ten lines of them.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # localhost, not 127.0.0.1: a WebAuthn relying-party id is a host name (browsers refuse
    # an IP address), and passkeys should work in the demo.
    issuer = f"http://localhost:{port}"
    network_url = f"http://localhost:{network_port}"
    services = f"http://localhost:{network_port + 3}"
    anchor_id = f"{services}/anchor"
    federated_url = f"http://localhost:{network_port + 4}"
    keys = federation_keys(instance)
    anchor_key = keys.ec("anchor")
    settings = Settings.from_env(
        # The demo's partner networks, register and trust anchor run on this machine: the
        # hub may call them over plain http on loopback (never outside a demo or a test).
        issuer=issuer, insecure_transport=True, outbound_allow_local=True, instance_dir=instance,
        database_url=f"sqlite:///{Path(instance).resolve()}/hub.db",
        big_endpoint=f"{services}/big-register/",
        federation_trust_anchors=json.dumps({anchor_id: public_jwks(anchor_key)}))
    app = create_app(settings)
    hub = app.extensions["curbside"]
    upgrade(hub.db)
    hub.keys.ensure()

    kept = DemoAccounts(instance)
    admin_secret = ensure_admin(app, kept)
    operator_secret = ensure_operator(hub, kept)
    fed_key, fed_oauth = keys.ec("federated-network"), keys.rsa("federated-network-oauth")
    serve("localhost", network_port + 3, DispatcherMiddleware(create_index_app(), {
        "/anchor": create_anchor_app(entity_id=anchor_id, key=anchor_key,
                                     subordinates={federated_url: public_jwks(fed_key)}),
        "/big-register": create_register_app(),
        "/codes": create_codes_app([("Admin", f"{issuer}/admin/", admin_secret),
                                    ("Operator", f"{issuer}/operator", operator_secret)]),
    }))
    serve("localhost", network_port + 4, create_federated_network_app(
        name="Regional Care Network", entity_id=federated_url, issuer=issuer, anchor_id=anchor_id,
        federation_key=fed_key, oauth_key=fed_oauth))

    doctor = hub.accounts.by_email(DEMO_EMAIL) or hub.accounts.create(
        # No saved locale: a saved one outranks the browser's language (hub/i18n.py), and a
        # newcomer reading this in English should see the pages in their browser's language;
        # the account page lets them switch to Dutch or Danish.
        email=DEMO_EMAIL, password=DEMO_PASSWORD, given_name="Anna", family_name="de Vries",
        email_verified=True)
    import_copy(hub)
    verified = verify_doctor(hub, doctor)
    if verified.status.value != "match":
        log.warning("the demo doctor is not verified: %s", verified.reason)
    client_id = "demo-network"
    if hub.clients.get(client_id) is None:
        hub.clients.create(validate_metadata({
            "client_name": "Demo Doctors Forum",
            "redirect_uris": [f"{network_url}/callback"],
            "post_logout_redirect_uris": [f"{network_url}/"],
        }), client_id=client_id)
    give_to_operator(hub, client_id)
    secret = hub.clients.rotate_secret(client_id)
    network = create_network_app(name="Demo Doctors Forum", issuer=issuer, client_id=client_id,
                                 client_secret=secret, base_url=network_url,
                                 scope=f"openid profile email {PHYSICIAN_SCOPE}")
    hub_server = make_server("localhost", port, app, threaded=True, request_handler=QuietHandler)
    net_server = serve("localhost", network_port, network)
    communities = start_communities(app, issuer, first_port=network_port + 1)
    listing = "\n".join(f"  {name + ':':<29} {url}/" for name, url in communities)
    print(f"""
Curbside demo is running.

  Partner network (start here): {network_url}/
  Hub (OpenID Provider):        {issuer}/   discovery: {issuer}/.well-known/openid-configuration
  Your account:                 {issuer}/account   linked networks: {issuer}/account/links
  Merged feed:                  {issuer}/feed

  Demo doctor:    {DEMO_EMAIL}
  Password:       {DEMO_PASSWORD}
  (verified against the demo copy of the BIG-register, BIG number {verified.entry.number
                   if verified.entry else "-"}: the partner network shows verified_claims)

Communities (upstream sign-in, activity, webhooks; link them from your account page,
then write a post there and watch it arrive in your Curbside feed):
{listing}

Joins by OpenID Federation, no registration, no admin step:
  Regional Care Network:        {federated_url}/   (trust anchor: {anchor_id})

Admin console:    {issuer}/admin/
  Email:          {ADMIN_EMAIL}
  Password:       {ADMIN_PASSWORD}
  TOTP secret:    {admin_secret}
Operator portal:  {issuer}/operator
  Email:          {OPERATOR_EMAIL}
  Password:       {OPERATOR_PASSWORD}
  TOTP secret:    {operator_secret}
  Codes without an authenticator app (demo only): {services}/codes/

Press Ctrl+C to stop.
""", flush=True)
    try:
        hub_server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        net_server.shutdown()

