"""Verifier implementations shared by the register modules.

:class:`MirrorVerifier` answers from the mirror only; :class:`LiveVerifier` asks the
register first (through hub.verification.resilience) and falls back to the mirror when the
register is slow, failing or behind an open breaker, so a check returns within the policy's
deadline whatever the register does.

A live register's mirror is a cache and an import of what the register publishes, never
the whole register at this moment: when the register is down and the mirror has no copy
of the number, the answer is ``unavailable`` (checked again later), never ``no_match``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

import requests
from sqlalchemy import exists, select

from connectors.breaker import CircuitBreaker
from connectors.resilience import RetryPolicy
from hub.outbound import Outbound
from hub.persistence.db import Database, utcnow
from hub.persistence.models.registers import RegisterRecord
from hub.verification import mirror
from hub.verification.base import (
    RegisterEntry,
    RegisterResult,
    RegisterUnavailable,
    RegistrationClaim,
    ResultStatus,
    judge,
)
from hub.verification.resilience import call_live, register_breaker
from hub.verification.vocabulary import RegisterInfo


class MirrorVerifier:
    info: RegisterInfo  # the register module's INFO
    number_label: str = "registration number"

    @property
    def register(self) -> str:
        return self.info.id

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock

    # Hooks for register modules -------------------------------------------------------

    def normalize(self, number: str) -> str | None:
        """The number in the register's canonical form, or None when it cannot be one."""
        return number.strip() or None

    def judge(
        self,
        claim: RegistrationClaim,
        entry: RegisterEntry | None,
        *,
        method: str,
        evidence_time: datetime | None = None,
    ) -> RegisterResult:
        return judge(claim, entry, checked_at=self.clock(), method=method, info=self.info,
                     evidence_time=evidence_time)

    # Checks ---------------------------------------------------------------------------

    def _unavailable(self, reason: str) -> RegisterResult:
        return RegisterResult(ResultStatus.UNAVAILABLE, reason, self.clock(), self.register)

    def _claim(self, claim: RegistrationClaim) -> tuple[RegistrationClaim, str | None]:
        number = self.normalize(claim.number)
        return replace(claim, register=self.register, number=number or claim.number), number

    def check(self, claim: RegistrationClaim) -> RegisterResult:
        claim, number = self._claim(claim)
        if number is None:
            return self.judge(claim, None, method="input")
        return self.check_mirror(claim, number)

    def check_mirror(
        self, claim: RegistrationClaim, number: str, why: str = "", *, complete: bool = True
    ) -> RegisterResult:
        """Judge the claim on the mirror's copy. ``complete``: the mirror holds the whole
        register, so a number it lacks is not registered; otherwise a missing number is
        ``unavailable``."""
        with self.db.session() as s:
            found = mirror.lookup(s, self.register, number)
            loaded = (
                found is not None
                or s.execute(select(exists().where(RegisterRecord.register == self.register))).scalar()
            )
        if not loaded:
            return self._unavailable(f"{why}no copy of the register loaded".strip())
        if found is None and not complete:
            return self._unavailable(f"{why}no copy of this registration".strip())
        if found is None:
            result = self.judge(claim, None, method="mirror")
        else:
            entry, as_of = found
            result = self.judge(claim, entry, method="mirror", evidence_time=as_of)
        if why:
            result = replace(result, reason=f"{result.reason} ({why.rstrip('; ')}; mirror copy)")
        return result


class LiveVerifier(MirrorVerifier):
    """Subclasses implement :meth:`fetch` (one HTTP attempt with the given timeout)."""

    def __init__(
        self,
        db: Database,
        *,
        http: requests.Session | None = None,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__(db, clock=clock)
        self.policy = policy or RetryPolicy()
        # The hub hands in its guarded session (registry.for_hub); the fallback is as strict.
        self.http = http or Outbound().session(deadline=self.policy.deadline)
        self.breaker = breaker or register_breaker(self.register)
        self._sleep = sleep

    def fetch(self, number: str, timeout: tuple[float, float]) -> Sequence[RegisterEntry]:
        raise NotImplementedError

    def keep_live(self, entries: Sequence[RegisterEntry]) -> Sequence[RegisterEntry]:
        """Write a live answer into the mirror (the copy used during outages) and return
        the entries to judge; registers whose answers need the mirrored copy override it."""
        with self.db.session() as s:
            mirror.store_entries(s, entries, source="live")
        return entries

    def lookup_live(self, number: str) -> Sequence[RegisterEntry]:
        """Every entry the register returns for the number (raises RegisterUnavailable)."""
        return call_live(
            lambda timeout: self.fetch(number, timeout),
            breaker=self.breaker,
            policy=self.policy,
            sleep=self._sleep or time.sleep,
        )

    def check(self, claim: RegistrationClaim) -> RegisterResult:
        claim, number = self._claim(claim)
        if number is None:
            return self.judge(claim, None, method="input")
        try:
            entries = self.lookup_live(number)
        except RegisterUnavailable as exc:
            return self.check_mirror(claim, number, why=f"register unavailable: {exc}; ", complete=False)
        if entries:
            entries = self.keep_live(entries)
        entry = next((e for e in entries if e.number == number), None)
        return self.judge(claim, entry, method="live")
