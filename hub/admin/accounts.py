"""Admin accounts: creation, password check, TOTP enrolment and check, disabling."""

from __future__ import annotations

import pyotp
from sqlalchemy import func, select

from hub.domain.accounts import TotpEnrolment
from hub.domain.crypto import HubSecrets
from hub.domain.passwords import Passwords
from hub.persistence.db import Database, utcnow
from hub.persistence.models.admin import ROLES, AdminAccount

# Longer than a doctor's minimum: one admin password opens every doctor's record.
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
ISSUER_NAME = "Curbside admin"


class AdminAccountError(ValueError):
    """A readable reason why an admin account operation was refused."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


class AdminAccounts:
    def __init__(self, db: Database, secrets: HubSecrets, passwords: Passwords) -> None:
        self.db = db
        self.secrets = secrets
        self.passwords = passwords

    def create(self, *, email: str, password: str, role: str) -> AdminAccount:
        email = normalise_email(email)
        if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
            raise AdminAccountError("enter a valid email address")
        if role not in ROLES:
            raise AdminAccountError(f"the role must be one of {', '.join(ROLES)}")
        if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
            raise AdminAccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
        with self.db.session() as s:
            if s.scalar(select(func.count()).select_from(AdminAccount).where(AdminAccount.email == email)):
                raise AdminAccountError("an admin with this email already exists")
            admin = AdminAccount(email=email, password_hash=self.passwords.hash(password), role=role)
            s.add(admin)
        return admin

    def get(self, admin_id: str | None) -> AdminAccount | None:
        if not admin_id or len(admin_id) > 32:
            return None
        with self.db.session() as s:
            return s.get(AdminAccount, admin_id)

    def by_email(self, email: str) -> AdminAccount | None:
        if "\x00" in email:  # no account has one, and PostgreSQL refuses it in a query
            return None
        with self.db.session() as s:
            return s.scalar(select(AdminAccount).where(AdminAccount.email == normalise_email(email)))

    def all(self) -> list[AdminAccount]:
        with self.db.session() as s:
            return list(s.scalars(select(AdminAccount).order_by(AdminAccount.email)))

    def check_password(self, email: str, password: str) -> AdminAccount | None:
        if len(password) > MAX_PASSWORD_LENGTH or len(email) > 254:
            return None
        admin = self.by_email(email)
        # Verify even for unknown emails (Passwords uses a dummy hash), so timing reveals nothing.
        ok = self.passwords.verify(admin.password_hash if admin else None, password)
        if not ok or admin is None or admin.disabled:
            return None
        if self.passwords.needs_rehash(admin.password_hash):
            with self.db.session() as s:
                row = s.get(AdminAccount, admin.id)
                if row is not None:
                    row.password_hash = self.passwords.hash(password)
        return admin

    # -- TOTP (RFC 6238) -------------------------------------------------------------------
    def issue_totp(self, admin: AdminAccount) -> TotpEnrolment:
        """A new TOTP secret for ``admin``, stored encrypted at once and shown only to whoever
        asked for it (``hub admin create`` / ``reset-totp``). The console never enrols one:
        whoever reached the sign-in page first would otherwise own the account's second
        factor (trust on first use)."""
        secret = pyotp.random_base32()
        self.set_totp(admin.id, secret)
        uri = pyotp.TOTP(secret).provisioning_uri(name=admin.email, issuer_name=ISSUER_NAME)
        return TotpEnrolment(secret, uri)

    def set_totp(self, admin_id: str, secret: str) -> None:
        with self.db.session() as s:
            row = s.get(AdminAccount, admin_id)
            if row is None:
                raise AdminAccountError("unknown admin")
            row.totp_secret_enc = self.secrets.encrypt(secret.encode())

    def check_totp(self, admin: AdminAccount, code: str) -> bool:
        if admin.totp_secret_enc is None:
            return False
        return _totp_ok(self.secrets.decrypt(admin.totp_secret_enc).decode(), code)

    def signed_in(self, admin_id: str) -> None:
        with self.db.session() as s:
            row = s.get(AdminAccount, admin_id)
            if row is not None:
                row.last_sign_in_at = utcnow()

    def set_disabled(self, admin_id: str, disabled: bool) -> None:
        with self.db.session() as s:
            row = s.get(AdminAccount, admin_id)
            if row is None:
                raise AdminAccountError("unknown admin")
            row.disabled = disabled


def _totp_ok(secret: str, code: str) -> bool:
    code = code.strip().replace(" ", "")
    # valid_window=1 tolerates one 30-second step of clock drift (RFC 6238 §6).
    return len(code) == 6 and code.isdigit() and pyotp.TOTP(secret).verify(code, valid_window=1)
