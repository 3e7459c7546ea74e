"""The registers the hub verifies against: the one table everything else is derived from.

Adding a register is one module (its ``INFO``, its Verifier, its importers) plus one entry
in :data:`BUILT_IN` below. From the table come the verifiers (``make_verifiers``), the
``hub registers import`` choices and file kinds, the verification page's countries and
labels, the country a claim names (``register_for_country``), the evidence and
``verified_claims`` facts (``info``), and the words policies use in their sentences
(``policy_wording``). Nothing else names a register.

:func:`add` and :func:`remove` change the table at run time (tests add a throwaway one).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests

from connectors.resilience import RetryPolicy
from hub.outbound import Outbound
from hub.persistence.db import Database
from hub.settings import Settings
from hub.verification import dk_sst, nl_big, uk_gmc, us_nppes
from hub.verification.base import Verifier
from hub.verification.importing import ImportReport
from hub.verification.vocabulary import RegisterInfo
from policies.messages import Wording

Importer = Callable[..., ImportReport]


@dataclass(frozen=True, slots=True)
class Wiring:
    """What a register's verifier may be built from: one set per process."""

    db: Database
    http: requests.Session
    policy: RetryPolicy | None
    settings: Settings


@dataclass(frozen=True)
class Register:
    info: RegisterInfo
    # The verification page's choice, e.g. "Netherlands (BIG-register)".
    label: str
    # In policies' sentences: "verified against the Dutch BIG register".
    name: str
    # The country as a sentence names it ("the Netherlands").
    country_name: str
    verifier: Callable[[Wiring], Verifier]
    # File kinds ``hub registers import`` reads: "full", "delta", "deactivations".
    importers: Mapping[str, Importer] = field(default_factory=dict)
    # Other codes doctors type for the same country ("UK" for GB).
    aliases: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def country(self) -> str:
        return self.info.country

    @property
    def source_name(self) -> str:
        return self.info.source_name

    @property
    def country_code(self) -> str:
        return self.info.country_code

    @property
    def organization(self) -> str:
        return self.info.organization

    @property
    def max_level(self) -> str:
        return self.info.max_level

    @property
    def proves_licence(self) -> bool:
        return self.info.proves_licence


BUILT_IN: tuple[Register, ...] = (
    Register(nl_big.INFO, "Netherlands (BIG-register)", "the Dutch BIG register",
             "the Netherlands",
             lambda w: nl_big.BigVerifier(w.db, http=w.http, policy=w.policy,
                                          endpoint=w.settings.big_endpoint),
             {"full": nl_big.import_full}),
    Register(uk_gmc.INFO, "United Kingdom (GMC)", "the UK General Medical Council register",
             "the United Kingdom", lambda w: uk_gmc.GmcVerifier(w.db),
             {"full": uk_gmc.import_full, "delta": uk_gmc.apply_delta}, aliases=("UK",)),
    # NPPES's weekly incremental file has the monthly file's layout (deactivated NPIs are
    # rows with only NPI and date), so a delta reads like the full file.
    Register(us_nppes.INFO, "United States (NPPES NPI Registry)", "the US NPPES registry",
             "the United States",
             lambda w: us_nppes.NppesVerifier(w.db, http=w.http, policy=w.policy,
                                              api_url=w.settings.nppes_api_url),
             {"full": us_nppes.import_full, "delta": us_nppes.import_full,
              "deactivations": us_nppes.apply_deactivations}),
    Register(dk_sst.INFO, "Denmark (Autorisationsregisteret)",
             "the Danish Authorisation Register", "Denmark", lambda w: dk_sst.SstVerifier(w.db),
             {"full": dk_sst.import_full, "delta": dk_sst.apply_delta}),
)

REGISTERS: dict[str, Register] = {r.id: r for r in BUILT_IN}
_lock = threading.Lock()


def add(register: Register) -> None:
    """Put a register in the table (replacing one with the same id)."""
    with _lock:
        REGISTERS[register.id] = register


def remove(register_id: str) -> None:
    with _lock:
        REGISTERS.pop(register_id, None)


@contextmanager
def added(register: Register) -> Iterator[Register]:
    """The register in the table for the duration of a ``with`` block."""
    add(register)
    try:
        yield register
    finally:
        remove(register.id)


def info(register_id: str) -> RegisterInfo | None:
    entry = REGISTERS.get(register_id)
    return entry.info if entry is not None else None


def country_labels() -> dict[str, str]:
    """Country code → the verification page's label, one per register's country."""
    return {r.country: r.label for r in REGISTERS.values()}


def register_for_country(country: str) -> str | None:
    """The register that verifies doctors of ``country`` (alpha-2 or an alias)."""
    code = country.strip().upper()
    for r in REGISTERS.values():
        if code == r.country or code in r.aliases:
            return r.id
    return None


def importers() -> dict[str, Mapping[str, Importer]]:
    return {r.id: r.importers for r in REGISTERS.values() if r.importers}


def policy_wording() -> Wording:
    """The words policies' sentences use for the registers and their countries."""
    return Wording(register_names={r.id: r.name for r in REGISTERS.values()},
                   country_names={r.country: r.country_name for r in REGISTERS.values()})


def make_verifiers(
    db: Database,
    *,
    http: requests.Session | None = None,
    policy: RetryPolicy | None = None,
    settings: Settings | None = None,
) -> dict[str, Verifier]:
    """Verifiers for every register; keep one set per process (breakers live in them).

    The live registers' endpoints come from ``settings`` (CURBSIDE_BIG_ENDPOINT,
    CURBSIDE_NPPES_API_URL), so an operator can point the hub at a test environment.
    ``http`` is the hub's guarded session (``for_hub``); without one, a guard built from
    the same settings (CURBSIDE_OUTBOUND_ALLOW_LOCAL) applies all the same.
    """
    settings = settings or Settings()
    http = http or register_session(Outbound(allow_local=settings.outbound_allow_local), policy)
    wiring = Wiring(db, http, policy, settings)
    return {r.id: r.verifier(wiring) for r in list(REGISTERS.values())}


def register_session(outbound: Outbound, policy: RetryPolicy | None = None) -> requests.Session:
    """The session live register lookups go out through: one attempt may take the whole
    lookup budget at most (``call_live`` spreads retries within it)."""
    return outbound.session(deadline=(policy or RetryPolicy()).deadline)


def for_hub(hub: Any) -> dict[str, Verifier]:
    """The hub process's verifiers, built once (their circuit breakers must outlive a
    request to be of any use), calling out through the hub's guard. A register added to
    the table later gets its verifier on first use; a removed one is left out."""
    verifiers: dict[str, Verifier] | None = hub.extra.get("verifiers")
    if verifiers is None:
        verifiers = hub.extra["verifiers"] = {}
    missing = [r for r in list(REGISTERS.values()) if r.id not in verifiers]
    if missing:
        wiring = Wiring(hub.db, register_session(hub.outbound), None, hub.settings)
        with _lock:
            for r in missing:
                verifiers.setdefault(r.id, r.verifier(wiring))
    return {k: v for k, v in verifiers.items() if k in REGISTERS}
