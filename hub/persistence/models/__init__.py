"""All models, imported here so Alembic and the test fixtures see every table."""

from hub.persistence.models.accounts import Doctor
from hub.persistence.models.admin import AdminAccount
from hub.persistence.models.audit import AuditCheckpoint, AuditPersonalData, AuditRecord
from hub.persistence.models.clients import ClientRecord
from hub.persistence.models.federation import (
    FederationKey,
    FederationRegistration,
    FederationSubordinate,
    FederationTrustMark,
)
from hub.persistence.models.grants import Consent, Grant, RefreshToken
from hub.persistence.models.keys import SigningKey
from hub.persistence.models.links import AccountLink, FeedItem, LinkNetwork, LinkToken, RelayState
from hub.persistence.models.passkeys import Passkey
from hub.persistence.models.registers import (
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
from hub.persistence.models.relying import (
    ClientPolicyVersion,
    InitialAccessToken,
    LogoutDelivery,
    OperatorAccount,
    RegistrationAccessToken,
)
from hub.persistence.models.store import StoreEntry

__all__ = [
    "AccountLink", "AdminAccount", "AuditCheckpoint", "AuditPersonalData", "AuditRecord",
    "ClientPolicyVersion", "ClientRecord", "Consent", "Doctor", "DoctorRegistration",
    "FederationKey", "FederationRegistration", "FederationSubordinate", "FederationTrustMark", "FeedItem",
    "Grant", "IdentityEvidence", "InitialAccessToken", "LinkNetwork", "LinkToken", "LogoutDelivery",
    "OperatorAccount", "Passkey", "RefreshToken", "RegisterImport", "RegisterRecord", "RegisterSnapshotKey",
    "RegistrationAccessToken", "RelayState", "ReviewDocument", "SelfDeclaredProfession",
    "SigningKey", "StoreEntry", "VerificationCheck", "Vouch",
]
