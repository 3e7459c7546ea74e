"""What an https hub tells browsers about itself: HSTS on every answer (RFC 6797) and its
sign-in cookies host-only (``__Host-``), whichever app answers (protocol or pages); a local http demo neither.

The https hub runs on a plain-http socket, as behind the TLS proxy of every deployment: the
issuer, not the socket, decides. Its cookies are Secure, so requests would not send them
back over http: the tests send them by hand, as the browser would over TLS.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from werkzeug.serving import make_server

from hub import create_app
from hub.domain.authorization_requests import AUTHZ_KIND, Pending
from hub.domain.crypto import new_token, sha256_hex
from tests.flows.conftest import PASSWORD, RunningHub, _Late, make_settings

ISSUER = "https://id.curbside.example"
HSTS = "max-age=31536000"
PENDING = re.compile(r'name="pending" value="([^"]+)"')


@pytest.fixture(scope="module")
def https_hub(backend: Any, database: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """An https issuer served on a local socket; ``issuer`` here is the socket's address."""
    late = _Late()
    server = make_server("127.0.0.1", 0, late, threaded=True)
    settings = make_settings(backend, tmp_path_factory.mktemp("https-instance"), issuer=ISSUER,
                             insecure_transport=False)
    app = create_app(settings, store_prefix=f"tls{backend.redis_prefix}:")
    h = app.extensions["curbside"]
    h.keys.ensure()
    late.app = app
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield RunningHub(f"http://127.0.0.1:{server.server_port}", app, h)
    server.shutdown()


def _authorize_query(h: RunningHub) -> str:
    creds = h.client()
    return urlencode({"client_id": creds["client_id"], "response_type": "code", "scope": "openid",
                      "redirect_uri": creds["redirect_uris"][0], "code_challenge": "a" * 43,
                      "code_challenge_method": "S256", "state": "s"})


def _answers_of_both_apps(h: RunningHub) -> dict[str, requests.Response]:
    base = h.issuer
    return {
        "discovery (protocol app)": requests.get(f"{base}/.well-known/openid-configuration", timeout=5),
        "jwks (protocol app)": requests.get(f"{base}/jwks", timeout=5),
        "token error (protocol app)": requests.post(f"{base}/token", data={"grant_type": "x"}, timeout=5),
        "userinfo error (protocol app)": requests.get(f"{base}/userinfo", timeout=5),
        "introspection error (protocol app)": requests.post(f"{base}/introspect", data={"token": "x"}, timeout=5),
        "token preflight (protocol app)": requests.options(f"{base}/token", timeout=5),
        "login page (protocol app)": requests.get(f"{base}/authorize?{_authorize_query(h)}", timeout=5),
        "error page (protocol app)": requests.get(f"{base}/authorize?client_id=nobody", timeout=5),
        "expired form (protocol app)": requests.post(f"{base}/login", data={"pending": "x"}, timeout=5),
        "account redirect (pages app)": requests.get(f"{base}/account", allow_redirects=False, timeout=5),
        "not found (pages app)": requests.get(f"{base}/nope", timeout=5),
        "admin console (pages app)": requests.get(f"{base}/admin/login", timeout=5),
        "operator portal (pages app)": requests.get(f"{base}/operator/login", timeout=5),
        "NUL refusal (protocol app)": requests.get(f"{base}/logout?state=%00", timeout=5),
        "NUL refusal (pages app)": requests.get(f"{base}/account?x=%00", timeout=5),
    }


def test_an_https_hub_sends_hsts_on_every_answer(https_hub: RunningHub) -> None:
    answers = _answers_of_both_apps(https_hub)
    assert answers["discovery (protocol app)"].json()["issuer"] == ISSUER
    missing = {name: r.status_code for name, r in answers.items()
               if r.headers.get("Strict-Transport-Security") != HSTS}
    assert missing == {}


def test_a_local_http_demo_hub_sends_no_hsts(running_hub: RunningHub) -> None:
    # RFC 6797 §7.2: the header means nothing over http; a demo must not pin localhost.
    answers = _answers_of_both_apps(running_hub)
    assert [name for name, r in answers.items() if "Strict-Transport-Security" in r.headers] == []


def _login(h: RunningHub, pending: str, email: str, cookie: str) -> requests.Response:
    return requests.post(f"{h.issuer}/login", data={"pending": pending, "email": email, "password": PASSWORD},
                         headers={"Cookie": cookie}, allow_redirects=False, timeout=10)


def test_the_browser_binding_cookie_is_host_only_over_https(https_hub: RunningHub) -> None:
    doctor = https_hub.doctor()
    page = requests.get(f"{https_hub.issuer}/authorize?{_authorize_query(https_hub)}", timeout=5)
    set_cookie = page.headers["Set-Cookie"]
    name, _, rest = set_cookie.partition("=")
    value = rest.split(";")[0]
    # RFC 6265bis §4.1.3.2: a __Host- cookie is Secure, Path=/ and has no Domain.
    assert name == "__Host-curbside_b"
    attributes = {a.strip().split("=")[0].lower() for a in set_cookie.split(";")[1:]}
    assert {"secure", "httponly", "path"} <= attributes and "domain" not in attributes
    assert "Path=/" in set_cookie and "SameSite=Strict" in set_cookie
    pending = PENDING.search(page.text).group(1)  # type: ignore[union-attr]
    # The same value under the plain name, as another host under the same domain could
    # plant it, does not bind the sign-in (login CSRF by cookie injection).
    planted = _login(https_hub, pending, doctor.email, f"curbside_b={value}")
    assert planted.status_code == 400 and "expired" in planted.text
    signed_in = _login(https_hub, pending, doctor.email, f"__Host-curbside_b={value}")
    assert signed_in.status_code == 200 and 'action="/consent"' in signed_in.text
    assert signed_in.headers["Set-Cookie"].startswith("__Host-curbside_sso=")


def test_a_sign_in_started_before_the_cookie_was_prefixed_still_finishes(https_hub: RunningHub) -> None:
    """A request saved by the previous release is bound to the plain cookie's hash: the
    doctor in the middle of signing in during an upgrade is not sent back to the start."""
    doctor = https_hub.doctor()
    creds = https_hub.client()
    params = {"client_id": creds["client_id"], "response_type": "code", "scope": "openid",
              "redirect_uri": creds["redirect_uris"][0], "code_challenge": "a" * 43,
              "code_challenge_method": "S256", "state": "s"}
    browser = new_token(24)
    saved = Pending(new_token(24), params, sha256_hex(browser), started=1)
    https_hub.hub.store.put(AUTHZ_KIND, saved.id, saved.dump(), ttl=600)
    signed_in = _login(https_hub, saved.id, doctor.email, f"curbside_b={browser}")
    assert signed_in.status_code == 200 and 'action="/consent"' in signed_in.text


def test_a_local_http_demo_keeps_plain_cookie_names(running_hub: RunningHub) -> None:
    # Browsers refuse a __Host- cookie without Secure, and Secure cookies over http.
    page = requests.get(f"{running_hub.issuer}/authorize?{_authorize_query(running_hub)}", timeout=5)
    assert page.headers["Set-Cookie"].startswith("curbside_b=")
    assert "Secure" not in page.headers["Set-Cookie"]
