"""Passkeys (WebAuthn Level 3 credentials, checked by py_webauthn): a doctor enrols several,
signs in with one and no password (a discoverable credential, no username typed), or
uses one as the second factor after her password.

Each ceremony's challenge is random, single-use and short-lived: it is kept in the Store
under what it is bound to (the SSO session's ``sid`` for an enrolment, the pending
authorization request's id for a sign-in) and consumed by the first answer, right or
wrong, so an answer can never be replayed (WebAuthn §13.4.3). The relying-party id is the
issuer's host and the only accepted origin is the issuer's own (§7.1 steps 9 and 13,
§7.2 steps 13 and 15).

The methods an authentication proves are named per RFC 8176 §2 (``amr_methods``):
- ``hwk`` for a credential bound to its authenticator, ``swk`` for a synced one. The hub
  cannot see inside the authenticator (attestation is not requested: doctors use whatever
  their hospital or phone offers), and attachment and transports do not say where the key
  lives (a platform authenticator may be a TPM or a synced password manager). The
  authenticator data's backup-eligibility flag does (§6.1, "BE"): a multi-device
  credential can be copied off the device, so it is a software-secured key to us.
- ``user`` when the authenticator verified the user (the UV flag, §6.1). ``pin`` and
  ``fpt`` are never claimed: the UV flag does not say whether a PIN, a fingerprint or a
  face was used.

No Flask here: the pages (hub/pages/passkeys.py) hand in the browser's JSON as received.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from hub.persistence.db import Database, utcnow
from hub.persistence.models.passkeys import MAX_CREDENTIAL_ID, Passkey
from hub.persistence.store import Store

CHALLENGE_KIND = "webauthn"
CHALLENGE_TTL = 300  # seconds: the ceremony's timeout (§5.4.3 recommends 300 s)
MAX_NAME = 64
MAX_PASSKEYS = 20  # per doctor: enough for every phone and key, bounded for the page
ENROL, SIGN_IN = "enrol", "signin"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class PasskeyError(ValueError):
    """A ceremony the hub refuses; the message is safe to show the doctor."""


@dataclass(frozen=True)
class PasskeyInfo:
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    transports: tuple[str, ...]
    synced: bool


@dataclass(frozen=True)
class PasskeyUse:
    """A verified assertion: whose credential it was and what it proved."""

    doctor_id: str
    passkey_id: int
    synced: bool  # backup eligible: a multi-device credential (RFC 8176 "swk")
    user_verified: bool

    @property
    def amr_methods(self) -> list[str]:
        """RFC 8176 §2 values of this authentication (the module's docstring says why)."""
        return ["swk" if self.synced else "hwk", *(["user"] if self.user_verified else [])]


def clean_name(name: str, fallback: str) -> str:
    """A passkey's name as the doctor typed it, without control characters, at most 64."""
    cleaned = _CONTROL.sub("", name or "").strip()[:MAX_NAME].strip()
    return cleaned or fallback


def _user_handle(doctor_id: str) -> bytes:
    # The account id: opaque, no personal data (§14.6.1), and fixed for the account's life.
    return doctor_id.encode()


class Passkeys:
    def __init__(self, db: Database, store: Store, *, issuer: str, rp_name: str = "Curbside") -> None:
        parts = urlsplit(issuer)
        self.db = db
        self.store = store
        self.rp_id = parts.hostname or ""
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.rp_name = rp_name

    # -- the doctor's list ------------------------------------------------------------------
    def list_for(self, doctor_id: str) -> list[PasskeyInfo]:
        with self.db.session() as s:
            rows = s.scalars(select(Passkey).where(Passkey.doctor_id == doctor_id)
                             .order_by(Passkey.created_at, Passkey.id)).all()
            return [PasskeyInfo(r.id, r.name, r.created_at, r.last_used_at, tuple(r.transports or ()),
                                r.backup_eligible) for r in rows]

    def count_for(self, doctor_id: str) -> int:
        with self.db.session() as s:
            return int(s.scalar(select(func.count()).select_from(Passkey)
                                .where(Passkey.doctor_id == doctor_id)) or 0)

    def rename(self, doctor_id: str, passkey_id: int, name: str) -> bool:
        """Whether the doctor's passkey was renamed; another doctor's is never touched."""
        new = clean_name(name, "")
        if not new:
            raise PasskeyError("Give the passkey a name.")
        with self.db.session() as s:
            done = s.execute(update(Passkey).where(Passkey.id == passkey_id,
                                                   Passkey.doctor_id == doctor_id).values(name=new))
            return bool(done.rowcount)  # type: ignore[attr-defined]

    def remove(self, doctor_id: str, passkey_id: int) -> bool:
        with self.db.session() as s:
            done = s.execute(delete(Passkey).where(Passkey.id == passkey_id,
                                                   Passkey.doctor_id == doctor_id))
            return bool(done.rowcount)  # type: ignore[attr-defined]

    # -- enrolment (§7.1) ---------------------------------------------------------------------
    def registration_options(self, doctor: Any, binding: str) -> dict[str, Any]:
        """The options for navigator.credentials.create(), JSON-ready; the challenge is
        saved under ``binding`` (the SSO session's sid)."""
        with self.db.session() as s:
            existing = s.scalars(select(Passkey.credential_id)
                                 .where(Passkey.doctor_id == doctor.id)).all()
        if len(existing) >= MAX_PASSKEYS:
            raise PasskeyError(f"You have {MAX_PASSKEYS} passkeys already. Remove one you no "
                               "longer use first.")
        options = generate_registration_options(
            rp_id=self.rp_id, rp_name=self.rp_name, user_id=_user_handle(doctor.id),
            user_name=doctor.email, user_display_name=doctor.name or doctor.email,
            timeout=CHALLENGE_TTL * 1000,
            # A discoverable credential (§6.2.2) is what lets the doctor sign in without
            # typing her email; user verification is asked for, and required at a
            # passwordless sign-in (``authenticate``).
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED, require_resident_key=True,
                user_verification=UserVerificationRequirement.PREFERRED),
            # §5.4.3: the same authenticator is not enrolled twice for this account.
            exclude_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(c)) for c in existing],
        )
        self._save_challenge(ENROL, binding, options.challenge, doctor.id)
        return json.loads(options_to_json(options))  # type: ignore[no-any-return]

    def register(self, doctor_id: str, binding: str, credential: Any, name: str) -> PasskeyInfo:
        """Verify the browser's answer to ``registration_options`` and keep the credential."""
        parsed = _parse(credential, parse_registration_credential_json)
        state = self._take_challenge(ENROL, binding)
        if state is None or state["doctor_id"] != doctor_id:
            raise PasskeyError("This passkey request expired. Try again.")
        try:
            verified = verify_registration_response(
                credential=parsed, expected_challenge=base64url_to_bytes(state["challenge"]),
                expected_rp_id=self.rp_id, expected_origin=self.origin)
        except (WebAuthnException, ValueError, TypeError, KeyError, IndexError) as e:
            raise PasskeyError(f"The passkey could not be checked: {_reason(e)}") from e
        if verified.credential_id != parsed.raw_id:
            raise PasskeyError("The passkey's id does not match the credential it created.")
        credential_id = bytes_to_base64url(verified.credential_id)
        if len(credential_id) > MAX_CREDENTIAL_ID:
            raise PasskeyError("The passkey's id is too long.")
        transports = sorted({t.value for t in (parsed.response.transports or [])})
        now = utcnow()
        row = Passkey(doctor_id=doctor_id, credential_id=credential_id,
                      public_key=verified.credential_public_key, sign_count=verified.sign_count,
                      transports=transports, aaguid=verified.aaguid,
                      backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
                      name=clean_name(name, f"Passkey added {now:%Y-%m-%d}"), created_at=now)
        try:
            with self.db.session() as s:
                s.add(row)
                s.flush()
                passkey_id = row.id
        except IntegrityError as e:  # §7.1 step 25: a credential id registered already
            raise PasskeyError("This passkey is already registered.") from e
        return PasskeyInfo(passkey_id, row.name, now, None, tuple(transports), row.backup_eligible)

    # -- sign-in (§7.2) -----------------------------------------------------------------------
    def authentication_options(self, binding: str, *, doctor_id: str | None) -> dict[str, Any]:
        """The options for navigator.credentials.get(), JSON-ready, the challenge saved
        under ``binding`` (the pending request's id). ``doctor_id`` None: a passwordless,
        usernameless sign-in (any discoverable credential, user verification required);
        else the second factor of that doctor (her credentials only)."""
        allow: list[PublicKeyCredentialDescriptor] = []
        if doctor_id is not None:
            with self.db.session() as s:
                rows = s.execute(select(Passkey.credential_id, Passkey.transports)
                                 .where(Passkey.doctor_id == doctor_id)).all()
            if not rows:
                raise PasskeyError("No passkey is set up for this account.")
            allow = [PublicKeyCredentialDescriptor(id=base64url_to_bytes(c)) for c, _ in rows]
        options = generate_authentication_options(
            rp_id=self.rp_id, timeout=CHALLENGE_TTL * 1000, allow_credentials=allow,
            user_verification=(UserVerificationRequirement.REQUIRED if doctor_id is None
                               else UserVerificationRequirement.PREFERRED))
        self._save_challenge(SIGN_IN, binding, options.challenge, doctor_id)
        return json.loads(options_to_json(options))  # type: ignore[no-any-return]

    def authenticate(self, binding: str, credential: Any) -> PasskeyUse:
        """Verify the browser's answer to ``authentication_options`` under ``binding``.

        The doctor is the credential's owner, found by the credential id; for a second
        factor she must be the one the options were for. The user handle, when the
        authenticator sends it, must be hers too (§7.2 step 6)."""
        parsed = _parse(credential, parse_authentication_credential_json)
        state = self._take_challenge(SIGN_IN, binding)
        if state is None:
            raise PasskeyError("This sign-in page expired. Start again.")
        with self.db.session() as s:
            row = s.scalars(select(Passkey).where(Passkey.credential_id == parsed.id[:MAX_CREDENTIAL_ID])
                            ).one_or_none()
            if row is not None:
                s.expunge(row)
        if row is None:
            raise PasskeyError("This passkey is not registered with Curbside. It may have been removed.")
        expected_doctor = state["doctor_id"]
        if expected_doctor is not None and row.doctor_id != expected_doctor:
            raise PasskeyError("This passkey belongs to another account.")
        handle = parsed.response.user_handle
        if handle is not None and handle != _user_handle(row.doctor_id):
            raise PasskeyError("This passkey belongs to another account.")
        try:
            verified = verify_authentication_response(
                credential=parsed, expected_challenge=base64url_to_bytes(state["challenge"]),
                expected_rp_id=self.rp_id, expected_origin=self.origin,
                credential_public_key=row.public_key, credential_current_sign_count=row.sign_count,
                # §7.2 step 17: a sign-in with no password rests on the passkey alone.
                require_user_verification=expected_doctor is None)
        except (WebAuthnException, ValueError, TypeError, KeyError, IndexError) as e:
            raise PasskeyError(f"The passkey could not be checked: {_reason(e)}") from e
        # §7.2 step 21: the counter only grows. Compare-and-set, so two answers racing
        # with the same count cannot both pass.
        with self.db.session() as s:
            done = s.execute(update(Passkey)
                             .where(Passkey.id == row.id, Passkey.sign_count == row.sign_count)
                             .values(sign_count=verified.new_sign_count, last_used_at=utcnow()))
            if not done.rowcount:  # type: ignore[attr-defined]
                raise PasskeyError("The passkey could not be checked: it was used at the same time "
                                   "elsewhere.")
        return PasskeyUse(row.doctor_id, row.id,
                          synced=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
                          user_verified=verified.user_verified)

    # -- challenges -----------------------------------------------------------------------------
    def _save_challenge(self, purpose: str, binding: str, challenge: bytes, doctor_id: str | None) -> None:
        value = json.dumps({"challenge": bytes_to_base64url(challenge), "doctor_id": doctor_id})
        self.store.put(CHALLENGE_KIND, f"{purpose}:{binding}", value.encode(), ttl=CHALLENGE_TTL)

    def _take_challenge(self, purpose: str, binding: str) -> dict[str, Any] | None:
        """The ceremony's state, consumed: a challenge answers once, right or wrong."""
        raw = self.store.consume(CHALLENGE_KIND, f"{purpose}:{binding}") if binding else None
        return json.loads(raw) if raw else None


def _parse(credential: Any, parser: Any) -> Any:
    """The browser's PublicKeyCredential JSON (a string or an object) as py_webauthn's
    struct, or PasskeyError: hostile input is refused before any state is touched."""
    if isinstance(credential, (RegistrationCredential, AuthenticationCredential)):
        return credential
    if not isinstance(credential, (str, dict)):
        raise PasskeyError("The passkey answer must be a JSON object.")
    try:
        parsed = parser(credential)
    except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError, IndexError) as e:
        raise PasskeyError(f"The passkey answer is malformed: {_reason(e)}") from e
    if not isinstance(parsed.id, str) or not parsed.id or len(parsed.id) > MAX_CREDENTIAL_ID:
        raise PasskeyError("The passkey answer is malformed: its id is missing or too long.")
    return parsed


def _reason(e: Exception) -> str:
    """The library's sentence, trimmed: it names the failed check, nothing secret."""
    text = str(e).split("\n")[0].strip().rstrip(".")[:160]
    return (text or type(e).__name__) + "."
