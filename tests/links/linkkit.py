"""A real hub and fake partner networks, each on its own socket (tests/connectors fakes)."""

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
from hub.models.links import RelayState
from hub.worker import queue_for
from tests.connectors.connector_fakes import CLIENT_ID, CLIENT_SECRET, Fake, LiveServer, rsa_key
from tests.flows.conftest import Browser, RunningHub, browser, running_hub  # noqa: F401

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


@pytest.fixture(scope="session", autouse=True)
def _keys() -> None:
    for kid in ("k1",):
        rsa_key(kid)


@pytest.fixture
def hub(running_hub: RunningHub) -> Any:  # noqa: F811
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
        m = _CSRF.search(self.page("/account/links").text)
        assert m, "no csrf on the links page"
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
def doctor(running_hub: RunningHub, browser: Browser, hub: Any) -> Doctor:  # noqa: F811
    account = running_hub.doctor()
    page = browser.get(running_hub.issuer + "/account")
    done = browser.login(page, account.email)
    assert done.status_code == 303, done.text[:300]
    return Doctor(running_hub, browser, account)


def make_due(hub: Any) -> None:
    with hub.db.session() as s:
        s.execute(update(RelayState).values(next_due=datetime.now(UTC) - timedelta(seconds=1)))
