"""The demo partner network (Authlib's Flask client, as a partner would use it) signs a doctor
in, reads userinfo, uses silent SSO and signs out through RP-initiated logout."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from hub.demo.network import create_network_app
from tests.flows.conftest import Browser, RunningHub


@pytest.fixture
def network(running_hub: RunningHub) -> Iterator[str]:
    server = make_server("localhost", 0, lambda e, s: None, threaded=True)
    base = f"http://localhost:{server.server_port}"
    creds = running_hub.client(client_name="Demo Doctors Forum", redirect_uris=[f"{base}/callback"],
                               post_logout_redirect_uris=[f"{base}/"])
    server.app = create_network_app(name="Demo Doctors Forum", issuer=running_hub.issuer,
                                    client_id=creds["client_id"], client_secret=creds["client_secret"],
                                    base_url=base)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield base
    server.shutdown()


def _follow(browser: Browser, resp: Any, email: str) -> Any:
    """Follow redirects across both sites, answering the hub's pages."""
    for _ in range(10):
        resp = browser.through(resp, email)
        if resp.status_code not in (302, 303):
            return resp
        loc = resp.headers["Location"]
        if loc.startswith("/"):
            parts = urlsplit(resp.url)
            loc = f"{parts.scheme}://{parts.netloc}{loc}"
        resp = browser.get(loc)
    raise AssertionError("redirect loop")


def test_demo_network_signs_in_and_out(running_hub: RunningHub, browser: Browser, network: str) -> None:
    doctor = running_hub.doctor(given_name="Anna", family_name="de Vries")
    home = _follow(browser, browser.get(f"{network}/login"), doctor.email)
    assert "Signed in as <strong>Anna de Vries</strong>" in home.text
    assert doctor.email in home.text  # from userinfo
    # Sign out at the network: RP-initiated logout with id_token_hint, back to the network.
    out = _follow(browser, browser.get(f"{network}/logout"), doctor.email)
    assert "Sign in with Curbside" in out.text
    # The hub session is gone: silent sign-in now reports login_required.
    silent = _follow(browser, browser.get(f"{network}/silent"), doctor.email)
    assert "login_required" in silent.text
