"""Netherlands: the BIG-register (CIBG), public webservice ``ListHcpApprox4`` + mirror.

The SOAP operation ``ListHcpApprox4`` (namespace ``http://services.cibg.nl/ExternalUser``)
takes a ``listHcpApproxRequest`` (``WebSite`` = ``Ribiz``, ``RegistrationNumber`` = the BIG
number) and answers ``ListHcpApprox4Result/ListHcpApprox/ListHcpApprox4`` elements, one per
person: ``BirthSurname``, ``Prefix`` (tussenvoegsel), ``PartnerName``/``PartnerNamePrefix``,
``Initial`` (initials only: the register has no full given names), ``MailingName``,
``ArticleRegistration/ArticleRegistrationExtApp`` (one per profession: BIG number, start
and end date, ``ProfessionalGroupCode``; ``01`` = arts, physician),
``Specialism/SpecialismExtApp1`` (``TypeOfSpecialismId`` per BIG number),
``JudgmentProvision/JudgmentProvisionExtApp`` (disciplinary measures) and
``Limitation/LimitationExtApp`` (limitations of competence).

An end date of ``0001-01-01T00:00:00`` means "open". A current measure or limitation makes
the entry ``restricted``: it goes to manual review and is never released automatically.

Mirror file: any XML document holding ``ListHcpApprox4`` elements (for instance saved
``ListHcpApprox4Result`` answers under one root). Its checkpoint counts elements.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any, BinaryIO
from xml.sax.saxutils import escape

from hub.persistence.db import Database, utcnow
from hub.verification.base import (
    EntryStatus,
    RegisterEntry,
    RegisterFileError,
    RegisterResult,
    RegisterUnavailable,
    RegistrationClaim,
)
from hub.verification.checking import LiveVerifier
from hub.verification.importing import ImportReport, Op, ProgressFn, Upsert, run_import
from hub.verification.readers import LineCounter
from hub.verification.vocabulary import PROFESSION_PHYSICIAN, PROFESSIONAL_EID, RegisterInfo
from hub.verification.xmlstream import Node, iter_elements

INFO = RegisterInfo("nl-big", "NL", "NLD", "BIG-register", "CIBG, Ministerie van VWS", PROFESSIONAL_EID)
NL_BIG = INFO.id

ENDPOINT = "https://api.bigregister.nl/zksrv/soap/4"
NAMESPACE = "http://services.cibg.nl/ExternalUser"
SOAP_ACTION = f"{NAMESPACE}/ListHcpApprox4"
PHYSICIAN_GROUP = "01"
OPEN_END = "0001-01-01"
_NUMBER = re.compile(r"^\d{11}$")

# ProfessionalGroupCode → profession (BIG-register reference data).
GROUPS = {
    "01": PROFESSION_PHYSICIAN,
    "02": "dentist",
    "03": "midwife",
    "04": "physiotherapist",
    "16": "psychotherapist",
    "17": "pharmacist",
    "25": "healthcare psychologist",
    "30": "nurse",
}
# TypeOfSpecialismId → specialism, for the specialisms of physicians.
SPECIALISMS = {
    "2": "allergologie",
    "3": "anesthesiologie",
    "8": "arbeid en gezondheid - bedrijfsgeneeskunde",
    "10": "cardiologie",
    "11": "cardio-thoracale chirurgie",
    "12": "dermatologie en venerologie",
    "13": "maag-darm-leverziekten",
    "14": "heelkunde",
    "15": "huisartsgeneeskunde",
    "16": "interne geneeskunde",
    "18": "keel-, neus- en oorheelkunde",
    "19": "kindergeneeskunde",
    "22": "klinische geriatrie",
    "23": "longziekten en tuberculose",
    "25": "neurochirurgie",
    "26": "neurologie",
    "31": "oogheelkunde",
    "32": "orthopedie",
    "33": "pathologie",
    "34": "plastische chirurgie",
    "35": "psychiatrie",
    "39": "radiologie",
    "41": "reumatologie",
    "45": "urologie",
    "46": "obstetrie en gynaecologie",
    "47": "specialisme ouderengeneeskunde",
}
_TAGS = frozenset({"ListHcpApprox4", "Fault"})


def normalize_number(number: str) -> str | None:
    digits = re.sub(r"[\s.-]", "", number)
    return digits if _NUMBER.match(digits) else None


def _day(value: str) -> date | None:
    value = value.strip()
    if not value or value.startswith(OPEN_END):
        return None
    return date.fromisoformat(value[:10])


def _current(start: date | None, end: date | None, today: date) -> bool:
    return (start is None or start <= today) and (end is None or end > today)


def _restrictions(person: Node, number: str, today: date) -> list[str]:
    found: list[str] = []
    for jp in person.items("JudgmentProvision", "JudgmentProvisionExtApp"):
        if jp.text_of("ArticleNumber") == number and _current(
            _day(jp.text_of("StartDate")), _day(jp.text_of("EndDate")), today
        ):
            found.append(f"measure: {jp.text_of('PublicDescription') or 'judgment provision'}")
    for lim in person.items("Limitation", "LimitationExtApp"):
        if lim.text_of("ArticleRegistrationNumber") == number and _current(
            _day(lim.text_of("StartDate")), _day(lim.text_of("EndDate")), today
        ):
            found.append(f"limitation: {lim.text_of('Description') or 'limitation'}")
    return found


def entries_of(person: Node, *, today: date, path: str = "") -> list[RegisterEntry]:
    """One entry per article registration (a person has one BIG number per profession)."""
    birth, prefix = person.text_of("BirthSurname"), person.text_of("Prefix")
    partner = f"{person.text_of('PartnerNamePrefix')} {person.text_of('PartnerName')}".strip()
    own = f"{prefix} {birth}".strip()
    alt = (partner, f"{partner}-{own}", f"{own}-{partner}") if partner else ()
    entries = []
    for reg in person.items("ArticleRegistration", "ArticleRegistrationExtApp"):
        number = normalize_number(reg.text_of("ArticleRegistrationNumber"))
        if number is None or not birth:
            raise RegisterFileError("ListHcpApprox4 without BIG number or name", line=reg.line, path=path)
        try:
            start = _day(reg.text_of("ArticleRegistrationStartDate"))
            end = _day(reg.text_of("ArticleRegistrationEndDate"))
        except ValueError:
            raise RegisterFileError("bad registration date", line=reg.line, path=path) from None
        code = reg.text_of("ProfessionalGroupCode").zfill(2)
        specialties = tuple(
            SPECIALISMS.get(s.text_of("TypeOfSpecialismId"), f"specialism {s.text_of('TypeOfSpecialismId')}")
            for s in person.items("Specialism", "SpecialismExtApp1")
            if s.text_of("ArticleRegistrationNumber") == number
        )
        restrictions = _restrictions(person, number, today)
        if end is not None and end <= today:
            status, detail = EntryStatus.INACTIVE, f"registration ended on {end.isoformat()}"
        elif restrictions:
            status, detail = EntryStatus.RESTRICTED, "; ".join(restrictions)
        else:
            status, detail = EntryStatus.ACTIVE, "registered"
        entries.append(
            RegisterEntry(
                register=NL_BIG,
                number=number,
                family_name=birth,
                given_names=person.text_of("Initial"),
                profession=GROUPS.get(code, f"professional group {code}"),
                status=status,
                profession_code=code,
                name_prefix=prefix,
                alt_family_names=alt,
                specialties=specialties,
                registered_since=start,
                status_detail=detail,
                extra={"end_date": end.isoformat()} if end else {},
            )
        )
    return entries


def parse_answer(body: bytes, *, today: date) -> list[RegisterEntry]:
    """Entries from a ListHcpApprox4 SOAP answer (RegisterUnavailable on a fault)."""
    entries: list[RegisterEntry] = []
    try:
        for node in iter_elements(io.BytesIO(body), _TAGS):
            if node.tag == "Fault":
                raise RegisterUnavailable("SOAP fault from the BIG-register")
            entries += entries_of(node, today=today)
    except RegisterFileError as exc:
        raise RegisterUnavailable(f"malformed answer: {exc.detail}") from None
    return entries


def request_body(number: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns:ext="{NAMESPACE}"><soap:Body><ext:listHcpApproxRequest>'
        "<ext:WebSite>Ribiz</ext:WebSite>"
        f"<ext:RegistrationNumber>{escape(number)}</ext:RegistrationNumber>"
        "</ext:listHcpApproxRequest></soap:Body></soap:Envelope>"
    ).encode()


def _parser(today: date) -> Callable[[BinaryIO, LineCounter, str], Iterator[tuple[int, Op]]]:
    def parse(f: BinaryIO, counter: LineCounter, path: str) -> Iterator[tuple[int, Op]]:
        for ordinal, node in enumerate(
            iter_elements(f, frozenset({"ListHcpApprox4"}), path=path, counter=counter), 1
        ):
            for entry in entries_of(node, today=today, path=path):
                yield ordinal, Upsert(entry)

    return parse


def import_full(
    db: Database,
    path: str,
    *,
    progress: ProgressFn | None = None,
    batch_size: int = 5000,
    force: bool = False,
    today: date | None = None,
) -> ImportReport:
    """Import an XML file of ListHcpApprox4 elements into the mirror."""
    return run_import(
        db,
        register=NL_BIG,
        kind="full",
        path=path,
        parser=_parser(today or utcnow().date()),
        progress=progress,
        batch_size=batch_size,
        force=force,
    )


class BigVerifier(LiveVerifier):
    info = INFO
    number_label = "BIG number"

    def __init__(self, db: Database, *, endpoint: str = ENDPOINT, **kw: Any) -> None:
        super().__init__(db, **kw)
        self.endpoint = endpoint  # CURBSIDE_BIG_ENDPOINT: production or CIBG's test environment

    def normalize(self, number: str) -> str | None:
        return normalize_number(number)

    def fetch(self, number: str, timeout: tuple[float, float]) -> Sequence[RegisterEntry]:
        response = self.http.post(
            self.endpoint,
            data=request_body(number),
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": SOAP_ACTION},
            timeout=timeout,
        )
        if response.status_code == 500 and b"Fault" in response.content:
            raise RegisterUnavailable("SOAP fault from the BIG-register")
        response.raise_for_status()
        return parse_answer(response.content, today=self.clock().date())

    def judge(
        self,
        claim: RegistrationClaim,
        entry: RegisterEntry | None,
        *,
        method: str,
        evidence_time: datetime | None = None,
    ) -> RegisterResult:
        # A mirrored entry may have reached its end date since it was imported.
        end = entry.extra.get("end_date") if entry else None
        if entry is not None and end and date.fromisoformat(end) <= self.clock().date():
            entry = replace(entry, status=EntryStatus.INACTIVE, status_detail=f"registration ended on {end}")
        return super().judge(claim, entry, method=method, evidence_time=evidence_time)
