"""Steps the verification flow tests share: a doctor on their account pages, a partner
network asking for verified_claims, and the `hub registers` CLI against the running hub."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import requests
from click.testing import CliRunner, Result

from hub.verification.cli import registers
from hub.verification.vocabulary import REGISTRATIONS_CLAIM, TRUST_FRAMEWORK
from tests.flows.conftest import Browser, RelyingParty, RunningHub

VC = "verified_claims"
PHYSICIAN_SCOPE = "https://curbside.health/scopes/physician"


def vc_request(*, max_age: int | None = None, level: str | None = None,
               evidence: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A verified_claims request (OIDC4IDA 1.0, "Requesting Verified Claims")."""
    verification: dict[str, Any] = {
        "trust_framework": {"value": TRUST_FRAMEWORK},
        "assurance_level": {"values": [level]} if level else None,
        "time": {"max_age": max_age} if max_age is not None else None,
        "evidence": evidence or [
            {"type": {"value": "electronic_record"},
             "check_details": [{"check_method": None, "organization": None, "check_id": None}],
             "record": {"type": None, "source": {"name": None, "country_code": None}}},
            {"type": {"value": "document"}, "document_details": {"type": None}},
            {"type": {"value": "vouch"}, "attestation": {"type": None, "reference_number": None}},
        ],
    }
    return {"verification": verification,
            "claims": {"given_name": None, "family_name": None, REGISTRATIONS_CLAIM: None}}


def claims_param(request: Any, *, members: tuple[str, ...] = ("id_token", "userinfo"),
                 extra: dict[str, Any] | None = None) -> str:
    return json.dumps({m: {VC: request, **(extra or {})} for m in members})


@dataclass
class DoctorAtHub:
    """A doctor with an account and a browser signed in to it."""

    hub: RunningHub
    email: str
    id: str
    browser: Browser = field(init=False)

    def __post_init__(self) -> None:
        self.browser = Browser(self.hub)
        page = self.browser.get(f"{self.hub.issuer}/account")
        resp = self.browser.login(page, self.email)
        assert resp.status_code == 303 and resp.headers["Location"] == "/account", resp.text[:300]

    @property
    def url(self) -> str:
        return f"{self.hub.issuer}/account/verification"

    def page(self) -> requests.Response:
        return self.browser.get(self.url)

    def csrf(self) -> str:
        return Browser.hidden(self.page())["csrf"]

    def check(self, country: str, number: str, *, state: str = "", profession: str = "physician",
              csrf: str | None = None) -> requests.Response:
        return self.browser.post(self.url, {"csrf": csrf if csrf is not None else self.csrf(),
                                            "country": country, "number": number, "state": state,
                                            "profession": profession})

    def post(self, path: str, data: dict[str, str]) -> requests.Response:
        return self.browser.post(f"{self.url}{path}", {"csrf": self.csrf(), **data})

    def upload(self, kind: str, filename: str, content: bytes, *, registration: str = "",
               content_type: str = "application/pdf") -> requests.Response:
        return self.browser.s.post(f"{self.url}/documents",
                                   data={"csrf": self.csrf(), "kind": kind, "registration": registration},
                                   files={"file": (filename, content, content_type)},
                                   allow_redirects=False, timeout=30)


def new_doctor(hub: RunningHub, given: str, family: str) -> DoctorAtHub:
    d = hub.doctor(given_name=given, family_name=family)
    return DoctorAtHub(hub, d.email, d.id)


def cli(hub: RunningHub, *args: str) -> Result:
    """`hub registers ...` against the running hub's services."""
    return CliRunner().invoke(registers, list(args), obj=SimpleNamespace(hub=hub.hub))


def sign_in(rp: RelyingParty, doctor: DoctorAtHub, **extra: Any) -> dict[str, Any]:
    """Sign in at the partner network (login if needed, consent), tokens + validated ID token."""
    tokens = rp.sign_in(doctor.browser, doctor.email, **extra)
    tokens["id_claims"] = rp.validate_id_token(tokens["id_token"])
    return tokens


def userinfo(rp: RelyingParty, access_token: str) -> requests.Response:
    return requests.get(rp.meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {access_token}"},
                        timeout=10)


def contains(value: Any, needle: str) -> bool:
    """Whether a string or key ``needle`` appears anywhere inside ``value``."""
    if isinstance(value, dict):
        return any(k == needle or contains(v, needle) for k, v in value.items())
    if isinstance(value, list):
        return any(contains(v, needle) for v in value)
    return isinstance(value, str) and needle in value
