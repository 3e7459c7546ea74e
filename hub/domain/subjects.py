"""Subject identifiers (OIDC Core §8): pairwise by default, public per client.

A ``sub`` is never the internal account id: that id names the doctor in the hub's own
tables, audit records and support conversations, and a network that learnt it could match
it against anything else that leaks it. Both kinds are keyed hashes under the subject salt
(``CURBSIDE_PAIRWISE_SALT``, or the instance folder's ``pairwise_salt`` file; see
hub/domain/crypto.py), kept with the database so that every ``sub`` survives restarts and
upgrades:

* pairwise (§8.1): a keyed hash of (sector identifier, account id), so networks in
  different sectors cannot correlate a doctor by ``sub``;
* public (§8): a keyed hash of the account id alone, the same value at every network
  registered with ``subject_type=public``, and different from every pairwise one.
"""

from __future__ import annotations

import hashlib
import hmac

from hub.domain.crypto import b64url

# A pairwise message starts with its sector (a host name, or a client id when there is
# none: never empty), a public one with NUL, so the two kinds can never be the same string.
_PUBLIC_DOMAIN = b"\x00public\x00"


def subject_for(doctor_id: str, *, subject_type: str, sector: str, salt: bytes) -> str:
    if subject_type == "public":
        message = _PUBLIC_DOMAIN + doctor_id.encode()
    else:
        message = f"{sector}\x00{doctor_id}".encode()
    return b64url(hmac.new(salt, message, hashlib.sha256).digest())
