"""One place that maps a register id to its Verifier (adding a register = one module and
one line here)."""

from __future__ import annotations

from typing import Any

import requests

from hub.outbound import Outbound
from hub.persistence.db import Database
from hub.settings import Settings
from hub.verification.base import Verifier
from hub.verification.dk_sst import SstVerifier
from hub.verification.nl_big import BigVerifier
from hub.verification.resilience import HttpPolicy
from hub.verification.uk_gmc import GmcVerifier
from hub.verification.us_nppes import NppesVerifier


def make_verifiers(
    db: Database,
    *,
    http: requests.Session | None = None,
    policy: HttpPolicy | None = None,
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
    verifiers: list[Verifier] = [
        BigVerifier(db, http=http, policy=policy, endpoint=settings.big_endpoint),
        GmcVerifier(db),
        NppesVerifier(db, http=http, policy=policy, api_url=settings.nppes_api_url),
        SstVerifier(db),
    ]
    return {v.register: v for v in verifiers}


def register_session(outbound: Outbound, policy: HttpPolicy | None = None) -> requests.Session:
    """The session live register lookups go out through: one attempt may take the whole
    lookup budget at most (``call_live`` spreads retries within it)."""
    return outbound.session(deadline=(policy or HttpPolicy()).deadline)


def for_hub(hub: Any) -> dict[str, Verifier]:
    """The hub process's verifiers, built once by the composition root (their circuit
    breakers must outlive a request to be of any use), calling out through the hub's guard."""
    return hub.verifiers  # type: ignore[no-any-return]
