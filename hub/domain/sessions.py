"""The SSO session: a cookie (the doctor's account id and 256 random bits), the state kept
in the Store under the cookie's hash.

The cookie is HttpOnly, Secure (``__Host-`` prefixed) outside local demos, and SameSite=Lax:
Lax, not Strict, because a relying party sends the doctor to /authorize by a top-level
cross-site navigation, and silent SSO (prompt=none) must see the session there.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from hub.domain.crypto import new_token, sha256_hex
from hub.persistence.store import Store

SSO_KIND = "sso"
CUTOFF_KIND = "sso-cutoff"
ACR_PWD = "urn:curbside:acr:pwd"
ACR_MFA = "urn:curbside:acr:mfa"
# Phishing-resistant: a passkey signed for the hub's origin (policies/vocabulary.py ACR_PHR).
ACR_PHR = "urn:curbside:acr:phr"
PASSKEY_AMR = frozenset({"hwk", "swk"})  # RFC 8176 §2: proof of possession of a key


def host_cookie_name(name: str, secure: bool) -> str:
    """The name of a sign-in cookie: ``__Host-`` prefixed outside local demos. Browsers keep
    such a cookie only if it is Secure, has path / and no Domain (RFC 6265bis §4.1.3.2), so
    no sibling subdomain and no plain-http answer can plant one (login CSRF by cookie
    injection)."""
    return f"__Host-{name}" if secure else name


@dataclass(frozen=True)
class SSOSession:
    doctor_id: str
    auth_time: int
    amr: list[str]
    sid: str
    clients: list[str] = field(default_factory=list)
    created: float = 0.0  # sub-second, so a sign-in right after end_all_for survives it

    @property
    def acr(self) -> str:
        if PASSKEY_AMR.intersection(self.amr):
            return ACR_PHR
        return ACR_MFA if "mfa" in self.amr else ACR_PWD


class Sessions:
    def __init__(self, store: Store, *, ttl: int, secure: bool) -> None:
        self.store = store
        self.ttl = ttl
        self.cookie_name = host_cookie_name("curbside_sso", secure)
        self.secure = secure

    def create(self, doctor_id: str, amr: list[str]) -> tuple[str, SSOSession]:
        cookie, session = self.new(doctor_id, amr)
        self._save(cookie, session)
        return cookie, session

    def new(self, doctor_id: str, amr: list[str]) -> tuple[str, SSOSession]:
        """A session not yet saved: ``entry`` gives its Store write, for batching."""
        # The cookie names its doctor (an opaque account id), so the session and the
        # doctor's cut-off are read together; the session is found only by the hash of all
        # of it, and the name must match the session it finds.
        cookie = f"{doctor_id}.{new_token(32)}"
        now = time.time()
        return cookie, SSOSession(doctor_id, int(now), amr, new_token(16), created=now)

    def _save(self, cookie: str, session: SSOSession) -> None:
        kind, key, value, ttl = self.entry(cookie, session)
        self.store.put(kind, key, value, ttl=ttl)

    def entry(self, cookie: str, session: SSOSession) -> tuple[str, str, bytes, int]:
        """The Store write (kind, key, value, ttl) that saves ``session``, for batching."""
        return SSO_KIND, sha256_hex(cookie), json.dumps(session.__dict__).encode(), self.ttl

    def lookup_keys(self, cookie: str | None) -> list[tuple[str, str]]:
        """The Store reads behind a cookie, for batching: its session, then its doctor's
        cut-off when the cookie names the doctor. Empty for a malformed cookie."""
        if not cookie or len(cookie) > 100:
            return []
        doctor_id, dot, rest = cookie.partition(".")
        keys = [(SSO_KIND, sha256_hex(cookie))]
        if dot and doctor_id and rest:
            keys.append((CUTOFF_KIND, doctor_id))
        return keys

    def load(self, cookie: str | None) -> SSOSession | None:
        keys = self.lookup_keys(cookie)
        return self.from_stored(cookie, self.store.get_many(keys)) if keys else None

    def from_stored(self, cookie: str | None, values: list[bytes | None]) -> SSOSession | None:
        """The live session from what the Store held under ``lookup_keys(cookie)``."""
        if not cookie or not values or values[0] is None:
            return None
        try:
            session = SSOSession(**json.loads(values[0]))
        except (TypeError, ValueError):
            return None
        if len(values) > 1:
            if cookie.partition(".")[0] != session.doctor_id:
                return None
            cutoff = values[1]
        else:  # a cookie from before cookies named their doctor
            cutoff = self.store.get(CUTOFF_KIND, session.doctor_id)
        if cutoff is not None and session.created <= float(cutoff):
            return None  # ended by end_all_for (admin, licence withdrawal, the doctor)
        return session

    def end_all_for(self, doctor_id: str) -> None:
        """End every SSO session of a doctor, on every device, at once.

        Sessions are found by cookie hash only, so instead of listing them a cutoff time is
        kept for the session lifetime: any session authenticated before it is dead.
        """
        self.store.put(CUTOFF_KIND, doctor_id, str(time.time()).encode(), ttl=self.ttl)

    def joined(self, session: SSOSession, client_id: str) -> SSOSession | None:
        """The session remembering it signed into ``client_id`` (for logout), or None if it
        already does; the caller saves it (``entry``)."""
        if client_id in session.clients:
            return None
        return SSOSession(session.doctor_id, session.auth_time, session.amr, session.sid,
                          [*session.clients, client_id], session.created)

    def end(self, cookie: str | None) -> SSOSession | None:
        if not cookie or len(cookie) > 100:
            return None
        raw = self.store.consume(SSO_KIND, sha256_hex(cookie))
        return SSOSession(**json.loads(raw)) if raw else None
