"""Checks that keep secrets, tokens, documents and personal data out of the chained detail.

The detail of a record can never be erased without breaking the chain, so anything that is
secret (and could be replayed) or personal (and may have to be erased) must never get
there. The checks are a safety net against accidents, not a sandbox against malice: they
refuse keys that name such things and values that look like tokens.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from hub.audit.errors import AuditDetailError

MAX_DETAIL_BYTES = 2048
MAX_PERSONAL_BYTES = 4096
MAX_DEPTH = 4
MAX_KEY_LENGTH = 64
MAX_ID_LENGTH = 255

# A key is split into words (snake, kebab, dotted and camelCase); any of these words
# refuses it: "client_secret", "refreshToken", "code_verifier", "id_document"...
SECRET_WORDS = frozenset(
    {
        "password", "passwd", "passphrase", "pwd", "secret", "secrets", "token", "tokens",
        "code", "otp", "totp", "pin", "document", "documents", "credential", "credentials",
        "cookie", "cookies", "jwt", "assertion", "authorization", "bearer", "signature",
        "salt", "private", "apikey", "recovery", "verifier", "nonce",
    }
)  # fmt: skip
# Harmless keys that contain a secret word; kept short on purpose.
ALLOWED_KEYS = frozenset(
    {
        "token_type", "token_endpoint_auth_method", "code_challenge_method", "status_code",
        "error_code", "country_code", "token_family",
    }
)  # fmt: skip
# Personal data belongs in ``personal=`` (stored outside the chain, erasable).
PERSONAL_KEYS = frozenset(
    {
        "name", "fullname", "givenname", "familyname", "firstname", "lastname", "surname",
        "middlename", "nickname", "email", "emailaddress", "mail", "phone", "phonenumber",
        "mobile", "ip", "ipaddress", "address", "remoteaddr", "remoteaddress", "birthdate",
        "dateofbirth", "dob", "street", "postcode", "postalcode", "useragent",
    }
)  # fmt: skip
PERSONAL_WORDS = frozenset({"email", "phone", "ip", "birthdate"})
# Public identifiers that are random-looking by design (JWK thumbprints and the like).
RANDOM_LOOKING_KEYS = frozenset({"kid", "jkt", "thumbprint", "fingerprint", "x5t#s256"})

_WORD_SPLIT = re.compile(r"[_\-.\s#]+|(?<=[a-z0-9])(?=[A-Z])")
_JWT = re.compile(r"^eyJ[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*){2,4}$")
_OPAQUE = re.compile(r"^[A-Za-z0-9+/_=\-.~]+$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# token_urlsafe(18) and longer; shorter identifiers (client ids, sids) stay allowed.
OPAQUE_MIN_LENGTH = 24
HEX_MIN_LENGTH = 40


def canonical_json(value: Any) -> str:
    """Sorted-key compact JSON, ASCII only: the same bytes on every platform and backend."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def key_words(key: str) -> list[str]:
    return [w.lower() for w in _WORD_SPLIT.split(key) if w]


def looks_like_token(value: str) -> bool:
    """True for JWTs/JWEs and long high-entropy strings (bearer tokens, codes, secrets)."""
    if len(value) < OPAQUE_MIN_LENGTH and not value.startswith("eyJ"):
        # What the checks below would answer, at a fraction of the cost: below both
        # minimum lengths, only a JWT counts. Most detail values are this short.
        return False
    if _JWT.match(value):
        return True
    if _UUID.match(value) or not _OPAQUE.match(value):
        return False
    if _HEX.match(value):
        return len(value) >= HEX_MIN_LENGTH
    if len(value) < OPAQUE_MIN_LENGTH:
        return False
    classes = sum(
        (
            any(c.islower() for c in value),
            any(c.isupper() for c in value),
            any(c.isdigit() for c in value),
        )
    )
    return classes >= 3 or (classes == 2 and _entropy(value) >= 4.0)


def _entropy(value: str) -> float:
    counts: dict[str, int] = {}
    for c in value:
        counts[c] = counts.get(c, 0) + 1
    n = len(value)
    return -sum(k / n * math.log2(k / n) for k in counts.values())


def _check_key(key: object, path: str) -> str:
    if not isinstance(key, str) or not key:
        raise AuditDetailError(f"detail keys must be non-empty strings (at {path or 'top'})")
    if key in _GOOD_KEYS:
        return key
    _refuse_key(key)
    if len(_GOOD_KEYS) < 1024:  # the hub's own key names; bounded against anything else
        _GOOD_KEYS.add(key)
    return key


# Keys that passed _refuse_key: a key's verdict depends on nothing but the key, and an
# audit append checks the same few names every time.
_GOOD_KEYS: set[str] = set()


def _refuse_key(key: str) -> None:
    if len(key) > MAX_KEY_LENGTH:
        raise AuditDetailError(f"detail key {key[:20]!r}... is longer than {MAX_KEY_LENGTH}")
    lowered = key.lower()
    if lowered in ALLOWED_KEYS:
        return
    words = key_words(key)
    joined = "".join(words)
    if joined in SECRET_WORDS or any(w in SECRET_WORDS for w in words):
        raise AuditDetailError(
            f"detail key {key!r} names a secret, token, code or document; audit records must never hold those"
        )
    if joined in PERSONAL_KEYS or any(w in PERSONAL_WORDS for w in words):
        raise AuditDetailError(
            f"detail key {key!r} is personal data; pass it in personal= so it can be erased"
        )


def _check_value(value: Any, path: str, depth: int, key: str) -> None:
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise AuditDetailError(f"detail value at {path} is not a finite number")
        return
    if isinstance(value, str):
        if key.lower() not in RANDOM_LOOKING_KEYS and looks_like_token(value):
            raise AuditDetailError(
                f"detail value at {path} looks like a token or secret; log an identifier instead"
            )
        return
    if depth >= MAX_DEPTH:
        raise AuditDetailError(f"detail is nested deeper than {MAX_DEPTH} levels at {path}")
    if isinstance(value, Mapping):
        for k, v in value.items():
            _check_key(k, path)
            _check_value(v, f"{path}.{k}", depth + 1, k)
        return
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_value(v, f"{path}[{i}]", depth + 1, key)
        return
    raise AuditDetailError(
        f"detail value at {path} has type {type(value).__name__}; "
        "use strings, numbers, booleans, null, lists or objects"
    )


def clean_detail(detail: Mapping[str, Any] | None) -> str:
    """Validate a detail mapping and return its canonical JSON text (what is stored)."""
    if detail is None:
        return "{}"
    if not isinstance(detail, Mapping):
        raise AuditDetailError("detail must be a mapping of strings to JSON values")
    for k, v in detail.items():
        _check_key(k, "")
        _check_value(v, str(k), 1, str(k))
    text = canonical_json(dict(detail))
    if len(text) > MAX_DETAIL_BYTES:
        raise AuditDetailError(
            f"detail is {len(text)} bytes; the limit is {MAX_DETAIL_BYTES} (log ids, not contents)"
        )
    return text


def clean_personal(personal: Mapping[str, str | None] | None) -> str | None:
    """Validate personal data (flat strings only) and return its canonical JSON, or None."""
    if not personal:
        return None
    values: dict[str, str] = {}
    for k, v in personal.items():
        if not isinstance(k, str) or not k or len(k) > MAX_KEY_LENGTH:
            raise AuditDetailError("personal data keys must be short non-empty strings")
        if any(w in SECRET_WORDS for w in key_words(k)):
            raise AuditDetailError(f"personal data key {k!r} names a secret; never log it")
        if v is None:
            continue
        if not isinstance(v, str):
            raise AuditDetailError(f"personal data value {k!r} must be a string")
        if looks_like_token(v):
            raise AuditDetailError(f"personal data value {k!r} looks like a token or secret")
        values[k] = v
    if not values:
        return None
    text = canonical_json(values)
    if len(text) > MAX_PERSONAL_BYTES:
        raise AuditDetailError(f"personal data is larger than {MAX_PERSONAL_BYTES} bytes")
    return text


def clean_identifier(value: str | None, what: str) -> str | None:
    """Actor and client id are identifiers, never tokens or e-mail addresses."""
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise AuditDetailError(f"{what} must be a non-empty string of at most {MAX_ID_LENGTH}")
    if looks_like_token(value):
        raise AuditDetailError(f"{what} looks like a token or secret; pass an identifier")
    if "@" in value and what == "actor":
        raise AuditDetailError("actor looks like an e-mail address; pass an opaque account id")
    return value
