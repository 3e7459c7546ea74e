"""Helpers and fixtures for the links tests: a real hub and fake partner networks on real sockets
(tests/connectors fakes). Imported by conftest.py as a module so test files can import it too."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import update

from hub.links import links_for
from hub.persistence.models.links import RelayState
from hub.worker import queue_for
from tests.connectors.connector_fakes import CLIENT_ID, CLIENT_SECRET, Fake, LiveServer, rsa_key
from tests.flows.conftest import Browser, RunningHub, _Late, make_settings

HTTP = {"timeout": 1.0, "retries": 0, "backoff_factor": 0.0, "insecure_transport": True,
        "allow_private_networks": True}
MAPPING = {"items_path": "data.posts", "title": "subject", "summary": "body", "url": "links.self",
           "published": "created_at", "actor": "author.name", "kind": "type"}


def oidc_config(fake: Fake) -> dict[str, Any]:
    return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "http": dict(HTTP),
            "issuer": fake.base,
            "activity": {"url": fake.base + "/api/posts", "mapping": MAPPING,
                         "next": "paging.next"}}


def oauth2_json_config(fake: Fake) -> dict[str, Any]:
    return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "http": dict(HTTP),
            "authorization_endpoint": fake.base + "/authorize",
            "token_endpoint": fake.base + "/token", "revocation_endpoint": fake.base + "/revoke",
            "issuer": fake.base, "scopes": ["posts.read"],
            "identity": {"url": fake.base + "/api/me", "subject": "data.user.id",
                         "name": "data.user.full_name"},
            "activity": {"url": fake.base + "/api/posts", "mapping": MAPPING,
                         "next": "paging.next"}}


def activitystreams_config(fake: Fake) -> dict[str, Any]:
    return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "http": dict(HTTP),
            "authorization_endpoint": fake.base + "/authorize",
            "token_endpoint": fake.base + "/token", "revocation_endpoint": fake.base + "/revoke",
            "issuer": fake.base, "actor_url": fake.base + "/as/actor"}


CONFIGS: dict[str, Callable[[Fake], dict[str, Any]]] = {
    "oidc": oidc_config, "oauth2-json": oauth2_json_config,
    "activitystreams": activitystreams_config,
    "feed": lambda fake: {"http": dict(HTTP), "allowed_hosts": ["127.0.0.1"]},
}


@dataclass
class Net:
    name: str
    fake: Fake
    server: LiveServer
    kind: str


@dataclass(frozen=True)
class _Backend:
    database_url: str
    store_url: str


@pytest.fixture(scope="session")
def running_hub(backend: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """Like tests/flows' hub, but on a database of its own: two hubs with different
    key-encryption keys must not share one signing-key table in one test process."""
    import threading
    import uuid

    import sqlalchemy as sa
    from werkzeug.serving import make_server

    import hub.persistence.models  # noqa: F401
    from hub import create_app
    from hub.persistence.db import Base, Database
    from hub.persistence.schema import upgrade

    tmp = tmp_path_factory.mktemp("links-hub")
    schema = None
    if backend.name == "sqlite":
        url = f"sqlite:///{tmp}/links.db"
    else:
        base = backend.database_url.split("?")[0]
        schema = "l_" + uuid.uuid4().hex[:12]
        with sa.create_engine(base).begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = f"{base}?options=-csearch_path%3D{schema}"
    db = Database(url)
    upgrade(db)
    Base.metadata.create_all(db.engine, checkfirst=True)
    db.engine.dispose()
    late = _Late()
    server = make_server("127.0.0.1", 0, late, threaded=True)
    issuer = f"http://127.0.0.1:{server.server_port}"
    # The fake partner networks listen on 127.0.0.1.
    settings = make_settings(_Backend(url, backend.store_url), tmp, issuer=issuer,
                             outbound_allow_local=True)
    app = create_app(settings, store_prefix=f"l{secrets.token_hex(4)}:")
    late.app = app
    app.extensions["curbside"].keys.ensure()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield RunningHub(issuer, app, app.extensions["curbside"])
    server.shutdown()
    app.extensions["curbside"].db.engine.dispose()
    if schema:
        with sa.create_engine(base).begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def browser(running_hub: RunningHub) -> Browser:
    return Browser(running_hub)


@pytest.fixture(scope="session", autouse=True)
def _keys() -> None:
    for kid in ("k1",):
        rsa_key(kid)


@pytest.fixture
def hub(running_hub: RunningHub) -> Any:
    h = running_hub.hub
    queue_for(h, immediate=True)  # jobs run in the request thread: no worker to wait for
    return h


@pytest.fixture
def make_net(hub: Any) -> Iterator[Callable[..., Net]]:
    servers: list[LiveServer] = []

    def make(kind: str = "oidc", *, webhook: dict[str, Any] | None = None,
             display_name: str = "", **over: Any) -> Net:
        fake = Fake()
        server = LiveServer(fake)
        servers.append(server)
        name = f"{kind.replace('-', '')}-{secrets.token_hex(3)}"
        links_for(hub).networks.add(name, kind, {**CONFIGS[kind](fake), **over},
                                    display_name=display_name or f"Net {name}",
                                    webhook=webhook, poll_interval=60)
        return Net(name, fake, server, kind)

    yield make
    for s in servers:
        s.close()


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Doctor:
    hub: RunningHub
    browser: Browser
    account: Any

    @property
    def id(self) -> str:
        return str(self.account.id)

    def page(self, path: str) -> requests.Response:
        return self.browser.get(self.hub.issuer + path)

    def csrf(self) -> str:
        # The account page always has a form (sign out); the links page has one only when
        # some network is configured, which depends on what ran before.
        m = _CSRF.search(self.page("/account").text)
        assert m, "no csrf on the account page"
        return m.group(1)

    def follow(self, resp: requests.Response, limit: int = 8) -> requests.Response:
        for _ in range(limit):
            if resp.status_code not in (302, 303):
                return resp
            loc = resp.headers["Location"]
            if loc.startswith("/"):
                loc = self.hub.issuer + loc
            resp = self.browser.get(loc)
        raise AssertionError("redirect loop")

    def link(self, net: Net) -> requests.Response:
        resp = self.browser.post(f"{self.hub.issuer}/account/links/{net.name}/begin",
                                 {"csrf": self.csrf()})
        if resp.status_code == 200 and 'action="/account/links/form"' in resp.text:
            fields = Browser.hidden(resp)
            resp = self.browser.post(f"{self.hub.issuer}/account/links/form",
                                     {**fields, "url": net.fake.base + "/feed.atom"})
        return self.follow(resp)


@pytest.fixture
def doctor(running_hub: RunningHub, browser: Browser, hub: Any) -> Doctor:
    account = running_hub.doctor()
    page = browser.get(running_hub.issuer + "/account")
    done = browser.login(page, account.email)
    assert done.status_code == 303, done.text[:300]
    return Doctor(running_hub, browser, account)


def make_due(hub: Any, doctor: Any = None) -> None:
    """Make links due now: the doctor's only (others' networks from earlier tests are closed),
    and push everything else far away so a test's relay run sees only its own links."""
    from sqlalchemy import select

    from hub.persistence.models.links import AccountLink

    now = datetime.now(UTC)
    with hub.db.session() as s:
        mine = select(AccountLink.id).where(AccountLink.doctor_id == doctor.id) if doctor \
            else select(AccountLink.id)
        s.execute(update(RelayState).where(RelayState.link_id.not_in(mine))
                  .values(next_due=now + timedelta(days=1)))
        s.execute(update(RelayState).where(RelayState.link_id.in_(mine))
                  .values(next_due=now - timedelta(seconds=1)))
