"""Secrets, tokens, documents and personal data never reach the chained detail."""

from __future__ import annotations

import secrets
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.audit import AuditDetailError, AuditEvent, append, verify_chain
from hub.audit.detail import MAX_DETAIL_BYTES, clean_detail, clean_identifier, looks_like_token
from hub.persistence.db import Database

JWT = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiIxMjMiLCJpc3MiOiJodHRwczovL2h1YiJ9."
    "c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"
)


@pytest.mark.parametrize(
    "key",
    [
        "password", "client_secret", "refreshToken", "access_token", "code", "code_verifier",
        "authorization_code", "id_document", "documentContents", "otp", "session-cookie",
        "private_key", "Password",
    ],
)  # fmt: skip
def test_secret_keys_are_refused(key: str) -> None:
    with pytest.raises(AuditDetailError, match="secret, token, code or document"):
        clean_detail({key: "x"})


def test_secret_keys_are_refused_when_nested() -> None:
    with pytest.raises(AuditDetailError):
        clean_detail({"request": {"params": [{"client_secret": "x"}]}})


@pytest.mark.parametrize("key", ["email", "name", "ip", "client_ip", "givenName", "address"])
def test_personal_keys_must_go_to_personal(key: str) -> None:
    with pytest.raises(AuditDetailError, match="personal="):
        clean_detail({key: "x"})


@pytest.mark.parametrize(
    "value",
    [
        JWT,
        JWT + ".part4.part5",
        "Zk3_pQ9xLr2Vb7Yt0mNc4HsA",
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
    ],
)
def test_token_like_values_are_refused(value: str) -> None:
    with pytest.raises(AuditDetailError, match="looks like a token"):
        clean_detail({"reason": value})


@pytest.mark.parametrize(
    "detail",
    [
        {"token_type": "Bearer", "grant_id": str(uuid.uuid4()), "scope": "openid profile email"},
        {"kid": secrets.token_urlsafe(32), "alg": "ES256"},
        {"register": "nl-big", "status": "verified", "level": 2, "ok": True, "ratio": 0.5},
        {"client": "s6BhdRkqt3", "redirect_uri": "https://rp.example/cb", "country_code": "NL"},
        {"reason_ids": ["licence_expired", "register_unavailable"], "note": None},
    ],
)
def test_harmless_details_pass(detail: dict[str, object]) -> None:
    assert clean_detail(detail).startswith("{")


def test_detail_size_is_capped() -> None:
    with pytest.raises(AuditDetailError, match="limit"):
        clean_detail({"note": "x " * MAX_DETAIL_BYTES})


def test_detail_depth_and_types_are_checked() -> None:
    with pytest.raises(AuditDetailError, match="nested"):
        clean_detail({"a": {"b": {"c": {"d": {"e": 1}}}}})
    with pytest.raises(AuditDetailError, match="type bytes"):
        clean_detail({"a": b"raw"})
    with pytest.raises(AuditDetailError, match="finite"):
        clean_detail({"a": float("nan")})


def test_actor_must_be_an_opaque_id() -> None:
    with pytest.raises(AuditDetailError, match="e-mail"):
        clean_identifier("doc@example.org", "actor")
    with pytest.raises(AuditDetailError, match="token"):
        clean_identifier(JWT, "client_id")


@given(st.integers(min_value=24, max_value=96))
def test_any_urlsafe_token_is_refused(nbytes: int) -> None:
    # Shorter tokens can, rarely, draw too few character classes to be told from words.
    assert looks_like_token(secrets.token_urlsafe(nbytes))
    assert looks_like_token(secrets.token_hex(nbytes))


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_ ", max_size=80))
def test_plain_words_are_not_tokens(text: str) -> None:
    assert not looks_like_token(text)


def test_append_with_a_secret_writes_nothing(db: Database) -> None:
    with pytest.raises(AuditDetailError):
        append(db, AuditEvent.CLIENT_SECRET_ROTATE, actor="admin:1", detail={"client_secret": "s3cr3t"})
    with pytest.raises(AuditDetailError):
        append(db, AuditEvent.AUTH_LOGIN_FAILURE, actor=None, personal={"email": JWT})
    report = verify_chain(db)
    assert report.ok and report.records == 0
