"""The operator portal as an operator uses it, over a real socket: a registration answers
with a redirect (a reload registers nothing), the new network is listed with its status,
the editors fit the policy, and a dry run says in words who is allowed and why not."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pyotp
import pytest
import requests

from hub.pages.operators import create_operator
from hub.pages.policy_dry_run import REASON_WORDS
from policies import Reason
from tests.admin.test_browser import chromium  # noqa: F401  (Debian's chromium, or a skip)
from tests.flows.conftest import RunningHub
from tests.relying.conftest import EXAMPLES
from tests.relying.test_portal import operator


def _network_rows(page: str) -> list[str]:
    body = page.split('<table id="networks">')[1].split("</table>")[0]
    return re.findall(r"<tr><td><a [^>]*>[^<]*</a></td>\s*<td[^>]*>[^<]*</td>", body)


def _register(s: requests.Session, hub: RunningHub, csrf: str, name: str) -> requests.Response:
    md = {"client_name": name, "redirect_uris": [f"https://{name.lower().replace(' ', '-')}.example/cb"]}
    return s.post(f"{hub.issuer}/operator/clients", data={"csrf": csrf, "metadata": json.dumps(md)},
                  timeout=5, allow_redirects=False)


def test_registering_redirects_and_a_reload_registers_nothing(running_hub: RunningHub) -> None:
    s, csrf = operator(running_hub, "ops-prg@example.org")
    posted = _register(s, running_hub, csrf, "Fjord Clinicians")
    assert posted.status_code == 303 and posted.headers["Location"] == "/operator"
    shown = s.get(f"{running_hub.issuer}/operator", timeout=5)
    client_id = re.search(r"<dt>client_id</dt><dd><code>([^<]+)</code>", shown.text).group(1)
    assert "Fjord Clinicians is registered" in shown.text and "<dt>client_secret</dt>" in shown.text
    rows = _network_rows(shown.text)
    assert len(rows) == 1 and "Fjord Clinicians" in rows[0] and "pending" in rows[0]
    assert running_hub.hub.clients.get(client_id).status == "pending"

    reloaded = s.get(f"{running_hub.issuer}/operator", timeout=5)  # what the browser's reload sends
    assert "<dt>client_secret</dt>" not in reloaded.text  # shown once
    assert len(_network_rows(reloaded.text)) == 1
    names = [c.name for c in running_hub.hub.clients.all()]
    assert names.count("Fjord Clinicians") == 1


def test_a_refused_registration_keeps_the_metadata_and_the_list(running_hub: RunningHub) -> None:
    s, csrf = operator(running_hub, "ops-refused@example.org")
    assert _register(s, running_hub, csrf, "Kept Network").status_code == 303
    typed = '{"client_name": "Typo Network", "redirect_uris": ["http://typo.example/cb"]}'
    r = s.post(f"{running_hub.issuer}/operator/clients", data={"csrf": csrf, "metadata": typed}, timeout=5)
    assert r.status_code == 400 and 'role="alert"' in r.text
    kept = re.search(r'<textarea id="metadata"[^>]*>(.*?)</textarea>', r.text, re.S).group(1)
    assert html.unescape(kept) == typed  # the operator fixes their text, not retypes it
    assert len(_network_rows(r.text)) == 1 and "Kept Network" in r.text


def test_dry_run_says_who_is_allowed_and_why_not_in_words(running_hub: RunningHub) -> None:
    s, csrf = operator(running_hub, "ops-dry-run@example.org")
    _register(s, running_hub, csrf, "Scandi Forum")
    page = s.get(f"{running_hub.issuer}/operator", timeout=5).text
    client_id = re.search(r"<dt>client_id</dt><dd><code>([^<]+)</code>", page).group(1)
    doc = (EXAMPLES / "scandinavian-doctors-only.yaml").read_text()
    r = s.post(f"{running_hub.issuer}/operator/clients/{client_id}",
               data={"csrf": csrf, "policy": doc, "action": "dry_run"}, timeout=5)
    assert r.status_code == 200
    rows = re.search(r'<textarea id="policy"[^>]*rows="(\d+)"', r.text).group(1)
    assert int(rows) >= doc.count("\n")  # the whole policy in view, no scrolling a slot
    section = r.text.split('id="dry-run-results"')[1].split("</section>")[0]
    results = {chunk.split('"')[0]: chunk for chunk in section.split('id="dry-run-')[1:]}
    assert "danish-gp" in results and "dutch-surgeon" in results
    assert "allowed" in results["danish-gp"] and "Denmark" in results["danish-gp"]
    surgeon = results["dutch-surgeon"]
    assert ">denied<" in surgeon and "Netherlands" in surgeon
    assert REASON_WORDS[Reason.JURISDICTION_NOT_ACCEPTED] in html.unescape(surgeon)
    assert "Signed in with a password only" in surgeon


def test_every_refusal_reason_has_words_for_operators() -> None:
    assert set(REASON_WORDS) == set(Reason)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_operator_edits_and_dry_runs_a_policy_on_a_phone(chromium: Any, running_hub: RunningHub,  # noqa: F811
                                                         tmp_path: Path) -> None:
    _, uri = create_operator(running_hub.hub, "ops-phone@example.org", "a long operator password")
    context = chromium.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{running_hub.issuer}/operator/login")
    page.get_by_label("Email address").fill("ops-phone@example.org")
    page.get_by_label("Password").fill("a long operator password")
    page.get_by_label("Code from your authenticator app").fill(pyotp.parse_uri(uri).now())
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Client metadata").fill(json.dumps(
        {"client_name": "Pocket Network", "redirect_uris": ["https://pocket.example/cb"]}))
    page.get_by_role("button", name="Register").click()
    page.locator("#created-client").wait_for()
    page.reload()  # after the redirect a reload is a GET: nothing is registered again
    assert page.locator("#networks tbody tr").count() == 1
    page.get_by_role("link", name="Pocket Network").click()

    editor = page.get_by_label("Policy document")
    editor.fill((EXAMPLES / "scandinavian-doctors-only.yaml").read_text())
    page.get_by_role("button", name="Dry run against sample doctors").click()
    page.locator("#dry-run-results").wait_for()
    box = page.get_by_label("Policy document").bounding_box()
    assert box["width"] >= 260 and box["x"] + box["width"] <= 360  # the card's width, on screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
    assert page.locator("#dry-run-dutch-surgeon .decision").inner_text() == "denied"
    page.screenshot(path=str(tmp_path / "dry-run-360.png"), full_page=True)
    context.close()
