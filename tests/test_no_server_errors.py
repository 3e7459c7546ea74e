"""Hostile input on every route never gets a 500: each URL rule is called on a running hub
with odd methods, path ids, query strings, form bodies and JSON bodies, by a visitor with no
session, by a signed-in doctor and by a signed-in admin. Their forms carry a valid CSRF
token, so the input reaches the views behind the checks."""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pyotp
import pytest
import requests
from werkzeug.serving import make_server

from hub.protocol.app import URL_MAP
from tests.flows.conftest import _Late, make_settings

HOSTILE = ["", "x" * 5000, "' OR 1=1 --", "<script>alert(1)</script>", "\u0000\u202e%00", "../../etc/passwd",
           "{{7*7}}", "%", "%ZZ", "null", "[]", "😷" * 50, "-1", "99999999999999999999"]
# Path ids for <int:...>: in range, at and beyond PostgreSQL's INTEGER and SQLite's 64 bits.
INT_IDS = ["1", "0", "2147483647", "2147483648", "9223372036854775808", "99999999999999999999"]
# Every form field and query parameter a view reads (grep request.form / request.args).
FIELDS = ["grant_type", "token", "pending", "email", "password", "reason", "otp", "q", "action", "before",
          "body", "client_id", "confirm", "country", "decision", "done", "error", "format", "from", "limit",
          "member", "metadata", "number", "policy", "post_logout_redirect_uri", "profession", "state",
          "title", "to", "url", "code", "refresh_token", "redirect_uri", "response_type", "id_token_hint",
          "credential", "name"]
PARAM = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Hub:
    base: str
    app: Any
    hub: Any
    doctor_id: str  # a doctor and a network the admin's forms act on, so actions reach the views
    client_id: str


@pytest.fixture(scope="module")
def running(backend: Any, database: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    from hub import create_app
    from hub.domain.client_metadata import validate_metadata

    late = _Late()
    server = make_server("127.0.0.1", 0, late, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    app = create_app(make_settings(backend, tmp_path_factory.mktemp("fuzz"), issuer=base,
                                   login_max_per_address=1_000_000),
                     store_prefix=f"fz{backend.redis_prefix}:")
    h = app.extensions["curbside"]
    h.keys.ensure()
    late.app = app
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = h.accounts.create(email=f"target-{secrets.token_hex(4)}@example.org", password="x" * 20)
    client = h.clients.create(validate_metadata({"client_name": "Target", "redirect_uris": ["https://t.example/cb"]}),
                              status="pending")
    yield Hub(base, app, h, target.id, client["client_id"])
    server.shutdown()


# -- who sends the hostile input -------------------------------------------------------------------
@dataclass
class Visitor:
    """A browser with a session of some kind; ``csrf`` is the token its forms carry."""

    s: requests.Session
    csrf: str
    alive: Callable[[], bool]
    hostile_csrf_too: bool = False  # every other form carries the hostile value as its token


def _anonymous(h: Hub) -> Visitor:
    """No session; its forms carry the token the admin sign-in page gives any visitor."""
    s = requests.Session()
    found = CSRF.search(s.get(f"{h.base}/admin/login", timeout=10).text)
    assert found
    return Visitor(s, found.group(1), lambda: True, hostile_csrf_too=True)


def _doctor(h: Hub) -> Visitor:
    doctor = h.hub.accounts.create(email=f"fuzz-{secrets.token_hex(4)}@example.org", password="x" * 20,
                                   given_name="Anna", family_name="de Vries", email_verified=True)
    cookie, _ = h.hub.sessions.create(doctor.id, ["pwd"])  # what the sign-in sets
    s = requests.Session()
    s.cookies.set(h.hub.sessions.cookie_name, cookie)
    account = s.get(f"{h.base}/account", timeout=10)
    found = CSRF.search(account.text)
    assert account.status_code == 200 and found and "/account/logout" in account.text, account.text[:300]

    def alive() -> bool:
        return h.hub.sessions.load(s.cookies.get(h.hub.sessions.cookie_name)) is not None

    return Visitor(s, found.group(1), alive)


def _admin(h: Hub) -> Visitor:
    accounts = h.app.extensions["curbside.admin"].accounts
    email, password, secret = f"fuzz-{secrets.token_hex(4)}@curbside.example", "a long admin passphrase", \
        pyotp.random_base32()
    admin = accounts.create(email=email, password=password, role="admin")
    accounts.set_totp(admin.id, secret)
    s = requests.Session()

    def form(path: str, data: dict[str, str]) -> requests.Response:
        token = CSRF.search(s.get(h.base + path, timeout=10).text).group(1)  # type: ignore[union-attr]
        return s.post(h.base + path, data={"csrf": token, **data}, allow_redirects=False, timeout=10)

    assert form("/admin/login", {"email": email, "password": password}).status_code == 303
    assert form("/admin/mfa", {"otp": pyotp.TOTP(secret).now()}).status_code == 303
    home = s.get(f"{h.base}/admin/", allow_redirects=False, timeout=10)
    found = CSRF.search(home.text)
    assert home.status_code == 200 and found, home.text[:300]

    def alive() -> bool:
        return s.get(f"{h.base}/admin/", allow_redirects=False, timeout=10).status_code == 200

    return Visitor(s, found.group(1), alive)


VISITORS = {"no session": _anonymous, "signed-in doctor": _doctor, "signed-in admin": _admin}


# -- the routes ------------------------------------------------------------------------------------------
def _routes(h: Hub) -> list[tuple[str, set[str]]]:
    out = []
    # The protocol app's routes (answered in front of Flask), then the pages app's.
    for rule in [*URL_MAP.iter_rules(), *h.app.url_map.iter_rules()]:
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        out.append((rule.rule, set(rule.methods or ()) - {"HEAD", "OPTIONS"}))
    return out


def _path(rule: str, value: str, i: int) -> str:
    """The rule with each id hostile: ``value`` for text, a large or edge number for ints."""
    return PARAM.sub(lambda m: INT_IDS[i % len(INT_IDS)] if m.group(1) == "int" else quote(value, safe=""), rule)


def _known_path(h: Hub, rule: str) -> str:
    """The rule with ids that exist, so the hostile form reaches the view's own checks."""
    known = {"doctor_id": h.doctor_id, "client_id": h.client_id, "network": "nordic", "link_id": "x",
             "action": "pause", "filename": "x.css"}
    return PARAM.sub(lambda m: "1" if m.group(1) == "int" else known.get(m.group(2), "x"), rule)


def _sweep(h: Hub, start: Callable[[Hub], Visitor]) -> tuple[list[tuple[Any, ...]], list[str]]:
    """(server errors, the routes after which the session had ended and was started again)."""
    failures: list[tuple[Any, ...]] = []
    visitor = start(h)
    ended: list[str] = []

    def send(method: str, path: str, value: str, **kw: Any) -> None:
        r = visitor.s.request(method, h.base + path, allow_redirects=False, timeout=30, **kw)
        if r.status_code >= 500 or "Traceback" in r.text:
            failures.append((method, path[:60], value[:20], r.status_code))

    def hostile_requests(rule: str, methods: set[str], i: int, value: str) -> None:
        query = {name: value for name in FIELDS}
        form = {**query, "csrf": value if visitor.hostile_csrf_too and i % 2 else visitor.csrf}
        hostile_path, known_path = _path(rule, value, i), _known_path(h, rule)
        for method in methods | {"GET", "POST"}:
            body = {"data": form} if method in ("POST", "PUT", "PATCH", "DELETE") else {}
            send(method, hostile_path, value, params=query, **body)
        send("POST", known_path, value, data=form,
             headers={"Authorization": f"Basic {value[:100]}".encode("utf-8", "surrogatepass")})
        send("POST", known_path, value, data=value.encode("utf-8", "surrogatepass"),
             headers={"Content-Type": "application/json",
                      "Authorization": f"Bearer {value[:100]}".encode("utf-8", "surrogatepass")})

    previous = ""
    with ThreadPoolExecutor(4) as pool:  # the hub serves each request on its own thread
        for rule, methods in _routes(h):
            if not visitor.alive():  # a logout route ended it: sign in again for the next route
                ended.append(previous)
                visitor = start(h)
            previous = rule
            list(pool.map(lambda iv: hostile_requests(rule, methods, *iv), enumerate(HOSTILE)))
    return failures, ended


@pytest.mark.parametrize("who", VISITORS.keys())
def test_no_route_answers_hostile_input_with_a_server_error(running: Hub, who: str) -> None:
    failures, ended = _sweep(running, VISITORS[who])
    assert failures == []
    # Only signing out ended the session: no hostile input threw the visitor out elsewhere.
    assert {rule.rsplit("/", 1)[-1] for rule in ended} <= {"logout"}, ended
