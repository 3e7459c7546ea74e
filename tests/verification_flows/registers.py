"""Small register files in each register's own format, written per test with fresh
registration numbers (the flow tests share one database per run), and a fake of the two
live register interfaces (BIG-register SOAP, NPPES API) on a local socket."""

from __future__ import annotations

import csv
import io
import itertools
import json
import random
import re
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from hub.verification.us_nppes import luhn_ok
from tests.verification.lrmp import lrmp_row, write_lrmp

FIXTURES = Path(__file__).parent.parent / "verification" / "fixtures"
_rng = random.Random()
_DK_CHARS = "0123456789BCDFGHJKLMNPQRSTVWXYZ"


def gmc_number() -> str:
    return str(_rng.randrange(8_000_000, 9_999_999))


def big_number() -> str:
    return str(_rng.randrange(80_000_000_000, 99_999_999_999))


def npi() -> str:
    stem = str(_rng.randrange(100_000_000, 999_999_999))
    return next(stem + str(d) for d in range(10) if luhn_ok(stem + str(d)))


def dk_id() -> str:
    return "".join(_rng.choice(_DK_CHARS) for _ in range(5))


@dataclass(frozen=True)
class Person:
    given: str
    family: str
    number: str
    other: str = ""  # GMC "Other Names", NPPES middle name
    prefix: str = ""  # BIG tussenvoegsel
    initials: str = ""  # BIG


# -- GMC LRMP (the published 45-column layout; the daily delta has the same one) -------------
def _gmc_row(p: Person, status: str, **flags: str) -> list[str]:
    """``flags``: conditions, undertakings, warnings (Y or N, the FTP ... Exist columns)."""
    return lrmp_row(p.number, p.family, p.given, other=p.other, status=status, fr_date="5082006",
                    specialties=("General practice",), **flags)


def gmc_full(path: Path, people: list[Person], status: str = "Registered with Licence", **flags: str) -> Path:
    write_lrmp(path, [_gmc_row(p, status, **flags) for p in people])
    return path


def gmc_delta(path: Path, changes: list[tuple[Person, str]], **flags: str) -> Path:
    """The rows that changed, as (person, new Registration Status), in the full layout."""
    write_lrmp(path, [_gmc_row(p, status, **flags) for p, status in changes])
    return path


# -- NPPES ------------------------------------------------------------------------------------
def nppes_full(path: Path, people: list[Person], *, state: str = "MA") -> Path:
    header = (FIXTURES / "nppes_full.csv").read_text("utf-8").splitlines()[0]
    columns = next(csv.reader([header]))
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    w.writerow(columns)
    for p in people:
        values = {"NPI": p.number, "Entity Type Code": "1",
                  "Provider Last Name (Legal Name)": p.family.upper(),
                  "Provider First Name": p.given.upper(), "Provider Middle Name": p.other.upper(),
                  "Provider Credential Text": "M.D.", "Provider Enumeration Date": "05/23/2006",
                  "Healthcare Provider Taxonomy Code_1": "207R00000X", "Provider License Number_1": "A123456",
                  "Provider License Number State Code_1": state,
                  "Healthcare Provider Primary Taxonomy Switch_1": "Y"}
        w.writerow([values.get(c, "") for c in columns])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def nppes_api_item(p: Person, *, state: str = "MA", status: str = "A") -> dict[str, Any]:
    return {"enumeration_type": "NPI-1", "number": p.number,
            "basic": {"first_name": p.given.upper(), "last_name": p.family.upper(),
                      "middle_name": p.other.upper(), "credential": "M.D.", "enumeration_date": "2006-05-23",
                      "status": status},
            "taxonomies": [{"code": "207R00000X", "desc": "Internal Medicine", "state": state,
                            "license": "A123456", "primary": True}]}


# -- BIG-register -----------------------------------------------------------------------------
def big_element(p: Person, *, measure: bool = False) -> str:
    jp = ""
    if measure:
        jp = (f"<JudgmentProvision><JudgmentProvisionExtApp><ArticleNumber>{p.number}</ArticleNumber>"
              "<StartDate>2020-01-01T00:00:00</StartDate><PublicDescription>Voorwaardelijke schorsing"
              "</PublicDescription></JudgmentProvisionExtApp></JudgmentProvision>")
    return (f"<ListHcpApprox4><BirthSurname>{escape(p.family)}</BirthSurname>"
            f"<Prefix>{escape(p.prefix)}</Prefix><Initial>{escape(p.initials)}</Initial><Gender>M</Gender>"
            "<ArticleRegistration><ArticleRegistrationExtApp>"
            f"<ArticleRegistrationNumber>{p.number}</ArticleRegistrationNumber>"
            "<ArticleRegistrationStartDate>2004-06-15T00:00:00</ArticleRegistrationStartDate>"
            "<ArticleRegistrationEndDate>0001-01-01T00:00:00</ArticleRegistrationEndDate>"
            "<ProfessionalGroupCode>01</ProfessionalGroupCode>"
            f"</ArticleRegistrationExtApp></ArticleRegistration>{jp}</ListHcpApprox4>")


def big_mirror(path: Path, people: list[Person]) -> Path:
    body = "\n".join(big_element(p) for p in people)
    path.write_text('<?xml version="1.0" encoding="utf-8"?>\n<ListHcpApprox xmlns="http://services.cibg.nl/'
                    f'ExternalUser">\n{body}\n</ListHcpApprox>\n', encoding="utf-8")
    return path


def big_answer(elements: list[str]) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/'
            'soap/envelope/"><soap:Body><ListHcpApprox4Result xmlns="http://services.cibg.nl/ExternalUser">'
            f'<ListHcpApprox>{"".join(elements)}</ListHcpApprox></ListHcpApprox4Result></soap:Body>'
            "</soap:Envelope>").encode()


# -- Autorisationsregisteret ------------------------------------------------------------------
# The flow tests share one database per run, and every extract is a complete snapshot that
# must be newer than the last: the fake register keeps every authorisation written so far,
# and each extract gets the next day's date.
_DK_REGISTER: dict[str, Person] = {}
_DK_DAYS = itertools.count()


def dk_extract_name(suffix: str = "AutDK.csv") -> str:
    """A fresh extract name, ``yyyyMMdd`` + suffix, one day after the previous one."""
    return f"{(date(2026, 1, 1) + timedelta(days=next(_DK_DAYS))).strftime('%Y%m%d')}{suffix}"


def dk_snapshot(folder: Path, people: list[Person], *, withdraw: tuple[Person, ...] = ()) -> Path:
    """The next daily extract: every authorisation so far plus ``people``, less ``withdraw``."""
    for p in people:
        _DK_REGISTER[p.number] = p
    for p in withdraw:
        _DK_REGISTER.pop(p.number, None)
    path = folder / dk_extract_name()
    lines = [f"{p.number};0101011234;{p.family};{p.given};7170\n" for p in _DK_REGISTER.values()]
    path.write_bytes("".join(lines).encode("iso-8859-15"))
    return path


# -- the live interfaces ----------------------------------------------------------------------
SOAP_FAULT = (b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/'
              b'soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Server</faultcode><faultstring>'
              b"Server was unable to process request.</faultstring></soap:Fault></soap:Body></soap:Envelope>")
_BIG_NUMBER = re.compile(rb"<ext:RegistrationNumber>(\d+)<")


class FakeRegisters:
    """BIG-register SOAP at /big and the NPI Registry API at /nppes, answering from dicts
    the tests fill; anything unknown is an empty (not found) answer. ``down`` names the
    registers answering 503 (an outage), ``stalled`` those that never answer in time; a
    deactivated NPI gets the API's HTTP 200 ``Errors`` answer numbered 15, ``faults`` answer a
    SOAP fault (HTTP 500), and ``raw``
    holds verbatim answers (other ``Errors``, broken JSON) by NPI."""

    def __init__(self) -> None:
        self.big: dict[str, str] = {}
        self.nppes: dict[str, dict[str, Any]] = {}
        self.deactivated: set[str] = set()
        self.raw: dict[str, bytes] = {}
        self.down: set[str] = set()
        self.stalled: set[str] = set()
        self.faults: set[str] = set()
        # A verbatim answer (status, body) for every request to a register, and what was asked.
        self.script: dict[str, tuple[int, bytes]] = {}
        self.received: list[tuple[str, dict[str, str], bytes, dict[str, str]]] = []
        self.calls = 0
        self._release = threading.Event()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.base = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def reset(self) -> None:
        """Every register up again, answering from the dicts."""
        self.down.clear()
        self.stalled.clear()
        self.faults.clear()
        self.script.clear()
        self.received.clear()
        self._release.set()
        self._release = threading.Event()

    @Request.application  # type: ignore[misc]
    def _app(self, request: Request) -> Response:
        self.calls += 1
        register = request.path.strip("/")
        self.received.append((register, dict(request.headers), request.get_data(), dict(request.args)))
        if register in self.stalled:
            self._release.wait(10)  # longer than any lookup deadline
        if register in self.down:
            return Response("Service Unavailable", status=503)
        if register in self.faults:
            return Response(SOAP_FAULT, status=500, content_type="text/xml; charset=utf-8")
        if register in self.script:
            status, body = self.script[register]
            kind = "text/xml; charset=utf-8" if register == "big" else "application/json"
            return Response(body, status=status, content_type=kind)
        if register == "big":
            m = _BIG_NUMBER.search(request.get_data())
            found = [self.big[m.group(1).decode()]] if m and m.group(1).decode() in self.big else []
            return Response(big_answer(found), content_type="text/xml; charset=utf-8")
        if register == "nppes":
            number = request.args.get("number", "")
            if number in self.raw:
                return Response(self.raw[number], content_type="application/json")
            if number in self.deactivated:
                return Response(json.dumps(nppes_deactivated_answer(number)), content_type="application/json")
            item = self.nppes.get(number)
            body = {"result_count": 1 if item else 0, "results": [item] if item else []}
            return Response(json.dumps(body), content_type="application/json")
        return Response("not found", status=404)

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()


def nppes_deactivated_answer(number: str) -> dict[str, Any]:
    """The NPI Registry API's answer (HTTP 200) for a deactivated NPI."""
    return {"Errors": [{"field": "number", "number": "15",
                        "description": f"CMS deactivated NPI {number}. The provider can no longer use this "
                                       "NPI. Our public registry does not display provider information about "
                                       "NPIs that are not in service."}]}
