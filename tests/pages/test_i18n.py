"""The pages in English, Dutch and Danish: every marked string translated, and the language a
doctor gets chosen as OIDC Core §3.1.2.1 and the account say (ui_locales, then the doctor's
saved locale, then Accept-Language), through the real hub on a real socket."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from babel.dates import format_date, format_datetime
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.support import Translations

from hub import i18n
from hub.domain.passkeys import MAX_PASSKEYS, PasskeyError
from hub.pages import passkeys as passkey_pages
from tests.admin.test_browser import chromium  # noqa: F401  (Debian's chromium, or a skip)
from tests.domain.test_passkeys import SoftAuthenticator
from tests.flows.conftest import PASSWORD, Browser, RelyingParty, RunningHub, callback_params

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
LANG = re.compile(r'<html lang="([^"]+)"')


def extracted() -> set[Any]:
    """Every message marked in the code and the templates, as babel's extractor finds it."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    return {message for _, _, message, _, _ in
            extract_from_dir(str(ROOT), method_map, options_map, keywords=KEYWORDS)}


@pytest.mark.parametrize("locale", ["nl", "da"])
def test_every_marked_string_has_a_translation(locale: str) -> None:
    with (i18n.TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale=locale)
    translated = {m.id for m in catalog if m.id and not m.fuzzy and (
        all(m.string) if isinstance(m.string, tuple) else m.string)}
    wanted = extracted()
    assert len(wanted) > 300  # the extractor found the pages' words at all
    missing = sorted(str(m) for m in wanted - translated)
    assert missing == [], f"{len(missing)} messages have no {locale} translation: {missing[:10]}"
    # The placeholders of each translation are the original's (babel's own checkers).
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()]
    assert problems == []


def test_catalogues_compile_when_missing_or_older(tmp_path: Path) -> None:
    """A fresh clone has no .mo: the app compiles them at start-up, and again after a .po
    changes."""
    shutil.copytree(i18n.TRANSLATIONS, tmp_path / "t", ignore=shutil.ignore_patterns("*.mo"))
    written = i18n.compile_catalogues(tmp_path / "t")
    assert sorted(p.parent.parent.name for p in written) == ["da", "nl"]
    assert i18n.compile_catalogues(tmp_path / "t") == []  # up to date: nothing to do
    nl = Translations.load(str(tmp_path / "t"), ["nl"])
    assert nl.gettext("Sign in") == "Inloggen"
    po = tmp_path / "t" / "nl" / "LC_MESSAGES" / "messages.po"
    po.write_text(po.read_text().replace('msgstr "Inloggen"', 'msgstr "Aanmelden"'))
    mo = po.with_suffix(".mo")
    stamp = mo.stat().st_mtime
    os.utime(po, (stamp + 10, stamp + 10))
    assert i18n.compile_catalogues(tmp_path / "t") == [mo]
    assert Translations.load(str(tmp_path / "t"), ["nl"]).gettext("Sign in") == "Aanmelden"


@pytest.mark.parametrize(("ui_locales", "saved", "accept", "chosen"), [
    ("da nl", "nl-NL", "en", "da"),
    ("fr-CA de nl-BE", None, "da", "nl"),  # the first supported one wins
    ("fr", "nl-NL", "da", "nl"),
    (None, "da_DK", "nl", "da"),
    (None, "fr-FR", "nl-NL,nl;q=0.9,en;q=0.5", "nl"),
    (None, None, "fr, da;q=0.5", "da"),
    (None, None, "fr", "en"),
    (None, None, None, "en"),
])
def test_the_order_of_choice(ui_locales: str | None, saved: str | None, accept: str | None,
                             chosen: str) -> None:
    from werkzeug.datastructures import LanguageAccept
    from werkzeug.http import parse_accept_header

    header = parse_accept_header(accept, LanguageAccept) if accept else None
    assert i18n.negotiate(ui_locales, saved, header) == chosen


# -- through the hub --------------------------------------------------------------------------------
def test_discovery_lists_the_three_languages(running_hub: RunningHub) -> None:
    assert running_hub.metadata()["ui_locales_supported"] == ["en", "nl", "da"]


def test_accept_language_dutch_gets_the_dutch_sign_in_page(running_hub: RunningHub) -> None:
    page = requests.get(f"{running_hub.issuer}/account", headers={"Accept-Language": "nl-NL,nl;q=0.9"},
                        timeout=10)
    assert page.status_code == 200
    assert LANG.search(page.text).group(1) == "nl"
    assert "<h1>Inloggen</h1>" in page.text and "Wachtwoord" in page.text
    english = requests.get(f"{running_hub.issuer}/account", timeout=10)
    assert LANG.search(english.text).group(1) == "en" and "<h1>Sign in</h1>" in english.text


def test_ui_locales_danish_through_sign_in_and_consent(running_hub: RunningHub) -> None:
    doctor = running_hub.doctor()
    rp = RelyingParty(running_hub, running_hub.client(client_name="Nordisk Lægenetværk"))
    browser = Browser(running_hub)
    browser.s.headers["Accept-Language"] = "en"  # ui_locales comes first
    url, _ = rp.authorization_url(ui_locales="da nl")
    login = browser.get(url)
    assert LANG.search(login.text).group(1) == "da"
    assert "Log ind for at fortsætte til Nordisk Lægenetværk" in login.text
    wrong = browser.post(f"{running_hub.issuer}/login",
                         {**browser.hidden(login), "email": doctor.email, "password": "wrong password!"})
    assert wrong.status_code == 401
    assert "E-mailadressen og adgangskoden passer ikke sammen." in wrong.text
    consent = browser.login(login, doctor.email)
    # The request's ui_locales is remembered through its steps (the POSTs do not carry it).
    assert LANG.search(consent.text).group(1) == "da"
    assert "Nordisk Lægenetværk vil gerne vide, hvem du er" in consent.text
    assert "Dit fulde navn" in consent.text and ">Fortsæt</button>" in consent.text
    tokens = rp.exchange(callback_params(browser.consent(consent)))
    assert rp.validate_id_token(tokens["id_token"])["sub"]


def test_a_doctor_with_locale_nl_sees_dutch_account_pages(running_hub: RunningHub) -> None:
    doctor = running_hub.doctor(locale="nl-NL")
    rp = RelyingParty(running_hub, running_hub.client(client_name="Huisartsennet"))
    browser = Browser(running_hub)
    browser.s.headers["Accept-Language"] = "en-GB,en;q=0.9"  # the saved locale comes first
    rp.sign_in(browser, doctor.email)
    account = browser.get(f"{running_hub.issuer}/account")
    assert account.status_code == 200
    assert LANG.search(account.text).group(1) == "nl"
    assert "Verbonden netwerken" in account.text and "Uitloggen" in account.text
    # Dates as a Dutch reader writes them ("6 dec 2026"), not ISO or English.
    assert format_date(datetime.now(UTC), "medium", locale="nl") in account.text
    links = browser.get(f"{running_hub.issuer}/account/links")
    assert LANG.search(links.text).group(1) == "nl" and "Gekoppelde netwerken" in links.text
    verification = browser.get(f"{running_hub.issuer}/account/verification")
    assert "Een inschrijving controleren" in verification.text


def test_a_doctor_chooses_danish_on_the_account_page(running_hub: RunningHub) -> None:
    doctor = running_hub.doctor()
    browser = Browser(running_hub)
    page = browser.get(f"{running_hub.issuer}/account")
    browser.login(page, doctor.email)
    account = browser.get(f"{running_hub.issuer}/account")
    assert "<h2 id=\"language\">Language</h2>" in account.text
    csrf = browser.hidden(account)["csrf"]
    refused = browser.post(f"{running_hub.issuer}/account/language", {"csrf": csrf, "locale": "klingon"})
    assert refused.status_code == 400
    saved = browser.post(f"{running_hub.issuer}/account/language", {"csrf": csrf, "locale": "da"})
    assert saved.status_code == 303
    assert running_hub.hub.accounts.get(doctor.id).locale == "da"
    danish = browser.get(f"{running_hub.issuer}/account")
    assert LANG.search(danish.text).group(1) == "da" and "Forbundne netværk" in danish.text
    assert '<option value="da" lang="da" selected>Dansk</option>' in danish.text


def test_error_pages_speak_the_browser_language(running_hub: RunningHub) -> None:
    danish = {"Accept-Language": "da"}
    missing = requests.get(f"{running_hub.issuer}/no-such-page", headers=danish, timeout=10)
    assert missing.status_code == 404 and "Siden blev ikke fundet" in missing.text
    assert LANG.search(missing.text).group(1) == "da"
    # A page of the protocol app (outside Flask): an authorization request from nobody known.
    broken = requests.get(f"{running_hub.issuer}/authorize?client_id=x&response_type=code",
                          headers={"Accept-Language": "nl"}, timeout=10)
    assert broken.status_code == 400
    assert LANG.search(broken.text).group(1) == "nl" and "Het partnernetwerk is niet bekend bij Curbside" in broken.text
    expired = requests.post(f"{running_hub.issuer}/login", data={"pending": "gone"},
                            headers={"Accept-Language": "da"}, timeout=10)
    assert "Din login-side er udløbet" in expired.text


def test_a_session_never_passes_its_language_to_the_next_request(running_hub: RunningHub) -> None:
    """The protocol app's choice lives in the request's context only: a Danish sign-in page
    followed by a request without any preference is English again, on the same threads."""
    rp = RelyingParty(running_hub, running_hub.client())
    for _ in range(3):
        url, _state = rp.authorization_url(ui_locales="da")
        assert 'lang="da"' in requests.get(url, timeout=10).text
        assert 'lang="en"' in requests.get(f"{running_hub.issuer}/account", timeout=10).text


# -- in a browser ---------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_signing_in_through_the_dutch_page_in_chromium(chromium: Any, running_hub: RunningHub) -> None:  # noqa: F811
    doctor = running_hub.doctor()
    context = chromium.new_context(locale="nl-NL")  # Accept-Language: nl-NL
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{running_hub.issuer}/account")
        assert page.locator("html").get_attribute("lang") == "nl"
        page.get_by_label("E-mailadres").fill(doctor.email)
        page.get_by_label("Wachtwoord").fill(PASSWORD)
        page.get_by_role("button", name="Inloggen", exact=True).click()
        page.get_by_role("heading", name="Verbonden netwerken").wait_for()
        assert page.title() == "Uw account · Curbside"
    finally:
        context.close()



def test_a_refusal_in_danish_says_why_from_the_reason(running_hub: RunningHub) -> None:
    """The policy library's sentence is English; in Danish the page says the same from the
    decision's reason ids, and the way forward is Danish too."""
    from tests.relying.conftest import set_policy

    creds = running_hub.client(client_name="GMC Net")
    set_policy(running_hub, creds["client_id"], "uk-gmc")
    rp = RelyingParty(running_hub, creds)
    browser = Browser(running_hub)
    url, _ = rp.authorization_url(ui_locales="da")
    page = browser.through(browser.get(url), running_hub.doctor().email)
    assert page.status_code == 403 and LANG.search(page.text).group(1) == "da"
    assert "Du kan ikke komme ind på GMC Net endnu" in page.text
    assert ("Netværket accepterer kun sundhedspersoner, hvis autorisation Curbside har bekræftet."
            in page.text)
    assert ">Start verificering</a>" in page.text


def test_the_operator_portal_in_dutch(running_hub: RunningHub) -> None:
    from tests.relying.conftest import EXAMPLES
    from tests.relying.test_portal import operator

    s, csrf = operator(running_hub, "ops-nl@example.org")
    s.headers["Accept-Language"] = "nl-BE,nl;q=0.9"
    md = '{"client_name": "Zorgnet", "redirect_uris": ["https://zorgnet.example/cb"]}'
    shown = s.get(f"{running_hub.issuer}/operator", timeout=5)
    assert LANG.search(shown.text).group(1) == "nl" and "Een netwerk registreren" in shown.text
    registered = s.post(f"{running_hub.issuer}/operator/clients", data={"csrf": csrf, "metadata": md},
                        timeout=5)
    assert "Zorgnet is geregistreerd" in registered.text
    assert "in behandeling: een beheerder van Curbside beoordeelt het" in registered.text
    client_id = re.search(r"<dt>client_id</dt><dd><code>([^<]+)</code>", registered.text).group(1)
    doc = (EXAMPLES / "scandinavian-doctors-only.yaml").read_text()
    dry = s.post(f"{running_hub.issuer}/operator/clients/{client_id}",
                 data={"csrf": csrf, "policy": doc, "action": "dry_run"}, timeout=5)
    assert re.search(r"Proefdraaien: \d+ van \d+ voorbeeldartsen toegelaten", dry.text)
    assert "Ze zijn bevoegd in een land dat het beleid niet accepteert." in dry.text
    assert "Alleen ingelogd met een wachtwoord" in dry.text


# -- passkeys ---------------------------------------------------------------------------------------
def passkey_refusals() -> list[str]:
    """Every sentence a PasskeyError is raised with (the passkey library and its pages), as
    the doctor would get it: a reason from py_webauthn stands in for the library's own."""
    said = []
    for path in ("hub/domain/passkeys.py", "hub/pages/passkeys.py"):
        for node in ast.walk(ast.parse((ROOT / path).read_text())):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "PasskeyError"):
                continue
            arg = node.args[0]
            if isinstance(arg, ast.Constant):
                said.append(arg.value)
            else:  # an f-string
                said.append("".join(
                    v.value if isinstance(v, ast.Constant)
                    else str(MAX_PASSKEYS) if ast.unparse(v.value) == "MAX_PASSKEYS"
                    else "Unexpected client data type." for v in arg.values))  # type: ignore[attr-defined]
    return said


@pytest.mark.parametrize("locale", ["nl", "da"])
def test_every_passkey_refusal_reads_in_each_language(running_hub: RunningHub, locale: str) -> None:
    """The passkey library has no Flask and refuses in English; the pages say each of its
    sentences in the doctor's language, and a new one without a translation fails here."""
    refusals = passkey_refusals()
    assert len(refusals) > 15
    with running_hub.app.test_request_context("/"):
        token = i18n.choose(locale)
        try:
            untranslated = [s for s in refusals if passkey_pages._said(PasskeyError(s)) == s]
            english = i18n.choose("en")
            assert [passkey_pages._said(PasskeyError(s)) for s in refusals] == refusals
            i18n.reset(english)
        finally:
            i18n.reset(token)
    assert untranslated == []


def test_the_passkey_sign_in_page_speaks_the_requests_language(running_hub: RunningHub) -> None:
    """ui_locales reaches the passkey page as it reaches the login page: its words, the words
    its script shows (data attributes: the CSP allows no inline script) and the library's
    refusals are Danish for a browser that asks for English."""
    rp = RelyingParty(running_hub, running_hub.client(client_name="Nordisk Lægenetværk"))
    browser = Browser(running_hub)
    browser.s.headers["Accept-Language"] = "en"
    url, _ = rp.authorization_url(ui_locales="da")
    login = browser.get(url)
    assert ">Log ind med en adgangsnøgle</button>" in login.text
    pending = browser.hidden(login)["pending"]
    page = browser.get(f"{running_hub.issuer}/login/passkey?pending={pending}")
    assert page.status_code == 200 and LANG.search(page.text).group(1) == "da"
    assert "<h1>Log ind med en adgangsnøgle for at fortsætte til Nordisk Lægenetværk</h1>" in page.text
    assert 'data-cancelled="Anmodningen om adgangsnøglen blev annulleret eller udløb. Prøv igen."' in page.text
    assert ">Brug min adgangsnøgle</button>" in page.text and "<script>" not in page.text
    options = browser.s.post(f"{running_hub.issuer}/login/passkey/options", json={"pending": pending},
                             timeout=10)
    assert options.status_code == 200
    malformed = browser.post(f"{running_hub.issuer}/login/passkey", {"pending": pending, "credential": "{}"})
    assert malformed.status_code == 400 and LANG.search(malformed.text).group(1) == "da"
    assert "Svaret fra adgangsnøglen er ugyldigt: " in malformed.text
    not_json = browser.post(f"{running_hub.issuer}/login/passkey", {"pending": pending, "credential": "x"})
    assert "Svaret fra adgangsnøglen er ikke gyldig JSON." in not_json.text
    # The script's JSON errors speak the browser's language when no request says otherwise.
    gone = requests.post(f"{running_hub.issuer}/login/passkey/options", json={"pending": "gone"},
                         headers={"Accept-Language": "nl"}, timeout=10)
    assert gone.status_code == 400
    assert gone.json()["error_description"].startswith("Deze inlogpagina is verlopen.")


def test_a_dutch_doctor_manages_her_passkeys_in_dutch(running_hub: RunningHub) -> None:
    h = running_hub
    doctor = h.doctor(locale="nl-NL")
    browser = Browser(h)
    browser.login(browser.get(f"{h.issuer}/account"), doctor.email)
    empty = browser.get(f"{h.issuer}/account/passkeys")
    assert LANG.search(empty.text).group(1) == "nl" and "<h2 id=\"passkeys\">Uw passkeys</h2>" in empty.text
    assert "<p>Nog geen passkeys.</p>" in empty.text and ">Passkey toevoegen</button>" in empty.text
    csrf = browser.hidden(empty)["csrf"]
    options = browser.s.post(f"{h.issuer}/account/passkeys/options", json={"csrf": csrf}, timeout=10).json()
    credential = json.dumps(SoftAuthenticator(origin=h.issuer).create(options))
    # Unnamed: named in her language, with the date as she writes it.
    assert browser.post(f"{h.issuer}/account/passkeys",
                        {"csrf": csrf, "name": " ", "credential": credential}).status_code == 303
    now = datetime.now(UTC)
    listed = browser.get(f"{h.issuer}/account/passkeys")
    name = f"Passkey toegevoegd op {format_date(now, 'medium', locale='nl')}"
    assert f'value="{name}"' in listed.text and "Nog niet gebruikt" in listed.text
    assert format_datetime(now, "short", locale="nl")[:10] in listed.text  # "06-12-2026 09:30"
    assert f'aria-label="{name} verwijderen"' in listed.text
    account = browser.get(f"{h.issuer}/account")
    assert f"1 passkey: {name}." in account.text and ">Passkeys beheren</a>" in account.text
    passkey_id = re.search(r'id="passkey-(\d+)"', listed.text).group(1)
    unnamed = browser.post(f"{h.issuer}/account/passkeys/{passkey_id}/rename", {"csrf": csrf, "name": ""})
    assert unnamed.status_code == 400 and "Geef de passkey een naam." in unnamed.text
    again = browser.s.post(f"{h.issuer}/account/passkeys/options", json={"csrf": "stale"}, timeout=10)
    assert again.json()["error_description"] == "Deze pagina is verlopen. Laad de pagina opnieuw en probeer het nog eens."
