"""ClientPolicy: a validated, versioned, digested policy document, and how to load one.

The digest is SHA-256 over the canonical JSON of ``to_document()`` (sorted keys, no
whitespace, UTF-8; the document holds no floats, so this equals RFC 8785 JCS). It is
taken over the normalised document, so YAML and JSON spellings of one policy, or one
that leaves ``subject_type`` at its default and one that states it, share a digest.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

from policies.errors import PolicyError, Problem
from policies.parsing import Format, check_size, parse_document
from policies.schema import validate_against_schema
from policies.vocabulary import ALWAYS_RELEASED, AssuranceLevel, SubjectType

_DAYS = re.compile(r"P([1-9][0-9]{0,4})D")

# Codes people write that ISO 3166-1 spells otherwise; the register facts use ISO.
_NOT_ISO = {"UK": "GB", "EL": "GR"}


def parse_days(value: str) -> timedelta:
    """ "P365D" -> 365 days. Only whole days: months and years have no fixed length."""
    match = _DAYS.fullmatch(value)
    if match is None:
        raise ValueError(f'{value!r} is not a duration in whole days such as "P365D"')
    return timedelta(days=int(match.group(1)))


@dataclass(frozen=True)
class AccessRule:
    """Who may enter the network, or one area of it. Absent conditions are no limit."""

    min_assurance_level: AssuranceLevel
    professions: tuple[str, ...] | None = None
    max_verification_age: timedelta | None = None  # applies to register verifications
    jurisdictions: tuple[str, ...] | None = None
    registers: tuple[str, ...] | None = None
    specialties: tuple[str, ...] | None = None
    min_acr: str | None = None
    # Only a licence the register states without conditions, undertakings or measures.
    unrestricted_licence: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "min_assurance_level", AssuranceLevel(self.min_assurance_level))
        for key in ("professions", "jurisdictions", "registers", "specialties"):
            values = getattr(self, key)
            if values is not None:
                object.__setattr__(self, key, tuple(values))  # frozen means hashable too
        age = self.max_verification_age
        if age is not None and (age < timedelta(days=1) or age % timedelta(days=1)):
            raise ValueError("max_verification_age must be a whole number of days")

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> AccessRule:
        def listed(key: str) -> tuple[str, ...] | None:
            return tuple(doc[key]) if key in doc else None

        age = doc.get("max_verification_age")
        return cls(
            min_assurance_level=AssuranceLevel(doc["min_assurance_level"]),
            professions=listed("professions"),
            max_verification_age=parse_days(age) if age is not None else None,
            jurisdictions=listed("jurisdictions"),
            registers=listed("registers"),
            specialties=listed("specialties"),
            min_acr=doc.get("min_acr"),
            unrestricted_licence=bool(doc.get("unrestricted_licence", False)),
        )

    def to_document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        if self.professions is not None:
            doc["professions"] = list(self.professions)
        doc["min_assurance_level"] = self.min_assurance_level.value
        if self.max_verification_age is not None:
            doc["max_verification_age"] = f"P{self.max_verification_age.days}D"
        for key in ("jurisdictions", "registers", "specialties"):
            values = getattr(self, key)
            if values is not None:
                doc[key] = list(values)
        if self.min_acr is not None:
            doc["min_acr"] = self.min_acr
        if self.unrestricted_licence:  # absent means false: existing digests stay the same
            doc["unrestricted_licence"] = True
        return doc


@dataclass(frozen=True)
class ClientPolicy:
    """One relying party's policy. Build it with ``load_policy``; it is immutable."""

    version: int
    allowed_claims: tuple[str, ...]
    essential_claims: tuple[str, ...] = ()
    subject_type: SubjectType = SubjectType.PAIRWISE
    access: AccessRule | None = None  # the default area, unless default_area names one
    areas: Mapping[str, AccessRule] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    default_area: str | None = None
    description: str | None = None
    # OpenID Federation trust mark types the client must hold to let anyone in.
    required_trust_marks: tuple[str, ...] = ()
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "subject_type", SubjectType(self.subject_type))
        object.__setattr__(self, "areas", MappingProxyType(dict(self.areas)))
        problems = _semantic_problems(self)
        if problems:
            raise PolicyError(problems)
        canonical = json.dumps(
            self.to_document(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        digest = "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        object.__setattr__(self, "digest", digest)

    def rule_for(self, area: str | None) -> AccessRule | None:
        """The rule of a named area, or of the default area for None; None if unknown."""
        if area is None:
            return self.access if self.default_area is None else self.areas[self.default_area]
        return self.areas.get(area)

    def area_name(self, area: str | None) -> str | None:
        """The area a request actually lands in (None: the unnamed default)."""
        return self.default_area if area is None else area

    def to_document(self) -> dict[str, Any]:
        """The normalised document: ``load_policy(p.to_document()) == p``."""
        doc: dict[str, Any] = {"version": self.version}
        if self.description is not None:
            doc["description"] = self.description
        doc["subject_type"] = self.subject_type.value
        doc["claims"] = {
            "allowed": list(self.allowed_claims),
            "essential": list(self.essential_claims),
        }
        if self.access is not None:
            doc["access"] = self.access.to_document()
        if self.areas:
            doc["areas"] = {name: rule.to_document() for name, rule in self.areas.items()}
        if self.default_area is not None:
            doc["default_area"] = self.default_area
        if self.required_trust_marks:  # absent when empty: existing digests stay the same
            doc["require_trust_marks"] = list(self.required_trust_marks)
        return doc


def _semantic_problems(policy: ClientPolicy) -> list[Problem]:
    """What the schema cannot say: references between fields, and near-miss codes."""
    problems: list[Problem] = []
    allowed = set(policy.allowed_claims) | ALWAYS_RELEASED
    for index, claim in enumerate(policy.essential_claims):
        if claim not in allowed:
            problems.append(
                Problem(f"/claims/essential/{index}", f"{claim!r} is not in /claims/allowed")
            )
    if policy.access is not None and policy.default_area is not None:
        problems.append(Problem("/default_area", "give either access or default_area, not both"))
    elif policy.access is None and policy.default_area is None:
        problems.append(Problem("/access", "required field is missing (or name a default_area)"))
    elif policy.default_area is not None and policy.default_area not in policy.areas:
        problems.append(Problem("/default_area", f"no area named {policy.default_area!r}"))
    rules = [("/access", policy.access)] + [(f"/areas/{n}", r) for n, r in policy.areas.items()]
    for where, rule in rules:
        for index, code in enumerate((rule.jurisdictions if rule else None) or ()):
            if code in _NOT_ISO:
                problems.append(
                    Problem(
                        f"{where}/jurisdictions/{index}",
                        f"{code!r} is not an ISO 3166-1 code; write {_NOT_ISO[code]!r}",
                    )
                )
    return problems


def load_policy(
    source: str | bytes | Mapping[str, Any], *, format: Format | None = None
) -> ClientPolicy:
    """Validate a policy document (text or already-parsed mapping) and build the policy.

    ``format`` is "yaml" or "json"; None guesses (JSON when the text starts with "{").
    Raises PolicyError, whose ``path`` is the JSON pointer of the offending field.
    """
    if isinstance(source, str | bytes):
        document = parse_document(source, format)
    else:  # already parsed, e.g. from a JSON column: still checked like text
        check_size(source)
        document = source
    validate_against_schema(document)
    document = cast(Mapping[str, Any], document)  # the schema has just said so
    claims = document["claims"]
    return ClientPolicy(
        # JSON Schema counts 1.0 as an integer; the model keeps a real int.
        version=int(document["version"]),
        allowed_claims=tuple(claims["allowed"]),
        essential_claims=tuple(claims.get("essential", ())),
        subject_type=SubjectType(document.get("subject_type", SubjectType.PAIRWISE)),
        access=AccessRule.from_document(document["access"]) if "access" in document else None,
        areas={
            name: AccessRule.from_document(rule) for name, rule in document.get("areas", {}).items()
        },
        default_area=document.get("default_area"),
        description=document.get("description"),
        required_trust_marks=tuple(document.get("require_trust_marks", ())),
    )


def load_policy_file(path: str | PathLike[str]) -> ClientPolicy:
    """Load a policy from a file; ``.json`` is JSON, anything else YAML."""
    file = Path(path)
    return load_policy(file.read_bytes(), format="json" if file.suffix == ".json" else "yaml")


def require_successor(previous: ClientPolicy, candidate: ClientPolicy) -> None:
    """Refuse a changed policy that does not raise ``version``.

    Decisions and audit entries cite (version, digest); two contents under one version
    number would make such a citation ambiguous.
    """
    if candidate.digest == previous.digest:
        return
    if candidate.version <= previous.version:
        raise PolicyError.at(
            "/version",
            f"the content changed, so version must be above {previous.version}, "
            f"not {candidate.version}",
        )
