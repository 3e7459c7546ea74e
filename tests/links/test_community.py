"""The reference community app (hub/demo/community.py) end to end on real sockets: the doctor
links two communities, sees both in one feed, a post pushed by signed webhook arrives at once,
and the doctor signs in to the hub with one of them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from hub.demo.community import (
    connector_config,
    create_community_app,
    new_webhook_secret,
    webhook_config,
)
from hub.links import links_for
from tests.flows.conftest import Browser, RelyingParty, callback_params
from tests.links.linkkit import Doctor


@pytest.fixture
def community(running_hub: Any, hub: Any) -> Iterator[Callable[..., tuple[str, Any]]]:
    servers = []

    def start(name: str, kind: str, *, pushes: bool = False) -> tuple[str, Any]:
        server = make_server("127.0.0.1", 0, lambda e, s: None, threaded=True)
        base = f"http://127.0.0.1:{server.server_port}"
        secret = new_webhook_secret() if pushes else None
        app = create_community_app(
            name=name, base_url=base, client_id="curbside", client_secret="cs-" + name,
            redirect_uris=[f"{running_hub.issuer}/links/callback"],
            webhook_url=f"{running_hub.issuer}/links/webhooks/{name}" if pushes else None,
            webhook_secret=secret)
        server.app = app
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        links_for(hub).networks.add(
            name, kind, connector_config(base, kind=kind, client_id="curbside",
                                         client_secret="cs-" + name),
            display_name=name.capitalize(), webhook=webhook_config(secret) if secret else None,
            poll_interval=60)
        return base, app

    yield start
    for s in servers:
        s.shutdown()


def _link(doctor: Doctor, network: str, member: str = "m-ada") -> Any:
    b = doctor.browser
    resp = b.post(f"{doctor.hub.issuer}/account/links/{network}/begin", {"csrf": doctor.csrf()})
    page = b.get(resp.headers["Location"])
    assert page.status_code == 200 and "Continue as" in page.text
    base = resp.headers["Location"].split("/oidc/")[0]
    back = b.post(f"{base}/oidc/authorize", {**Browser.hidden(page), "member": member})
    return doctor.follow(back)


def test_community_roles_end_to_end(hub: Any, doctor: Doctor, running_hub: Any,
                                    community: Any) -> None:
    import secrets

    tag = secrets.token_hex(3)
    a_base, a_app = community(f"artsen{tag}", "oidc", pushes=True)
    c_base, _ = community(f"casus{tag}", "activitystreams")
    assert _link(doctor, f"artsen{tag}").status_code == 200
    assert _link(doctor, f"casus{tag}").status_code == 200
    feed = doctor.page("/feed").text
    assert f'href="{a_base}/posts/m-ada-seed0"' in feed
    assert f'href="{c_base}/posts/m-ada-seed1"' in feed
    assert "Dr. Jan Jansen" not in feed  # only the linked member's activity
    # A new post at the community is pushed to the hub by a signed webhook.
    import requests

    requests.post(f"{a_base}/post", data={"member": "m-ada", "title": "Pushed just now",
                                          "body": "hello"}, timeout=5)
    for _ in range(50):
        if a_app.extensions["community"].webhook_log:
            break
        time.sleep(0.1)
    assert a_app.extensions["community"].webhook_log == [204]
    assert "Pushed just now" in doctor.page("/feed").text
    # Brokered sign-in to the hub with the linked community account.
    rp = RelyingParty(running_hub, running_hub.client(redirect_uris=["https://rp.example/cb"]))
    b = Browser(running_hub)
    url, _ = rp.authorization_url()
    login = b.get(url)
    assert f"Sign in with Artsen{tag}" in login.text
    go = b.post(f"{running_hub.issuer}/links/signin/artsen{tag}",
                {"pending": Browser.hidden(login)["pending"]})
    page = b.get(go.headers["Location"])
    back = b.post(f"{a_base}/oidc/authorize", {**Browser.hidden(page), "member": "m-ada"})
    final = b.through(b.get(back.headers["Location"]), doctor.account.email)
    tokens = rp.exchange(callback_params(final))
    assert rp.validate_id_token(tokens["id_token"])["sub"]
    # Jan never linked: signing in as Jan is refused and creates nothing.
    b2 = Browser(running_hub)
    url, _ = rp.authorization_url()
    login = b2.get(url)
    go = b2.post(f"{running_hub.issuer}/links/signin/artsen{tag}",
                 {"pending": Browser.hidden(login)["pending"]})
    page = b2.get(go.headers["Location"])
    back = b2.post(f"{a_base}/oidc/authorize", {**Browser.hidden(page), "member": "m-jan"})
    assert b2.get(back.headers["Location"]).status_code == 403
