"""All models, imported here so Alembic and the test fixtures see every table."""

from hub.models.accounts import Doctor
from hub.models.admin import AdminAccount
from hub.models.audit import AuditCheckpoint, AuditPersonalData, AuditRecord
from hub.models.clients import ClientRecord
from hub.models.grants import Consent, Grant, RefreshToken
from hub.models.keys import SigningKey
from hub.models.links import AccountLink, FeedItem, LinkNetwork, LinkToken, RelayState
from hub.models.registers import (
    DoctorRegistration,
    IdentityEvidence,
    RegisterImport,
    RegisterRecord,
    RegisterSnapshotKey,
    ReviewDocument,
    SelfDeclaredProfession,
    VerificationCheck,
    Vouch,
)
from hub.models.relying import (
    ClientPolicyVersion,
    InitialAccessToken,
    LogoutDelivery,
    OperatorAccount,
    RegistrationAccessToken,
)
from hub.models.store import StoreEntry

__all__ = [
    "AccountLink", "AdminAccount", "AuditCheckpoint", "AuditPersonalData", "AuditRecord",
    "ClientPolicyVersion", "ClientRecord", "Consent", "Doctor", "DoctorRegistration", "FeedItem",
    "Grant", "IdentityEvidence", "InitialAccessToken", "LinkNetwork", "LinkToken", "LogoutDelivery",
    "OperatorAccount", "RefreshToken", "RegisterImport", "RegisterRecord", "RegisterSnapshotKey",
    "RegistrationAccessToken", "RelayState", "ReviewDocument", "SelfDeclaredProfession",
    "SigningKey", "StoreEntry", "VerificationCheck", "Vouch",
]
