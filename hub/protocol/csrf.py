"""One CSRF defence for every form the hub serves: the protocol app's sign-out
confirmation, the doctors' account pages, the operator portal and the admin console.

A synchronizer token (OWASP CSRF Prevention Cheat Sheet) derived from the cookie the form
belongs to: a keyed hash of that cookie under the form family's purpose, so a token dies
with its session, is worthless under another purpose, and needs no storage.
"""

from __future__ import annotations

import hmac

from hub.domain.crypto import HubSecrets, sha256_hex

DOCTOR = "csrf"  # the doctor's SSO session (account pages, sign-out confirmation)
OPERATOR = "operator-csrf"
ADMIN = "admin-csrf"


def csrf_token(secrets: HubSecrets, purpose: str, cookie: str) -> str:
    return secrets.keyed_hash(purpose, sha256_hex(cookie))[:32]  # type: ignore[no-any-return]


def csrf_valid(secrets: HubSecrets, purpose: str, cookie: str | None, sent: str) -> bool:
    """Whether ``sent`` is the token of ``cookie``. Bytes: compare_digest refuses a str
    with non-ASCII characters (a TypeError, which would be a 500)."""
    if not cookie:
        return False
    return hmac.compare_digest(sent.encode(), csrf_token(secrets, purpose, cookie).encode())
