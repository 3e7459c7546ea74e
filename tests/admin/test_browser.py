"""The console in headless Chromium (Debian's package, driven by Playwright; no downloads).

Skipped when Chromium or Playwright is missing, unless CURBSIDE_TEST_BROWSER=required (CI),
then a missing browser is a failure. The UI does not depend on the database, so these run
on the embedded backend only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest

from tests.admin.conftest import ADMIN_PASSWORD, new_admin
from tests.browser import launched_chromium
from tests.flows.conftest import RunningHub

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    yield from launched_chromium()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    # A CSP violation or a failed asset shows up as a console error.
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield page
    context.close()
    assert errors == []


def sign_in(page: Any, h: RunningHub, email: str, secret: str) -> None:
    page.goto(f"{h.issuer}/admin/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("6-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name=re.compile("continue", re.I)).click()
    page.get_by_role("heading", name="Dashboard").wait_for()


def test_admin_signs_in_searches_opens_a_doctor_and_approves_a_network(page: Any,
                                                                      admin_hub: RunningHub) -> None:
    doctor = admin_hub.doctor(given_name="Browser", family_name="Tested")
    pending = admin_hub.client(status="pending", client_name="Browser Pending Network")
    admin = new_admin(admin_hub, "admin")  # with the TOTP secret issued at creation
    assert admin.secret
    sign_in(page, admin_hub, admin.email, admin.secret)
    assert page.locator("svg.chart title").count() >= 1 or page.locator(".note").count() >= 1
    page.get_by_role("link", name="Doctors").click()
    page.get_by_label("Name, email, registration number or account id").fill("browser tested")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Browser Tested").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Browser Tested"
    assert doctor.email in page.content()
    page.get_by_role("link", name="Networks").click()
    row = page.locator("tr", has_text="Browser Pending Network")
    row.get_by_role("button", name="Approve").click()  # the reason is required: nothing is sent
    assert admin_hub.hub.clients.get(pending["client_id"]).status == "pending"
    row.get_by_label(re.compile("Reason for .Approve")).fill("Contract signed")
    row.get_by_role("button", name="Approve").click()
    page.locator("#done").wait_for()
    assert admin_hub.hub.clients.get(pending["client_id"]).status == "active"


def test_auditor_sees_no_actions_and_a_forced_one_is_403(page: Any, admin_hub: RunningHub) -> None:
    doctor = admin_hub.doctor()
    auditor = new_admin(admin_hub, "auditor")
    sign_in(page, admin_hub, auditor.email, auditor.secret)
    page.goto(f"{admin_hub.issuer}/admin/doctors/{doctor.id}")
    assert page.get_by_role("button", name="Suspend").count() == 0
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    r = page.request.post(f"{admin_hub.issuer}/admin/doctors/{doctor.id}/suspend",
                          form={"csrf": csrf, "reason": "trying anyway"})
    assert r.status == 403 and "auditor" in r.text()
    assert not admin_hub.hub.accounts.get(doctor.id).disabled
