from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import jsonschema
import pytest

from hub.verification import registry
from hub.verification import vocabulary as voc
from hub.verification.claims import (
    DISCOVERY_METADATA,
    PersonEvidence,
    VerifiedRegistration,
    build_verified_claims,
    filter_verified_claims,
    render,
)
from hub.verification.schemas import (
    InvalidClaimsRequest,
    validate_verified_claims,
    validate_verified_claims_request,
)

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
REG = voc.REGISTRATIONS_CLAIM


def evidence(register: str, number: str) -> dict:
    info = registry.REGISTERS[register]
    return {
        "type": "electronic_record",
        "check_details": [
            {
                "check_method": "data",
                "organization": info.organization,
                "time": "2024-05-31T10:00:00Z",
                "check_id": f"{register}/{number}",
            }
        ],
        "record": {
            "type": "professional_register",
            "source": {"name": info.source_name, "country_code": info.country_code},
        },
    }


def registration(register="nl-big", number="19012345601", verified=NOW - timedelta(days=1)):
    return VerifiedRegistration(
        register=register,
        number=number,
        profession="physician",
        status="active",
        verified_at=verified,
        last_checked=verified,
        evidence=evidence(register, number),
        given_name="Jan",
        family_name="van der Berg",
        specialties=("huisartsgeneeskunde",),
        registered_since=date(2004, 6, 15),
    )


PASSPORT = PersonEvidence(
    "document",
    {
        "check_details": [
            {"check_method": "vpip", "organization": "Curbside", "time": "2024-05-30T09:00:00Z"}
        ],
        "document_details": {
            "type": "passport",
            "issuer": {"name": "Koninkrijk der Nederlanden", "country_code": "NLD"},
            "date_of_expiry": "2030-01-01",
        },
    },
    given_name="Jan Maarten",
    family_name="van der Berg",
)
VOUCH = PersonEvidence(
    "vouch",
    {
        "attestation": {
            "type": "digital_attestation",
            "reference_number": "vouch-17",
            "date_of_issuance": "2024-05-29",
            "voucher": {
                "name": "Dr. A. Colleague",
                "occupation": "physician",
                "organization": "Curbside verified physicians",
            },
        },
        "check_details": [{"check_method": "data", "organization": "Curbside"}],
    },
)
EID = PersonEvidence(
    "electronic_signature",
    {"signature_type": "UZI-pas", "issuer": "CIBG", "serial_number": "90001234"},
    given_name="J.M.",
    family_name="van der Berg",
)


def test_levels_and_schema():
    one = build_verified_claims([registration()])
    assert one[0]["verification"]["assurance_level"] == voc.REGISTER_MATCH
    two = build_verified_claims([registration()], [PASSPORT, VOUCH])
    assert two[0]["verification"]["assurance_level"] == voc.REGISTER_AND_ID
    assert [e["type"] for e in two[0]["verification"]["evidence"]] == [
        "electronic_record",
        "document",
        "vouch",
    ]
    three = build_verified_claims([registration()], [EID])
    assert three[0]["verification"]["assurance_level"] == voc.PROFESSIONAL_EID
    for out in (one, two, three):
        validate_verified_claims({"verified_claims": render(out)})
    claims = one[0]["claims"]
    assert claims[REG][0] == {
        "profession": "physician",
        "jurisdiction": "NL",
        "register": "nl-big",
        "number": "19012345601",
        "status": "active",
        "specialties": ["huisartsgeneeskunde"],
        "registered_since": "2004-06-15",
        "last_checked": "2024-05-31T12:00:00Z",
    }
    assert voc.SELF_DECLARED_CLAIM not in claims


def test_nppes_is_capped_and_document_of_other_person_ignored():
    nppes = registration("us-nppes", "1234567893")
    out = build_verified_claims([nppes], [PASSPORT, EID])
    assert out[0]["verification"]["assurance_level"] == voc.REGISTER_MATCH
    stranger = PersonEvidence("document", PASSPORT.details, "Piet", "Jansen")
    out = build_verified_claims([registration()], [stranger])
    assert out[0]["verification"]["assurance_level"] == voc.REGISTER_MATCH


def test_schema_rejects_bad_output():
    bad = build_verified_claims([registration()])[0]
    del bad["verification"]["trust_framework"]
    with pytest.raises(jsonschema.ValidationError):
        validate_verified_claims(bad)


AVAILABLE = build_verified_claims(
    [registration(), registration("uk-gmc", "1234567", NOW - timedelta(days=40))], [PASSPORT]
)


def request(**verification):
    return {
        "verification": {"trust_framework": None, **verification},
        "claims": {"given_name": None, "family_name": None, REG: None},
    }


def test_plain_request_releases_all_elements():
    out = filter_verified_claims(AVAILABLE, request(), now=NOW)
    assert isinstance(out, list) and len(out) == 2
    validate_verified_claims({"verified_claims": out})
    # Besides the framework, only the licence member comes unasked (a restricted licence
    # must never read as a clean one).
    assert set(out[0]["verification"]) == {"trust_framework", voc.LICENCE_MEMBER}
    assert out[0]["verification"][voc.LICENCE_MEMBER] == "unrestricted"


def test_trust_framework_and_level_constraints():
    assert filter_verified_claims(AVAILABLE, request(trust_framework={"value": "eidas"}), now=NOW) is None
    out = filter_verified_claims(
        AVAILABLE,
        request(
            trust_framework={"value": voc.TRUST_FRAMEWORK},
            assurance_level={"values": ["register_and_id", "professional_eid"]},
        ),
        now=NOW,
    )
    assert len(out) == 2 and out[0]["verification"]["assurance_level"] == "register_and_id"
    assert (
        filter_verified_claims(AVAILABLE, request(assurance_level={"value": "professional_eid"}), now=NOW)
        is None
    )


def test_max_age_selects_fresh_elements():
    out = filter_verified_claims(AVAILABLE, request(time={"max_age": 7 * 86400}), now=NOW)
    assert isinstance(out, dict)  # one object asked, one element fits
    assert out["claims"][REG][0]["register"] == "nl-big"
    assert out["verification"]["time"] == "2024-05-31T12:00:00Z"


def test_evidence_type_filter_and_projection():
    req = request(evidence=[{"type": {"value": "document"}, "document_details": {"type": None}}])
    out = filter_verified_claims(AVAILABLE, req, now=NOW)
    assert out[0]["verification"]["evidence"] == [
        {"type": "document", "document_details": {"type": "passport"}}
    ]
    req = request(evidence=[{"type": {"value": "vouch"}}])
    assert filter_verified_claims(AVAILABLE, req, now=NOW) is None
    req = request(
        evidence=[
            {
                "type": {"value": "electronic_record"},
                "check_details": [{"check_method": None, "organization": None}],
                "record": {"source": {"country_code": {"value": "GBR"}}},
            }
        ]
    )
    out = filter_verified_claims(AVAILABLE, req, now=NOW)
    assert out["claims"][REG][0]["register"] == "uk-gmc"
    assert out["verification"]["evidence"][0]["record"] == {"source": {"country_code": "GBR"}}


def test_only_requested_claims_and_essential():
    req = {
        "verification": {"trust_framework": None},
        "claims": {"family_name": {"essential": True}, "birthdate": None},
    }
    out = filter_verified_claims(AVAILABLE, req, now=NOW)
    # Both registrations give the same projection: released once.
    assert out == {
        "verification": {"trust_framework": voc.TRUST_FRAMEWORK, voc.LICENCE_MEMBER: "unrestricted"},
        "claims": {"family_name": "van der Berg"},
    }
    req = {"verification": {"trust_framework": None}, "claims": {"birthdate": None}}
    assert filter_verified_claims(AVAILABLE, req, now=NOW) is None


def test_array_request():
    req = [
        request(assurance_level={"value": "register_match"}),
        request(time={"max_age": 86400 * 2}),
    ]
    out = filter_verified_claims(AVAILABLE, req, now=NOW)
    assert isinstance(out, list) and len(out) == 1


def test_invalid_request_is_rejected():
    with pytest.raises(InvalidClaimsRequest):
        filter_verified_claims(AVAILABLE, {"claims": {"given_name": None}}, now=NOW)
    with pytest.raises(InvalidClaimsRequest):
        validate_verified_claims_request(
            {"verification": {"trust_framework": {"value": 7}}, "claims": {"given_name": None}}
        )


def test_discovery_metadata():
    assert DISCOVERY_METADATA["verified_claims_supported"] is True
    assert voc.TRUST_FRAMEWORK in DISCOVERY_METADATA["trust_frameworks_supported"]
    assert REG in DISCOVERY_METADATA["claims_in_verified_claims_supported"]


def test_a_restricted_licence_is_marked_and_an_rp_can_refuse_it():
    reg = registration("uk-gmc", "5678901")
    fields = {f: getattr(reg, f) for f in reg.__slots__}
    available = build_verified_claims([
        registration(),
        VerifiedRegistration(**{**fields, "status": "restricted"}),
        VerifiedRegistration(**{**fields, "register": "us-nppes", "number": "1234567893"}),
    ])
    validate_verified_claims({"verified_claims": available})
    marks = {e["claims"][REG][0]["register"]: (e["verification"][voc.LICENCE_MEMBER],
                                                e["claims"][REG][0]["status"]) for e in available}
    assert marks == {"nl-big": ("unrestricted", "active"), "uk-gmc": ("restricted", "restricted"),
                     "us-nppes": ("self_reported", "active")}
    # Constrained like any verification member (OIDC4IDA 1.0 "Requesting Verified Claims").
    strict = filter_verified_claims(available, request(**{voc.LICENCE_MEMBER: {"value": "unrestricted"}}),
                                    now=NOW)
    assert strict["claims"][REG][0]["register"] == "nl-big"
    validate_verified_claims({"verified_claims": strict})
    lenient = filter_verified_claims(
        available, request(**{voc.LICENCE_MEMBER: {"values": ["unrestricted", "restricted"]}}), now=NOW)
    assert [e["claims"][REG][0]["register"] for e in lenient] == ["nl-big", "uk-gmc"]
    # Asked for nothing about the licence: the marker travels all the same.
    plain = filter_verified_claims(available, request(), now=NOW)
    assert [e["verification"][voc.LICENCE_MEMBER] for e in plain] == ["unrestricted", "restricted", "self_reported"]
