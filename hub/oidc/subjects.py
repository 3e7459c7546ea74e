"""Subject identifiers (OIDC Core §8): pairwise by default, public per client.

A pairwise ``sub`` is a keyed hash of (sector identifier, local account id), so two
networks in different sectors cannot correlate a doctor by ``sub``.
"""

from __future__ import annotations

import hashlib
import hmac

from hub.crypto import b64url


def subject_for(doctor_id: str, *, subject_type: str, sector: str, salt: bytes) -> str:
    if subject_type == "public":
        return doctor_id
    mac = hmac.new(salt, f"{sector}\x00{doctor_id}".encode(), hashlib.sha256).digest()
    return b64url(mac)
