"""Searching doctors: the fields that match, and hostile input that must stay harmless."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select

from hub.admin.search import like_contains
from hub.persistence.db import utcnow
from hub.persistence.models.accounts import Doctor
from hub.persistence.models.registers import DoctorRegistration
from tests.admin.conftest import ConsoleFor
from tests.flows.conftest import RunningHub


def test_finds_doctors_by_name_email_registration_number_and_id(
        admin_hub: RunningHub, console_for: ConsoleFor) -> None:
    tag = secrets.token_hex(3)
    doctor = admin_hub.doctor(email=f"search-{tag}@clinic.example", given_name="Ingrid",
                              family_name=f"Sø{tag}")
    number = "19" + str(secrets.randbelow(10**9)).zfill(9)
    with admin_hub.hub.db.session() as s:
        s.add(DoctorRegistration(doctor_id=doctor.id, register="nl-big", number=number, country="NL",
                                 profession="physician", status="match", checked_at=utcnow()))
    auditor = console_for("auditor")
    for q in (f"Sø{tag}", f"ingrid sø{tag}", f"SEARCH-{tag}", f"{tag}@clinic", number,
              number[:4] + " " + number[4:], doctor.id):
        r = auditor.get("/admin/doctors", params={"q": q})
        assert r.status_code == 200 and f"/admin/doctors/{doctor.id}" in r.text, q
    assert "A subject at a linked network matches exactly." in r.text


def test_hostile_search_strings_are_harmless(admin_hub: RunningHub, console_for: ConsoleFor) -> None:
    admin_hub.doctor()
    admin_hub.doctor(given_name="Per_cent", family_name="100%")
    with admin_hub.hub.db.session() as s:
        before = s.scalar(select(func.count()).select_from(Doctor))
    auditor = console_for("auditor")
    hostile = ["%", "_", "%%", "\\", "\\%", "' OR '1'='1", "' OR 1=1 --", "\"; DROP TABLE doctors; --",
               "'); DELETE FROM doctors; --", "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>",
               "{{ 7*7 }}", "${7*7}", "\x00", "ä" * 300, "[a-z]*", "*"]
    for q in hostile:
        r = auditor.get("/admin/doctors", params={"q": q})
        assert r.status_code == 200, q
        assert "<script>alert" not in r.text and "<img src=x" not in r.text
        assert "49" not in r.text.split('id="echo">')[-1][:10]  # no template evaluation
        if q in ("%", "_", "%%", "*", "[a-z]*", "\\", "\\%"):
            # Wildcards match themselves only, never "everything".
            listed = r.text.count('href="/admin/doctors/')
            assert listed <= 1, (q, listed)
    r = auditor.get("/admin/doctors", params={"q": "<script>alert(1)</script>"})
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    r = auditor.get("/admin/doctors", params={"q": "100%"})
    assert "Per_cent 100%" in r.text
    with admin_hub.hub.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Doctor)) == before


def test_hostile_names_are_escaped_where_they_are_shown(admin_hub: RunningHub,
                                                        console_for: ConsoleFor) -> None:
    tag = secrets.token_hex(3)
    doctor = admin_hub.doctor(given_name=f"<b>{tag}</b>", family_name="<script>alert('x')</script>")
    auditor = console_for("auditor")
    for path, params in (("/admin/doctors", {"q": tag}), (f"/admin/doctors/{doctor.id}", None)):
        r = auditor.get(path, params=params)
        assert r.status_code == 200
        assert f"&lt;b&gt;{tag}&lt;/b&gt;" in r.text and "<script>alert" not in r.text


def test_like_patterns_escape_their_wildcards() -> None:
    assert like_contains("50%_a\\b") == "%50\\%\\_a\\\\b%"
