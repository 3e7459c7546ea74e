"""The Verifier protocol and the plain data every register module speaks.

A register module turns its own format into :class:`RegisterEntry`; :func:`judge` turns an
entry and the doctor's :class:`RegistrationClaim` into a :class:`RegisterResult`, so the
rules (profession, names, status, in that order) are written once for all registers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from hub.verification import names
from hub.verification.vocabulary import (
    CHECK_METHOD_DATA,
    PROFESSION_PHYSICIAN,
    RECORD_TYPE_REGISTER,
    RegisterInfo,
)


class ResultStatus(StrEnum):
    MATCH = "match"
    NO_MATCH = "no_match"
    NAME_MISMATCH = "name_mismatch"
    INACTIVE = "inactive"
    RESTRICTED = "restricted"
    NEEDS_REVIEW = "needs_review"
    UNAVAILABLE = "unavailable"


class EntryStatus(StrEnum):
    """A register entry's standing, reduced to what matters for a licence claim."""

    ACTIVE = "active"
    RESTRICTED = "restricted"  # registered and licensed, with conditions or measures
    INACTIVE = "inactive"  # ended, suspended, erased, deceased, without licence...


class RegisterFileError(ValueError):
    """A register file is malformed. ``line`` is the 1-based physical line (for XML, the
    line the parser stopped on); nothing from the failing batch was written."""

    def __init__(self, message: str, *, line: int, path: str = "") -> None:
        self.line = line
        self.path = path
        self.detail = message
        where = f"{path}:" if path else "line "
        super().__init__(f"{where}{line}: {message}")


class RegisterUnavailable(RuntimeError):
    """A live lookup failed (timeout, error status, malformed answer, open breaker)."""


@dataclass(frozen=True, slots=True)
class RegistrationClaim:
    """What the doctor says: a registration number in a country's register, the
    profession, and their names as they want them released."""

    country: str  # ISO 3166 alpha-2, e.g. "NL"
    number: str
    profession: str
    given_name: str
    family_name: str
    register: str | None = None  # defaults to the country's register
    jurisdiction: str | None = None  # e.g. a US state for an NPPES licence


@dataclass(frozen=True, slots=True)
class RegisterEntry:
    """One register entry in the shape all modules share (and the mirror stores)."""

    register: str
    number: str
    family_name: str
    given_names: str  # full names, or initials when the register only has those
    profession: str  # PROFESSION_PHYSICIAN or the register's own word
    status: EntryStatus
    profession_code: str = ""
    name_prefix: str = ""  # Dutch tussenvoegsel and similar particles
    alt_family_names: tuple[str, ...] = ()  # e.g. partner name, birth name
    specialties: tuple[str, ...] = ()
    registered_since: date | None = None
    status_detail: str = ""  # the register's own wording
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def display_family_name(self) -> str:
        return f"{self.name_prefix} {self.family_name}".strip()


@dataclass(frozen=True, slots=True)
class Evidence:
    """An OIDC4IDA electronic_record taken from a register."""

    source_name: str
    country_code: str  # ISO 3166 alpha-3, as OIDC4IDA asks for record.source.country_code
    organization: str
    time: datetime
    record_type: str = RECORD_TYPE_REGISTER
    check_method: str = CHECK_METHOD_DATA
    check_id: str | None = None
    method: str = "live"  # "live" lookup or "mirror" copy

    def to_json(self) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "check_method": self.check_method,
            "organization": self.organization,
            "time": _iso(self.time),
        }
        if self.check_id:
            detail["check_id"] = self.check_id
        return {
            "type": "electronic_record",
            "check_details": [detail],
            "record": {
                "type": self.record_type,
                "source": {"name": self.source_name, "country_code": self.country_code},
            },
        }


@dataclass(frozen=True, slots=True)
class RegisterResult:
    status: ResultStatus
    reason: str
    checked_at: datetime
    register: str
    entry: RegisterEntry | None = None
    evidence: Evidence | None = None
    # Names the register confirmed, in the register's spelling; None when it did not.
    verified_given_name: str | None = None
    verified_family_name: str | None = None


@runtime_checkable
class Verifier(Protocol):
    register: str

    def check(self, claim: RegistrationClaim) -> RegisterResult: ...


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t.utcoffset() is not None else t.isoformat()


def make_evidence(
    info: RegisterInfo, time: datetime, *, method: str, number: str, note: str = ""
) -> Evidence:
    check_id = f"{info.id}/{number}"
    if note:
        check_id += f"/{note}"
    return Evidence(
        source_name=info.source_name,
        country_code=info.country_code,
        organization=info.organization,
        time=time,
        check_id=check_id,
        method=method,
    )


def judge(
    claim: RegistrationClaim,
    entry: RegisterEntry | None,
    *,
    checked_at: datetime,
    method: str,
    info: RegisterInfo,
    evidence_time: datetime | None = None,
    note: str = "",
) -> RegisterResult:
    """The shared decision: entry found? physician? names? standing? (in that order, so a
    wrong name never learns anything about someone else's registration). ``info`` names
    the register in the evidence."""
    register = entry.register if entry else (claim.register or "")

    def result(status: ResultStatus, reason: str, **kw: Any) -> RegisterResult:
        return RegisterResult(status, reason, checked_at, register, **kw)

    if entry is None:
        return result(ResultStatus.NO_MATCH, "no entry with this number in the register")
    if claim.profession == PROFESSION_PHYSICIAN and entry.profession != PROFESSION_PHYSICIAN:
        return result(ResultStatus.NO_MATCH, "the entry is not a physician's registration")
    nm = names.match_names(
        claim.given_name,
        claim.family_name,
        register_given=entry.given_names,
        register_family=entry.family_name,
        register_prefix=entry.name_prefix,
        register_alt_family=entry.alt_family_names,
        register_suffix=str(entry.extra.get("name_suffix") or ""),
    )
    if nm.outcome is names.Outcome.NO_MATCH:
        return result(ResultStatus.NAME_MISMATCH, nm.reason)
    evidence = make_evidence(
        info, evidence_time or checked_at, method=method, number=entry.number, note=note
    )
    common: dict[str, Any] = {"entry": entry, "evidence": evidence}
    if entry.status is EntryStatus.INACTIVE:
        detail = entry.status_detail or "registration not active"
        return result(ResultStatus.INACTIVE, f"register says: {detail}", **common)
    if entry.status is EntryStatus.RESTRICTED:
        detail = entry.status_detail or "restrictions on the registration"
        return result(ResultStatus.RESTRICTED, f"register says: {detail}", **common)
    if nm.outcome is names.Outcome.PARTIAL:
        return result(ResultStatus.NEEDS_REVIEW, nm.reason, **common)
    return result(
        ResultStatus.MATCH,
        "active registration, names match",
        # The names without honorifics and suffixes: no register confirms a "Dr." or "Jr.".
        verified_given_name=nm.given_name if nm.given_confirmed else None,
        verified_family_name=nm.family_name if nm.family_exact else entry.display_family_name,
        **common,
    )
