"""All models, imported here so Alembic and create_all see every table."""

from hub.models.accounts import Doctor
from hub.models.admin import AdminAccount
from hub.models.audit import AuditCheckpoint, AuditPersonalData, AuditRecord
from hub.models.clients import ClientRecord
from hub.models.grants import Consent, Grant, RefreshToken
from hub.models.keys import SigningKey
from hub.models.links import AccountLink, FeedItem, LinkNetwork, LinkToken, RelayState  # noqa: F401
from hub.models.registers import (
    DoctorRegistration,
    IdentityEvidence,
    RegisterImport,
    RegisterRecord,
    RegisterSnapshotKey,
    VerificationCheck,
)
from hub.models.relying import (  # noqa: F401
    ClientPolicyVersion,
    InitialAccessToken,
    LogoutDelivery,
    OperatorAccount,
    RegistrationAccessToken,
)
from hub.models.store import StoreEntry

__all__ = [
    "AdminAccount", "AuditCheckpoint", "AuditPersonalData", "AuditRecord",
   "ClientRecord", "Consent", "Doctor", "Grant", "RefreshToken", "SigningKey", "StoreEntry"]
