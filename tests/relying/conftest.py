"""Helpers for relying-party flows: verified doctors, policies, a back-channel receiver."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask, request
from joserfc import jwt
from joserfc.jwk import KeySet
from werkzeug.serving import make_server

from hub.persistence.db import utcnow
from hub.persistence.models.registers import DoctorRegistration, IdentityEvidence, SelfDeclaredProfession
from tests.conftest import Backend, _pg_schema_url
from tests.flows.conftest import Browser, RunningHub, _Late, make_settings

EXAMPLES = Path(__file__).resolve().parents[2] / "policies" / "examples"


def verify(hub: RunningHub, doctor: Any, register: str, country: str, *, days_ago: int = 10,
           profession: str = "physician", specialties: tuple[str, ...] = (),
           id_document: bool = False, number: str | None = None) -> int:
    """Give a doctor a register-verified registration (as a verifier would record it)."""
    now = utcnow()
    with hub.hub.db.session() as s:
        reg = DoctorRegistration(
            doctor_id=doctor.id, register=register, number=number or doctor.id[:10], country=country,
            profession=profession, status="match", reason="", method="live",
            checked_at=now - timedelta(days=days_ago), verified_at=now - timedelta(days=days_ago),
            verified_given_name=doctor.given_name, verified_family_name=doctor.family_name,
            entry={"status": "active", "specialties": list(specialties)},
            evidence={"type": "electronic_record"})
        s.add(reg)
        if id_document:
            s.add(IdentityEvidence(doctor_id=doctor.id, type="document", details={},
                                   given_name=doctor.given_name, family_name=doctor.family_name))
        s.flush()
        return reg.id


def withdraw(hub: RunningHub, registration_id: int) -> None:
    with hub.hub.db.session() as s:
        reg = s.get(DoctorRegistration, registration_id)
        reg.status, reg.withdrawn_at = "withdrawn", utcnow()


def declare(hub: RunningHub, doctor: Any, profession: str = "physician") -> None:
    with hub.hub.db.session() as s:
        s.add(SelfDeclaredProfession(doctor_id=doctor.id, profession=profession))


def set_policy(hub: RunningHub, client_id: str, name: str) -> Any:
    from hub.relying.policy import store

    return store(hub.hub).set(client_id, (EXAMPLES / f"{name}.yaml").read_text(), actor="test")


@pytest.fixture(scope="session")
def running_hub(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """A hub of its own, on its own database: two hubs over one database in a test session
    would hold signing keys encrypted under two different instance secrets."""
    import hub.persistence.models  # noqa: F401
    from hub import create_app
    from hub.persistence.db import Base, Database
    from hub.persistence.schema import upgrade

    gen = None
    if backend.name == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('relying-db') / 'curbside.db'}"
    else:
        gen = _pg_schema_url(backend.database_url.split("?")[0])
        url = next(gen)
    db = Database(url)
    upgrade(db)
    Base.metadata.create_all(db.engine, checkfirst=True)
    db.engine.dispose()
    late = _Late()
    server = make_server("127.0.0.1", 0, late, threaded=True)
    issuer = f"http://127.0.0.1:{server.server_port}"
    own = Backend(backend.name, url, backend.store_url, backend.redis_prefix + "r")
    # The back-channel receivers and sector documents of these tests listen on 127.0.0.1.
    settings = make_settings(own, tmp_path_factory.mktemp("relying-instance"), issuer=issuer,
                             outbound_allow_local=True)
    app = create_app(settings, store_prefix=f"r{own.redis_prefix}:")
    app.extensions["curbside"].keys.ensure()
    late.app = app
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield RunningHub(issuer, app, app.extensions["curbside"])
    server.shutdown()
    app.extensions["curbside"].db.engine.dispose()
    if gen is not None:
        next(gen, None)


@pytest.fixture
def browser(running_hub: RunningHub) -> Browser:
    return Browser(running_hub)


@dataclass
class Receiver:
    """A partner network's back-channel logout endpoint on a real socket."""

    url: str
    tokens: list[str] = field(default_factory=list)
    status: int = 200

    def claims(self, issuer: str, client_id: str | set[str]) -> list[dict[str, Any]]:
        """Validate every received logout token as Back-Channel Logout 1.0 §2.6 says."""
        jwks = KeySet.import_key_set(requests.get(f"{issuer}/jwks", timeout=5).json())
        out = []
        for token in self.tokens:
            decoded = jwt.decode(token, jwks, algorithms=["RS256", "ES256", "EdDSA"])
            assert decoded.header["typ"] == "logout+jwt"
            c = decoded.claims
            assert c["iss"] == issuer
            assert c["aud"] in ({client_id} if isinstance(client_id, str) else client_id)
            assert "http://schemas.openid.net/event/backchannel-logout" in c["events"]
            assert "nonce" not in c and c["jti"] and c["iat"] <= c["exp"]
            assert "sid" in c or "sub" in c
            out.append(dict(c))
        return out


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    app = Flask("receiver")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    rec = Receiver(f"http://127.0.0.1:{server.server_port}/backchannel")

    @app.post("/backchannel")
    def backchannel() -> Any:
        rec.tokens.append(request.form["logout_token"])
        return "", rec.status

    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield rec
    server.shutdown()
