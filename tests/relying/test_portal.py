"""The operator portal: TOTP sign-in, own clients only, register, policy dry run and upload."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pyotp
import requests

from hub.pages.operators import create_operator
from hub.protocol.registration import issue_initial_token
from tests.flows.conftest import RunningHub
from tests.relying.conftest import EXAMPLES

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def operator(hub: RunningHub, email: str) -> tuple[requests.Session, str]:
    _, uri = create_operator(hub.hub, email, "a long operator password")
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    s = requests.Session()
    form = _CSRF.search(s.get(f"{hub.issuer}/operator/login", timeout=5).text).group(1)
    bad = s.post(f"{hub.issuer}/operator/login", data={"email": email, "password": "a long operator password",
                                                     "otp": "000000", "csrf": form},
                 timeout=5, allow_redirects=False)
    assert bad.status_code == 401  # the second factor is never optional
    ok = s.post(f"{hub.issuer}/operator/login", data={"email": email, "password": "a long operator password",
                                                    "otp": pyotp.TOTP(secret).now(), "csrf": form},
                timeout=5, allow_redirects=False)
    assert ok.status_code == 303
    page = s.get(f"{hub.issuer}/operator", timeout=5)
    return s, _CSRF.search(page.text).group(1)


def test_operator_registers_dry_runs_and_uploads_a_policy(running_hub: RunningHub) -> None:
    s, csrf = operator(running_hub, "ops-nordic@example.org")
    md = {"client_name": "Nordic Forum", "redirect_uris": ["https://nordic-forum.example/cb"]}
    r = s.post(f"{running_hub.issuer}/operator/clients", data={"csrf": csrf, "metadata": json.dumps(md)},
               timeout=5)
    assert r.status_code == 200 and r.history[0].status_code == 303 and "pending" in r.text
    client_id = re.search(r"<dt>client_id</dt><dd><code>([^<]+)</code>", r.text).group(1)
    home = s.get(f"{running_hub.issuer}/operator", timeout=5)
    assert "Nordic Forum" in home.text
    url = f"{running_hub.issuer}/operator/clients/{client_id}"
    doc = (EXAMPLES / "scandinavian-doctors-only.yaml").read_text()
    dry = s.post(url, data={"csrf": csrf, "policy": doc, "action": "dry_run"}, timeout=5)
    assert dry.status_code == 200
    assert re.search(r"danish-gp: <span[^>]*>allowed<", dry.text)
    assert re.search(r"dutch-surgeon: <span[^>]*>denied<", dry.text)
    bad = s.post(url, data={"csrf": csrf, "policy": doc.replace("jurisdictions", "jurisdiction"),
                            "action": "dry_run"}, timeout=5)
    assert bad.status_code == 400 and "/access/jurisdiction" in bad.text
    up = s.post(url, data={"csrf": csrf, "policy": doc, "action": "upload"}, timeout=5)
    assert "Version 1 is now in force" in up.text
    forged = s.post(url, data={"csrf": "forged", "policy": doc, "action": "upload"}, timeout=5)
    assert forged.status_code == 400


def test_operator_sees_only_own_clients(running_hub: RunningHub) -> None:
    s, _ = operator(running_hub, "ops-other@example.org")
    token = issue_initial_token(running_hub.hub)
    reg = requests.post(f"{running_hub.issuer}/register", timeout=5,
                        headers={"Authorization": f"Bearer {token}"}, json={"redirect_uris": ["https://someone-else.example/cb"]}).json()
    assert s.get(f"{running_hub.issuer}/operator/clients/{reg['client_id']}", timeout=5).status_code == 404
    assert requests.get(f"{running_hub.issuer}/operator", timeout=5, allow_redirects=False).status_code == 303
