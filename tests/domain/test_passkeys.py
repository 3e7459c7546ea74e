"""The passkey storage and checks (hub/domain/passkeys.py) against a software authenticator
that signs real WebAuthn answers (P-256, "none" attestation), on both backends.

What a doctor would notice: a challenge answers once; a page on another origin, or for
another RP id, gets nothing; a cloned authenticator (its counter going back) is refused;
one doctor's passkey never signs in another; a removed passkey stops working.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import cbor2
import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from hub.domain.accounts import Accounts
from hub.domain.crypto import load_secrets
from hub.domain.passkeys import PasskeyError, Passkeys
from hub.domain.passwords import Passwords
from hub.persistence.store import open_store

ISSUER = "https://hub.example"
ORIGIN = "https://hub.example"
UP, UV, AT, BE = 0x01, 0x04, 0x40, 0x08


def b64(data: bytes) -> str:
    return bytes_to_base64url(data)


@dataclass
class Credential:
    id: bytes
    key: ec.EllipticCurvePrivateKey
    user_handle: bytes
    rp_id: str
    count: int = 0


@dataclass
class SoftAuthenticator:
    """A CTAP2-like authenticator in software: resident keys, user verification, a
    signature counter, optionally backup-eligible (a synced passkey)."""

    origin: str = ORIGIN
    verifies_user: bool = True
    backup_eligible: bool = False
    counts: bool = True
    credentials: list[Credential] = field(default_factory=list)

    def _flags(self, *extra: int) -> int:
        flags = UP | (UV if self.verifies_user else 0) | (BE if self.backup_eligible else 0)
        for f in extra:
            flags |= f
        return flags

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin or self.origin,
                           "crossOrigin": False}).encode()

    def create(self, options: dict[str, Any], *, origin: str | None = None,
               rp_id: str | None = None, credential_id: bytes | None = None) -> dict[str, Any]:
        rp = rp_id or options["rp"]["id"]
        key = ec.generate_private_key(ec.SECP256R1())
        cred = Credential(credential_id or os.urandom(16), key, base64url_to_bytes(options["user"]["id"]), rp)
        self.credentials.append(cred)
        nums = key.public_key().public_numbers()
        cose = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: nums.x.to_bytes(32, "big"),
                            -3: nums.y.to_bytes(32, "big")})
        auth_data = (hashlib.sha256(rp.encode()).digest() + bytes([self._flags(AT)])
                     + struct.pack(">I", cred.count) + b"\0" * 16
                     + struct.pack(">H", len(cred.id)) + cred.id + cose)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        return {"id": b64(cred.id), "rawId": b64(cred.id), "type": "public-key",
                "response": {"clientDataJSON": b64(client_data), "attestationObject": b64(attestation),
                             "transports": ["internal"]},
                "clientExtensionResults": {}, "authenticatorAttachment": "platform"}

    def get(self, options: dict[str, Any], *, credential: Credential | None = None,
            origin: str | None = None, count: int | None = None) -> dict[str, Any]:
        cred = credential or self.credentials[-1]
        if count is not None:
            cred.count = count
        elif self.counts:
            cred.count += 1
        auth_data = (hashlib.sha256(cred.rp_id.encode()).digest() + bytes([self._flags()])
                     + struct.pack(">I", cred.count))
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = cred.key.sign(auth_data + hashlib.sha256(client_data).digest(),
                                  ec.ECDSA(hashes.SHA256()))
        return {"id": b64(cred.id), "rawId": b64(cred.id), "type": "public-key",
                "response": {"clientDataJSON": b64(client_data), "authenticatorData": b64(auth_data),
                             "signature": b64(signature), "userHandle": b64(cred.user_handle)},
                "clientExtensionResults": {}}


@dataclass
class Setup:
    passkeys: Passkeys
    accounts: Any

    def doctor(self) -> Any:
        return self.accounts.create(email=f"pk-{secrets.token_hex(4)}@example.org", password="pw pw pw pw",
                                    given_name="Ada", family_name="Jansen")

    def enrol(self, doctor: Any, auth: SoftAuthenticator, name: str = "Laptop") -> int:
        binding = secrets.token_hex(8)
        options = self.passkeys.registration_options(doctor, binding)
        return self.passkeys.register(doctor.id, binding, auth.create(options), name).id


@pytest.fixture
def setup(backend: Any, database: Any, tmp_path: Any) -> Iterator[Setup]:
    store = open_store(backend.store_url, database.engine, prefix=f"pkd{backend.redis_prefix}:")
    secrets_ = load_secrets(secrets.token_urlsafe(32), Fernet.generate_key().decode(), tmp_path, "")
    accounts = Accounts(database, secrets_, Passwords(time_cost=1, memory_cost=1024, parallelism=1),
                        issuer_name="Curbside")
    yield Setup(Passkeys(database, store, issuer=ISSUER), accounts)


def sign_in(setup: Setup, auth: SoftAuthenticator, *, doctor_id: str | None = None, **kw: Any) -> Any:
    binding = secrets.token_hex(8)
    options = setup.passkeys.authentication_options(binding, doctor_id=doctor_id)
    return setup.passkeys.authenticate(binding, auth.get(options, **kw))


def test_enrol_then_sign_in_without_a_username(setup: Setup) -> None:
    doctor, auth = setup.doctor(), SoftAuthenticator()
    passkey_id = setup.enrol(doctor, auth, "Work laptop")
    listed = setup.passkeys.list_for(doctor.id)
    assert [(p.id, p.name, p.last_used_at) for p in listed] == [(passkey_id, "Work laptop", None)]
    use = sign_in(setup, auth)
    assert (use.doctor_id, use.passkey_id) == (doctor.id, passkey_id)
    assert use.amr_methods == ["hwk", "user"]
    assert setup.passkeys.list_for(doctor.id)[0].last_used_at is not None


def test_a_synced_passkey_is_a_software_key(setup: Setup) -> None:
    doctor, auth = setup.doctor(), SoftAuthenticator(backup_eligible=True)
    setup.enrol(doctor, auth)
    assert setup.passkeys.list_for(doctor.id)[0].synced
    assert sign_in(setup, auth).amr_methods == ["swk", "user"]


def test_a_challenge_answers_once(setup: Setup) -> None:
    doctor, auth = setup.doctor(), SoftAuthenticator()
    setup.enrol(doctor, auth)
    binding = secrets.token_hex(8)
    options = setup.passkeys.authentication_options(binding, doctor_id=None)
    answer = auth.get(options)
    assert setup.passkeys.authenticate(binding, answer).doctor_id == doctor.id
    with pytest.raises(PasskeyError, match="expired"):
        setup.passkeys.authenticate(binding, answer)


def test_a_failed_answer_burns_the_challenge(setup: Setup) -> None:
    doctor, auth = setup.doctor(), SoftAuthenticator()
    setup.enrol(doctor, auth)
    binding = secrets.token_hex(8)
    options = setup.passkeys.authentication_options(binding, doctor_id=None)
    with pytest.raises(PasskeyError, match="origin"):
        setup.passkeys.authenticate(binding, auth.get(options, origin="https://hub.example.evil"))
    with pytest.raises(PasskeyError, match="expired"):  # the right answer comes too late
        setup.passkeys.authenticate(binding, auth.get(options))


def test_a_challenge_is_bound_to_its_request(setup: Setup) -> None:
    doctor, auth = setup.doctor(), SoftAuthenticator()
    setup.enrol(doctor, auth)
    options = setup.passkeys.authentication_options("request-a", doctor_id=None)
    setup.passkeys.authentication_options("request-b", doctor_id=None)
    with pytest.raises(PasskeyError, match="challenge"):
        setup.passkeys.authenticate("request-b", auth.get(options))


@pytest.mark.parametrize("origin", ["https://evil.example", "http://hub.example", "https://hub.example:8443"])
def test_another_origin_is_refused(setup: Setup, origin: str) -> None:
    doctor, auth = setup.doctor(), SoftAuthenticator()
    setup.enrol(doctor, auth)
    with pytest.raises(PasskeyError, match="origin"):
        sign_in(setup, auth, origin=origin)


def test_enrolment_from_another_origin_or_rp_id_is_refused(setup: Setup) -> None:
    doctor = setup.doctor()
    options = setup.passkeys.registration_options(doctor, "sid-1")
    with pytest.raises(PasskeyError, match="origin"):
        setup.passkeys.register(doctor.id, "sid-1", SoftAuthenticator(origin="https://evil.example")
                                .create(options), "x")
    options = setup.passkeys.registration_options(doctor, "sid-1")
    with pytest.raises(PasskeyError, match="RP ID"):
        setup.passkeys.register(doctor.id, "sid-1", SoftAuthenticator().create(options, rp_id="evil.example"),
                                "x")
    assert setup.passkeys.list_for(doctor.id) == []


def test_a_counter_going_back_is_refused(setup: Setup) -> None:
    doctor, auth = setup.doctor(), SoftAuthenticator()
    setup.enrol(doctor, auth)
    sign_in(setup, auth, count=7)
    with pytest.raises(PasskeyError, match="sign count"):
        sign_in(setup, auth, count=7)  # a clone replaying the same count
    with pytest.raises(PasskeyError, match="sign count"):
        sign_in(setup, auth, count=3)
    assert sign_in(setup, auth, count=8).doctor_id == doctor.id


def test_an_authenticator_without_a_counter_keeps_working(setup: Setup) -> None:
    doctor, auth = setup.doctor(), SoftAuthenticator(counts=False)  # synced passkeys send 0
    setup.enrol(doctor, auth)
    assert sign_in(setup, auth).doctor_id == sign_in(setup, auth).doctor_id == doctor.id


def test_another_doctors_passkey_is_not_a_second_factor(setup: Setup) -> None:
    ann, bob = setup.doctor(), setup.doctor()
    ann_key, bob_key = SoftAuthenticator(), SoftAuthenticator()
    setup.enrol(ann, ann_key)
    setup.enrol(bob, bob_key)
    # Bob's password step is done; Ann's passkey answers Bob's second factor.
    binding = secrets.token_hex(8)
    options = setup.passkeys.authentication_options(binding, doctor_id=bob.id)
    assert options["allowCredentials"] == [{"id": b64(bob_key.credentials[0].id), "type": "public-key"}]
    with pytest.raises(PasskeyError, match="another account"):
        setup.passkeys.authenticate(binding, ann_key.get(options))
    # Usernameless: Ann's passkey signs in Ann, whatever user handle it claims.
    ann_key.credentials[0].user_handle = bob.id.encode()
    with pytest.raises(PasskeyError, match="another account"):
        sign_in(setup, ann_key)


def test_second_factor_does_not_require_user_verification(setup: Setup) -> None:
    doctor = setup.doctor()
    key = SoftAuthenticator(verifies_user=False)  # a security key without a PIN
    setup.enrol(doctor, key)
    assert sign_in(setup, key, doctor_id=doctor.id).amr_methods == ["hwk"]
    with pytest.raises(PasskeyError, match="User verification is required"):
        sign_in(setup, key)  # alone, it would be one factor


def test_a_removed_passkey_stops_working_and_names_are_the_owners(setup: Setup) -> None:
    ann, bob = setup.doctor(), setup.doctor()
    auth = SoftAuthenticator()
    passkey_id = setup.enrol(ann, auth)
    assert not setup.passkeys.rename(bob.id, passkey_id, "mine now")
    assert not setup.passkeys.remove(bob.id, passkey_id)
    assert setup.passkeys.rename(ann.id, passkey_id, "  Phone\x07 ")
    assert setup.passkeys.list_for(ann.id)[0].name == "Phone"
    assert setup.passkeys.remove(ann.id, passkey_id)
    with pytest.raises(PasskeyError, match="not registered"):
        sign_in(setup, auth)


def test_the_same_credential_cannot_be_registered_twice(setup: Setup) -> None:
    ann, bob = setup.doctor(), setup.doctor()
    auth = SoftAuthenticator()
    options = setup.passkeys.registration_options(ann, "s1")
    answer = auth.create(options)
    setup.passkeys.register(ann.id, "s1", answer, "a")
    # An authenticator that claims Ann's credential id for Bob (a copied or forged
    # credential): the unique credential id refuses it, whoever asks.
    options = setup.passkeys.registration_options(bob, "s2")
    copied = auth.create(options, credential_id=base64url_to_bytes(answer["id"]))
    with pytest.raises(PasskeyError, match="already registered"):
        setup.passkeys.register(bob.id, "s2", copied, "b")
    assert setup.passkeys.list_for(bob.id) == []
    # An answer whose id is not the credential the authenticator attested is refused.
    options = setup.passkeys.registration_options(bob, "s3")
    mismatched = auth.create(options)
    mismatched["id"] = mismatched["rawId"] = b64(os.urandom(16))
    with pytest.raises(PasskeyError, match="does not match"):
        setup.passkeys.register(bob.id, "s3", mismatched, "b")


def test_an_enrolment_challenge_belongs_to_its_doctor(setup: Setup) -> None:
    ann, bob = setup.doctor(), setup.doctor()
    options = setup.passkeys.registration_options(ann, "shared-sid")
    with pytest.raises(PasskeyError, match="expired"):
        setup.passkeys.register(bob.id, "shared-sid", SoftAuthenticator().create(options), "x")


@pytest.mark.parametrize("hostile", [
    None, 5, [], "not json", "[]", {}, {"id": "x"}, {"id": "x", "rawId": "x", "response": []},
    {"id": "x", "rawId": "x", "type": "public-key", "response": {"clientDataJSON": 5}},
    {"id": "A" * 5000, "rawId": "A" * 5000, "type": "public-key",
     "response": {"clientDataJSON": "e30", "authenticatorData": "", "signature": ""}},
    {"id": "AAAA", "rawId": "AAAA", "type": "public-key",
     "response": {"clientDataJSON": "!!!", "authenticatorData": "%%", "signature": "AA"}},
])
def test_hostile_answers_are_refused_with_a_reason(setup: Setup, hostile: Any) -> None:
    doctor = setup.doctor()
    setup.enrol(doctor, SoftAuthenticator())
    setup.passkeys.authentication_options("b", doctor_id=None)
    with pytest.raises(PasskeyError) as e:
        setup.passkeys.authenticate("b", hostile)
    assert str(e.value)
    setup.passkeys.registration_options(doctor, "e")
    with pytest.raises(PasskeyError):
        setup.passkeys.register(doctor.id, "e", hostile, "x")
