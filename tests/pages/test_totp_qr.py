"""TOTP enrolment as a doctor with a phone sees it: a QR code that an authenticator app can
scan, decoded here from a screenshot in Debian's chromium back to the otpauth URI."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest

from tests.admin.test_browser import chromium  # noqa: F401  (Debian's chromium, or a skip)
from tests.flows.conftest import PASSWORD, RunningHub

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:  # noqa: F811
    context = chromium.new_context(viewport={"width": 360, "height": 800})  # a phone
    page = context.new_page()
    page.set_default_timeout(10_000)
    refused: list[str] = []
    # Inline markup the page's CSP refuses shows up as a console error naming the policy.
    page.on("console", lambda msg: refused.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text else None)
    yield page
    context.close()
    assert refused == []


def decode_qr(png: bytes) -> list[str]:
    import zxingcpp
    from PIL import Image

    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"),
                                   formats=zxingcpp.BarcodeFormat.QRCode)
    return [b.text for b in found]


def test_doctor_scans_the_qr_code_and_turns_on_two_step_sign_in(page: Any, running_hub: RunningHub) -> None:
    doctor = running_hub.doctor()
    page.goto(f"{running_hub.issuer}/account/mfa")
    page.get_by_label("Email address").fill(doctor.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.goto(f"{running_hub.issuer}/account/mfa")

    qr = page.locator("#totp-qr svg")
    box = qr.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360  # whole on a phone's screen
    uri = page.locator("#totp-link").get_attribute("href")
    assert decode_qr(qr.screenshot()) == [uri]
    scanned = urlsplit(uri)
    params = parse_qs(scanned.query)
    assert scanned.scheme == "otpauth" and scanned.netloc == "totp"
    assert unquote(scanned.path).endswith(doctor.email)
    # The key is still shown, for an app that cannot scan: the same secret as in the code.
    assert page.locator("#totp-secret").inner_text().strip() == params["secret"][0]

    page.get_by_label(re.compile("6-digit code")).fill(pyotp.parse_uri(uri).now())
    page.get_by_role("button", name="Turn on").click()
    page.locator("#recovery-codes").wait_for()
    assert running_hub.hub.accounts.get(doctor.id).mfa_enabled
