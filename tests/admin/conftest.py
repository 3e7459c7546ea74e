"""The admin console on a real socket, and an admin's browser to drive it.

The hub here is the flows' RunningHub with its own store prefix and a generous per-address
sign-in limit: every test signs in from 127.0.0.1, and the address throttle is not what
these tests are about (the per-account one is, in test_auth.py).
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyotp
import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

import hub.persistence.models.registers  # noqa: F401  (the verification tables exist in the test database)
from hub import create_app
from hub.persistence.models.audit import AuditRecord
from tests.flows.conftest import Browser, RunningHub, _Late, make_settings

ADMIN_PASSWORD = "a long admin passphrase"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="session")
def admin_hub(backend: Any, database: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    late = _Late()
    server = make_server("127.0.0.1", 0, late, threaded=True)
    issuer = f"http://127.0.0.1:{server.server_port}"
    settings = make_settings(backend, tmp_path_factory.mktemp("admin-instance"), issuer=issuer,
                             login_max_per_address=100_000)
    app = create_app(settings, store_prefix=f"adm{backend.redis_prefix}:")
    h = app.extensions["curbside"]
    h.keys.ensure()
    late.app = app
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield RunningHub(issuer, app, h)
    server.shutdown()


@dataclass
class Console:
    """An admin's browser: cookies kept, redirects not followed (each hop is asserted)."""

    hub: RunningHub
    email: str = ""
    admin_id: str = ""
    secret: str | None = None
    s: requests.Session = field(default_factory=requests.Session)

    @property
    def actor(self) -> str:
        return f"admin:{self.admin_id}"

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.s.get(self.hub.issuer + path, allow_redirects=False, timeout=30, **kw)

    def post(self, path: str, data: dict[str, str]) -> requests.Response:
        return self.s.post(self.hub.issuer + path, data=data, allow_redirects=False, timeout=30)

    def csrf(self, path: str = "/admin/") -> str:
        page = self.get(path)
        found = _CSRF.search(page.text)
        assert found, (page.status_code, page.text[:300])
        return found.group(1)

    def password_step(self, password: str = ADMIN_PASSWORD) -> requests.Response:
        token = self.csrf("/admin/login")
        return self.post("/admin/login", {"csrf": token, "email": self.email, "password": password})

    def code_step(self, code: str | None = None) -> requests.Response:
        page = self.get("/admin/mfa")
        token = _CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        if code is None:
            assert self.secret
            code = pyotp.TOTP(self.secret).now()
        return self.post("/admin/mfa", {"csrf": token, "otp": code})

    def sign_in(self) -> Console:
        r = self.password_step()
        assert r.status_code == 303 and r.headers["Location"].endswith("/admin/mfa"), r.text[:300]
        r = self.code_step()
        assert r.status_code == 303 and r.headers["Location"].endswith("/admin/"), r.text[:300]
        return self

    def act(self, path: str, reason: str = "Requested in ticket 4711", **extra: str) -> requests.Response:
        return self.post(path, {"csrf": self.csrf(), "reason": reason, **extra})


ConsoleFor = Callable[[str], Console]


def new_admin(h: RunningHub, role: str, *, enrolled: bool = True) -> Console:
    """An admin as ``hub admin create`` makes one (its TOTP secret issued with it), or
    with ``enrolled=False`` an account from before secrets were issued at creation."""
    accounts = h.app.extensions["curbside.admin"].accounts
    email = f"{role}-{secrets.token_hex(4)}@curbside.example"
    admin = accounts.create(email=email, password=ADMIN_PASSWORD, role=role)
    secret = accounts.issue_totp(admin).secret if enrolled else None
    return Console(h, email, admin.id, secret)


@pytest.fixture
def console_for(admin_hub: RunningHub) -> Callable[[str], Console]:
    """A signed-in console for a fresh admin of the given role."""
    return lambda role: new_admin(admin_hub, role).sign_in()


@pytest.fixture
def doctor_browser(admin_hub: RunningHub) -> Browser:
    return Browser(admin_hub)


def audit_records(h: RunningHub, *, actor: str | None = None, event: str | None = None) -> list[AuditRecord]:
    with h.hub.db.session() as s:
        q = select(AuditRecord).order_by(AuditRecord.seq)
        if actor is not None:
            q = q.where(AuditRecord.actor == actor)
        if event is not None:
            q = q.where(AuditRecord.event == event)
        return list(s.scalars(q))
