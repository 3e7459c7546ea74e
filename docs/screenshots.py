"""Screenshots of the main pages, in each language, at desktop and phone width.

    .venv/bin/python docs/screenshots.py          # needs the test extras and Debian's chromium

Starts a hub with demo-like data on free loopback ports (a throwaway SQLite database), drives
Debian's chromium with Playwright as a doctor and as a partner network's operator would, and
writes PNGs under docs/screenshots/ with docs/screenshots/README.md embedding them. The
language is asked for as browsers and networks do: Accept-Language, and ``ui_locales`` on
the authorization request.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import secrets
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pyotp  # noqa: E402
from PIL import Image  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402
from werkzeug.wrappers import Response  # noqa: E402

from connectors.base import ActivityItem  # noqa: E402
from hub import create_app  # noqa: E402
from hub.domain.client_metadata import validate_metadata  # noqa: E402
from hub.links import links_for  # noqa: E402
from hub.pages.operators import create_operator  # noqa: E402
from hub.persistence.models.links import AccountLink, RelayState  # noqa: E402
from hub.persistence.models.registers import DoctorRegistration  # noqa: E402
from hub.persistence.schema import upgrade  # noqa: E402
from hub.settings import Settings  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
WIDTHS = {"desktop": 1280, "phone": 360}
MAX_HEIGHT = {"desktop": 1600, "phone": 2000}
LANGUAGES = {"en": ("English", "en-GB"), "nl": ("Nederlands", "nl-NL"), "da": ("Dansk", "da-DK")}
PASSWORD = "screenshot-password-1234"  # a throwaway hub's demo data
OPERATOR_PASSWORD = "screenshot-operator-password"
# One doctor per language, each meeting the partner network for the first time (so the
# consent page shows), with a register-verified registration as the demo doctor has.
DOCTORS = {"en": ("Emma", "Hughes", "en-GB", "uk-gmc", "GB"),
           "nl": ("Anna", "de Vries", "nl-NL", "nl-big", "NL"),
           "da": ("Mads", "Jensen", "da-DK", "dk-sst", "DK")}
PAGES = [("sign-in", "Sign-in, from the partner network"), ("consent", "Consent"),
         ("account", "Account"), ("links", "Linked networks"), ("feed", "Feed"),
         ("operator", "Operator portal: a network's access policy, dry run")]
PHYSICIAN_SCOPE = "https://curbside.health/scopes/physician"  # asks for verified_claims
POLICY = ROOT / "policies" / "examples" / "scandinavian-doctors-only.yaml"


class _Late:
    """The hub's WSGI app, set once the socket is bound so the issuer carries the port."""

    app: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)


def serve(app: Any) -> tuple[str, Any]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def start_hub(instance: Path) -> tuple[str, Any]:
    late = _Late()
    issuer, _ = serve(late)
    settings = Settings.from_env({}, issuer=issuer, insecure_transport=True, instance_dir=str(instance),
                                 database_url=f"sqlite:///{instance}/hub.db", outbound_allow_local=True)
    late.app = create_app(settings)
    hub = late.app.extensions["curbside"]
    upgrade(hub.db)
    hub.keys.ensure()
    return issuer, hub


def seed_doctor(hub: Any, lang: str) -> Any:
    given, family, locale, register, country = DOCTORS[lang]
    doctor = hub.accounts.create(email=f"{given.lower()}.{lang}@curbside.test", password=PASSWORD,
                                 given_name=given, family_name=family, locale=locale, email_verified=True)
    now = datetime.now(UTC)
    with hub.db.session() as s:
        s.add(DoctorRegistration(
            doctor_id=doctor.id, register=register, number=secrets.token_hex(4), country=country,
            profession="physician", status="match", reason="", method="live",
            checked_at=now - timedelta(days=3), verified_at=now - timedelta(days=3),
            verified_given_name=given, verified_family_name=family,
            entry={"status": "active", "specialties": []}, evidence={"type": "electronic_record"}))
    return doctor


def seed_links(hub: Any, doctor: Any) -> None:
    """Two linked community feeds with recent posts, as the relay would have stored them."""
    links = links_for(hub)
    now = datetime.now(UTC)
    posts = {"artsennet": [("Casus: atypische pijn op de borst bij een hardloper van 34",
                            "ECG normaal, troponine twijfelachtig. Wat zou jij doen?", "Dr. P. Bakker"),
                           ("Richtlijn antibioticabeleid in de huisartsenpraktijk herzien", "", "NHG")],
             "casus": [("Konference i Aarhus næste måned", "Hvem tager med?", "Dr. L. Nielsen"),
                       ("Case: persistent cough after a viral infection",
                        "Six weeks, normal chest film. Next steps?", "Dr. R. Patel")]}
    for name, display in (("artsennet", "Artsennet"), ("casus", "Casus")):
        if links.networks.get(name) is None:
            links.networks.add(name, "feed", {"allowed_hosts": [f"{name}.example"]}, display_name=display)
        with hub.db.session() as s:
            link = AccountLink(doctor_id=doctor.id, network=name, state="active",
                               active_key=f"{name}|https://{name}.example|{doctor.id}",
                               issuer=f"https://{name}.example", subject=f"https://{name}.example/u/{doctor.id}",
                               display_name=f"{doctor.given_name} {doctor.family_name}", linked_at=now)
            s.add(link)
            s.flush()
            s.add(RelayState(link_id=link.id, last_success_at=now, next_due=now + timedelta(days=1)))
            link_id = link.id
        items = [ActivityItem(network=name, kind="post", title=title, summary=summary,
                              url=f"https://{name}.example/posts/{i}", actor=actor, id=str(i),
                              published=now - timedelta(hours=2 * i + (name == "casus")))
                 for i, (title, summary, actor) in enumerate(posts[name])]
        links.relay.store_items(link_id, doctor.id, items)


def shoot(page: Page, lang: str, name: str, shots: list[Path]) -> None:
    """The page at each width, whole (full_page), as an optimised palette PNG."""
    size = page.viewport_size
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 800})
        png = page.screenshot(full_page=True)
        image = Image.open(io.BytesIO(png)).convert("RGB")
        # A long page (the operator's dry run of eight sample doctors) shows its top part.
        image = image.crop((0, 0, image.width, min(image.height, MAX_HEIGHT[label])))
        # A page of text and flat colours: 256 colours lose nothing one can see, at a third the size.
        image = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        path = OUT / f"{lang}-{name}-{label}.png"
        image.save(path, optimize=True)
        shots.append(path)
    if size:
        page.set_viewport_size(size)


def run_language(browser: Any, issuer: str, hub: Any, lang: str, landing: str, shots: list[Path]) -> None:
    doctor = seed_doctor(hub, lang)
    seed_links(hub, doctor)
    client_id = "demo-network"
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale=LANGUAGES[lang][1])
    page = context.new_page()
    page.set_default_timeout(15_000)
    verifier = secrets.token_urlsafe(48)
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": f"{landing}/callback",
             "scope": f"openid profile email {PHYSICIAN_SCOPE}",
             "state": secrets.token_urlsafe(12), "nonce": secrets.token_urlsafe(12), "ui_locales": lang,
             "code_challenge": _s256(verifier), "code_challenge_method": "S256"}
    page.goto(f"{issuer}/authorize?{urlencode(query)}")
    shoot(page, lang, "sign-in", shots)
    page.locator("#email").fill(doctor.email)
    page.locator("#password").fill(PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    page.locator("form[action='/consent']").wait_for()
    shoot(page, lang, "consent", shots)
    page.locator("button[value=allow]").click()
    page.wait_for_url(f"{landing}/callback?**")
    for name, path in (("account", "/account"), ("links", "/account/links"), ("feed", "/feed")):
        page.goto(f"{issuer}{path}")
        shoot(page, lang, name, shots)
    context.close()

    # The operator of a partner network, signing in with their authenticator app.
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale=LANGUAGES[lang][1])
    page = context.new_page()
    page.set_default_timeout(15_000)
    email = f"operator.{lang}@nordic-forum.test"
    _, uri = create_operator(hub, email, OPERATOR_PASSWORD)
    page.goto(f"{issuer}/operator/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(OPERATOR_PASSWORD)
    page.locator("#otp").fill(pyotp.parse_uri(uri).now())
    page.locator("form[action='/operator/login'] button[type=submit]").click()
    page.locator("#metadata").fill(json.dumps({
        "client_name": "Nordic Doctors Forum", "redirect_uris": ["https://nordic-forum.example/callback"]},
        indent=2))
    page.locator("form[action='/operator/clients'] button[type=submit]").click()
    page.locator("#created-client").wait_for()
    page.locator("#networks a").first.click()
    page.locator("#policy").fill(POLICY.read_text())
    page.locator("button[value=dry_run]").click()
    page.locator("#dry-run-results").wait_for()
    shoot(page, lang, "operator", shots)
    context.close()


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def write_index(shots: list[Path]) -> None:
    lines = ["# Screenshots", "",
             "The main pages of Curbside in each language it offers, at desktop (1280 px) and",
             "phone (360 px) width. Made by `docs/screenshots.py` (run it with the project's venv",
             "after installing the test extras; it needs Debian's chromium) on a hub with demo data.", ""]
    made = {p.name for p in shots}
    for lang, (language, _) in LANGUAGES.items():
        lines += [f"## {language}", ""]
        for name, title in PAGES:
            lines += [f"### {title}", ""]
            for label in WIDTHS:
                file = f"{lang}-{name}-{label}.png"
                if file in made:
                    shown = {"desktop": 640, "phone": 240}[label]  # side by side on one screen
                    lines.append(f'<img src="{file}" alt="{title}, {language}, {label}" width="{shown}">')
            lines.append("")
    (OUT / "README.md").write_text("\n".join(lines))


def main(on_progress: Callable[[str], None] = print) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.png"):
        old.unlink()
    landing_page = Response('<!doctype html><html lang="en"><title>Nordic Doctors Forum</title>'
                            "<main><h1>Signed in</h1></main></html>", mimetype="text/html")
    landing, _ = serve(lambda environ, start: landing_page(environ, start))
    shots: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="curbside-screenshots-") as tmp:
        issuer, hub = start_hub(Path(tmp))
        hub.clients.create(validate_metadata({
            "client_name": "Demo Doctors Forum", "redirect_uris": [f"{landing}/callback"],
            "post_logout_redirect_uris": [f"{landing}/"]}), client_id="demo-network")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
            for lang in LANGUAGES:
                run_language(browser, issuer, hub, lang, landing, shots)
                on_progress(f"{lang}: done")
            browser.close()
        hub.db.engine.dispose()
    write_index(shots)
    total = sum(p.stat().st_size for p in shots)
    on_progress(f"{len(shots)} screenshots, {total // 1024} KiB, in {OUT.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
