"""Whether a session shows the account's own authentication, for the acts that add a way
into the account or speak in the doctor's name (linking a network, enrolling a second
factor, vouching for a colleague).

NIST SP 800-63B §6.1.2.1: binding a new authenticator needs the account's own
authenticators. A brokered sign-in (amr "fed") proves only an upstream account that the
hub cannot see into; whoever controls it (or the network's operator) must not be able to
act as the doctor beyond signing in.
"""

from __future__ import annotations

from typing import Any

from hub.domain.sessions import PASSKEY_AMR, SSOSession


def shows_own_authentication(sso: SSOSession, doctor: Any) -> bool:
    """The session began with the account's password and, when the doctor has a second
    factor enrolled, that factor too (RFC 8176 amr "pwd", and "mfa"); or with one of the
    account's passkeys alone, user-verified ("hwk"/"swk" and "user": both factors in one
    authenticator, hub/pages/passkeys.py)."""
    if PASSKEY_AMR.intersection(sso.amr) and "user" in sso.amr and "fed" not in sso.amr:
        return True
    if "pwd" not in sso.amr:
        return False
    return not getattr(doctor, "mfa_enabled", False) or "mfa" in sso.amr
