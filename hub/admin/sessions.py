"""Admin console sessions: a random cookie, the state in the Store under its hash.

Separate from the doctors' SSO session on purpose: its own cookie name, SameSite=Strict
(nothing ever needs to reach the console from another site, so cross-site requests never
carry it), a short idle timeout and an absolute lifetime.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace

from hub.domain.crypto import new_token, sha256_hex
from hub.persistence.store import Store

KIND = "admin-session"
IDLE_TTL = 3600  # one hour without a request ends the session
ABSOLUTE_TTL = 8 * 3600  # a working day, then the admin signs in again
PENDING_TTL = 600  # password given, second factor not yet: ten minutes to finish

# Stages: "totp" once the password was checked (every admin gets a TOTP secret when
# created); only "ok" (after the second factor) opens the console.
STAGE_TOTP = "totp"
STAGE_OK = "ok"


@dataclass(frozen=True)
class AdminSession:
    admin_id: str
    stage: str
    sid: str
    created: float

    @property
    def complete(self) -> bool:
        return self.stage == STAGE_OK


class AdminSessions:
    def __init__(self, store: Store, *, secure: bool) -> None:
        self.store = store
        self.secure = secure
        # __Host- binds the cookie to this exact origin over https, with Path=/ (RFC 6265bis).
        self.cookie_name = "__Host-curbside_admin" if secure else "curbside_admin"

    def create(self, admin_id: str, stage: str) -> tuple[str, AdminSession]:
        cookie = new_token(32)
        session = AdminSession(admin_id, stage, new_token(16), time.time())
        self._save(cookie, session)
        return cookie, session

    def promote(self, old_cookie: str, session: AdminSession) -> tuple[str, AdminSession]:
        """After the second factor: a new cookie value (no session fixation), the old one dies."""
        self.end(old_cookie)
        cookie = new_token(32)
        promoted = replace(session, stage=STAGE_OK, sid=new_token(16), created=time.time())
        self._save(cookie, promoted)
        return cookie, promoted

    def load(self, cookie: str | None) -> AdminSession | None:
        """The live session, its idle timer restarted; None if absent, idle or too old."""
        if not cookie or len(cookie) > 100:
            return None
        raw = self.store.get(KIND, sha256_hex(cookie))
        if raw is None:
            return None
        try:
            session = AdminSession(**json.loads(raw))
        except (TypeError, ValueError):
            return None
        if time.time() - session.created > ABSOLUTE_TTL:
            self.end(cookie)
            return None
        if session.complete:
            self._save(cookie, session)  # sliding idle timeout
        return session

    def end(self, cookie: str | None) -> None:
        if cookie and len(cookie) <= 100:
            self.store.delete(KIND, sha256_hex(cookie))

    def _save(self, cookie: str, session: AdminSession) -> None:
        ttl = IDLE_TTL if session.complete else PENDING_TTL
        self.store.put(KIND, sha256_hex(cookie), json.dumps(asdict(session)).encode(), ttl=ttl)
