"""Doctor accounts: creation, sign-in checks, TOTP second factor and recovery codes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import pyotp
from sqlalchemy import bindparam, func, select

from hub.domain.crypto import HubSecrets
from hub.domain.passwords import Passwords
from hub.persistence.db import Database
from hub.persistence.models.accounts import Doctor, DoctorRecord

RECOVERY_PURPOSE = "recovery-code"
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024


_T = Doctor.__table__
_BY_ID = select(_T).where(_T.c.id == bindparam("v"))
_BY_EMAIL = select(_T).where(_T.c.email == bindparam("v"))


class AccountError(ValueError):
    """A readable reason why an account operation was refused."""


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str
    uri: str


def normalise_email(email: str) -> str:
    return email.strip().lower()


class Accounts:
    def __init__(self, db: Database, secrets_: HubSecrets, passwords: Passwords, *, issuer_name: str) -> None:
        self.db = db
        self.secrets = secrets_
        self.passwords = passwords
        self.issuer_name = issuer_name

    def create(self, *, email: str, password: str, given_name: str = "", family_name: str = "",
               locale: str | None = None, email_verified: bool = False) -> Doctor:
        email = normalise_email(email)
        if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
            raise AccountError("enter a valid email address")
        if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
            raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
        if len(given_name) > 100 or len(family_name) > 100:
            raise AccountError("names must be at most 100 characters")
        with self.db.session() as s:
            if s.scalar(select(func.count()).select_from(Doctor).where(Doctor.email == email)):
                raise AccountError("an account with this email already exists")
            doctor = Doctor(email=email, password_hash=self.passwords.hash(password),
                            given_name=given_name, family_name=family_name, locale=locale,
                            email_verified=email_verified)
            s.add(doctor)
        return doctor

    # Reads on the sign-in and userinfo paths use a prebuilt Core statement and a plain
    # record: an ORM session per lookup cost more than the query itself.
    def get(self, doctor_id: str) -> DoctorRecord | None:
        return self._one(_BY_ID, {"v": doctor_id}) if doctor_id and len(doctor_id) <= 32 else None

    def get_after(self, write: tuple[Any, dict[str, Any]], doctor_id: str) -> DoctorRecord | None:
        """``write`` (a statement and its parameters), then ``get``: one round trip."""
        row = self.db.hot.first_after(write[0], write[1], _BY_ID, {"v": doctor_id})
        return DoctorRecord(**row) if row is not None else None

    def by_email(self, email: str) -> DoctorRecord | None:
        return self._one(_BY_EMAIL, {"v": normalise_email(email)})

    def _one(self, stmt: Any, params: dict[str, str]) -> DoctorRecord | None:
        row = self.db.hot.first(stmt, params)
        return DoctorRecord(**row) if row is not None else None

    def check_password(self, email: str, password: str) -> DoctorRecord | None:
        if len(password) > MAX_PASSWORD_LENGTH or len(email) > 254:
            return None
        doctor = self.by_email(email)
        ok = self.passwords.verify(doctor.password_hash if doctor else None, password)
        if not ok or doctor is None or doctor.disabled:
            return None
        if doctor.password_hash and self.passwords.needs_rehash(doctor.password_hash):
            with self.db.session() as s:
                d = s.get(Doctor, doctor.id)
                if d is not None:
                    d.password_hash = self.passwords.hash(password)
        return doctor

    # -- TOTP (RFC 6238) -----------------------------------------------------------------
    def begin_totp(self, doctor: DoctorRecord) -> TotpEnrolment:
        secret = pyotp.random_base32()
        uri = pyotp.TOTP(secret).provisioning_uri(name=doctor.email, issuer_name=self.issuer_name)
        return TotpEnrolment(secret, uri)

    def confirm_totp(self, doctor_id: str, secret: str, code: str) -> list[str]:
        """Enable TOTP once the doctor proves the authenticator works; return recovery codes."""
        if not pyotp.TOTP(secret).verify(code.strip(), valid_window=1):
            raise AccountError("that code did not match; check your authenticator's clock")
        codes = [secrets.token_hex(5) for _ in range(10)]
        with self.db.session() as s:
            d = s.get(Doctor, doctor_id)
            if d is None:
                raise AccountError("unknown account")
            d.totp_secret_enc = self.secrets.encrypt(secret.encode())
            d.recovery_code_hashes = [self.secrets.keyed_hash(RECOVERY_PURPOSE, c) for c in codes]
        return codes

    def disable_totp(self, doctor_id: str) -> None:
        with self.db.session() as s:
            d = s.get(Doctor, doctor_id)
            if d is not None:
                d.totp_secret_enc = None
                d.recovery_code_hashes = []

    def check_second_factor(self, doctor: DoctorRecord, code: str) -> str | None:
        """Return the RFC 8176 method used ("otp"), "recovery", or None if the code is wrong."""
        code = code.strip().replace(" ", "")
        if not code or len(code) > 64 or doctor.totp_secret_enc is None:
            return None
        secret = self.secrets.decrypt(doctor.totp_secret_enc).decode()
        if code.isdigit() and len(code) == 6:
            return "otp" if pyotp.TOTP(secret).verify(code, valid_window=1) else None
        digest = self.secrets.keyed_hash(RECOVERY_PURPOSE, code.lower())
        with self.db.session() as s:
            d = s.get(Doctor, doctor.id)
            if d is None or digest not in d.recovery_code_hashes:
                return None
            d.recovery_code_hashes = [h for h in d.recovery_code_hashes if h != digest]
        return "recovery"
