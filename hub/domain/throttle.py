"""Sign-in throttling that slows the guesser, not the account's owner.

OWASP "Slow Down Online Guessing Attacks with Device Cookies": after a complete sign-in the
browser holds a device cookie, a keyed hash (HMAC-SHA256 with the hub's secret) over the
account and a random nonce. An attempt that presents a valid device cookie for the account
it tries counts against that cookie only, so nobody else's failures can lock it out; every
other attempt ("untrusted") counts against the account's untrusted-client counter, and
before that against the pair (account, client address), so one address alone cannot use
up the account's untrusted budget either. Each counter is incremented before the secret is
checked, in one atomic Store operation, so parallel guesses cannot slip past a limit; a
success clears the counters its attempt counted against. Numbers: docs/security.md,
"Sign-in throttling".
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from hub.domain.crypto import HubSecrets
    from hub.persistence.store import Store
    from hub.settings import Settings

class SetsCookies(Protocol):
    """What the cookie needs of an HTTP answer (the domain knows no web framework)."""

    def set_cookie(self, key: str, value: str = "", **options: Any) -> None: ...


AnswerT = TypeVar("AnswerT", bound=SetsCookies)

# A browser shared by a ward's doctors holds one entry per account that signed in on it;
# the oldest entries give way first, and the cookie stays far below the 4 KiB browsers keep.
MAX_ACCOUNTS_PER_BROWSER = 8
_ENTRY = re.compile(r"[A-Za-z0-9_-]{22}\.[0-9a-f]{64}\Z")
_SEPARATOR = ":"  # a cookie-octet (RFC 6265 §4.1.1) that neither part of an entry uses


@dataclass(frozen=True)
class DeviceCookies:
    """The device cookie of one realm ("doctor" sign-ins, "admin" console sign-ins).

    The value is up to ``MAX_ACCOUNTS_PER_BROWSER`` entries ``nonce.mac``, where ``mac`` is
    the keyed hash of (realm, account, nonce). The account is not in the cookie in clear:
    an entry is found by checking its mac against the account an attempt names, which is
    what the OWASP design asks (the cookie's login must equal the attempt's).
    """

    secrets: HubSecrets = field(repr=False)
    realm: str
    secure: bool
    ttl: int

    @property
    def name(self) -> str:
        # __Host- binds the cookie to this origin over https with Path=/ (RFC 6265bis §4.1.3.2).
        return f"__Host-curbside_{self.realm}_device" if self.secure else f"curbside_{self.realm}_device"

    def _mac(self, account: str, nonce: str) -> str:
        return self.secrets.keyed_hash(f"device-cookie:{self.realm}", f"{account}\x00{nonce}")

    @staticmethod
    def _entries(value: str | None) -> list[str]:
        if not value:
            return []
        return [e for e in value[:4096].split(_SEPARATOR)[:MAX_ACCOUNTS_PER_BROWSER] if _ENTRY.match(e)]

    def find(self, value: str | None, account: str) -> str | None:
        """The nonce of the cookie's entry issued for ``account``, or None (untrusted)."""
        for entry in self._entries(value):
            nonce, mac = entry.split(".")
            if self.secrets.check_keyed_hash(f"device-cookie:{self.realm}", f"{account}\x00{nonce}", mac):
                return nonce
        return None

    def issue(self, value: str | None, account: str) -> str:
        """The cookie after a complete sign-in to ``account``: a fresh entry for it (OWASP:
        a new device cookie on every success), the entries of other accounts kept."""
        nonce = secrets.token_urlsafe(16)
        kept = [e for e in self._entries(value) if self.find(e, account) is None]
        entries = [*kept, f"{nonce}.{self._mac(account, nonce)}"][-MAX_ACCOUNTS_PER_BROWSER:]
        return _SEPARATOR.join(entries)

    def set(self, resp: AnswerT, value: str) -> AnswerT:
        # HttpOnly: no script reads it; SameSite=Strict: the sign-in forms post from the
        # hub's own pages, so no other site needs it sent.
        resp.set_cookie(self.name, value, max_age=self.ttl, httponly=True, samesite="Strict",
                        secure=self.secure, path="/")
        return resp


@dataclass(frozen=True)
class Attempt:
    """One try at one sign-in step: which account, from where, and with which device."""

    account: str  # the account's key in the counters (a hash of its email, or its id)
    address: str
    device: str | None  # the nonce of a valid device cookie for this account, else None

    @property
    def trusted(self) -> bool:
        return self.device is not None


@dataclass(frozen=True)
class StepThrottle:
    """The attempt counters of one sign-in step (a password, a second factor).

    ``kind`` names the untrusted-client counter per account (a Store kind); the counters
    per (account, address) and per device cookie are ``kind-addr`` and ``kind-dev``.
    """

    kind: str
    per_account: int
    per_account_address: int
    per_device: int
    window: int

    @classmethod
    def of(cls, kind: str, settings: Settings) -> StepThrottle:
        return cls(kind, settings.login_max_per_account, settings.login_max_per_account_address,
                   settings.login_max_per_device, settings.login_window)

    def first_counts(self, attempt: Attempt) -> list[tuple[str, str]]:
        """What the attempt counts against first: its device cookie, or its (account, address)."""
        if attempt.device is not None:
            return [(f"{self.kind}-dev", attempt.device)]
        return [(f"{self.kind}-addr", f"{attempt.account}@{attempt.address}")]

    def admits(self, store: Store, attempt: Attempt, first: Sequence[int]) -> bool:
        """Whether the attempt may be checked, given the counts ``first_counts`` returned.

        An untrusted attempt its address may still make is counted against its account
        here, after the address's pair count, so the attempts one address is refused do
        not use up the account's budget for the account's owner elsewhere.
        """
        if attempt.device is not None:
            return first[0] <= self.per_device
        if first[0] > self.per_account_address:
            return False
        return store.incr(self.kind, attempt.account, ttl=self.window) <= self.per_account

    def admit(self, store: Store, attempt: Attempt) -> bool:
        """``first_counts`` and ``admits`` for a step that has nothing else to read."""
        return self.admits(store, attempt, store.read_and_count((), self.first_counts(attempt),
                                                                ttl=self.window)[1])

    def cleared_by_success(self, attempt: Attempt) -> list[tuple[str, str]]:
        """The counts a success clears: those its own attempt counted against. A success on
        a trusted device leaves the untrusted counters alone, so an attacker's count keeps
        running while the doctor signs in from her own browser."""
        if attempt.device is not None:
            return self.first_counts(attempt)
        return [*self.first_counts(attempt), (self.kind, attempt.account)]
