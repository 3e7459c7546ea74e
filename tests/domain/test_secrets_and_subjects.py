"""Unit tests of the domain's secrets and subject identifiers: no HTTP, no database."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from hub.domain.clients import new_client_id
from hub.domain.crypto import KeyEncryptionKeysError, PairwiseSaltConflict, load_secrets, pairwise_salt
from hub.domain.subjects import subject_for

SALT = b"s" * 32


def test_pairwise_subjects_differ_by_sector_and_never_equal_the_public_one() -> None:
    a = subject_for("doctor-1", subject_type="pairwise", sector="a.example", salt=SALT)
    b = subject_for("doctor-1", subject_type="pairwise", sector="b.example", salt=SALT)
    public = subject_for("doctor-1", subject_type="public", sector="a.example", salt=SALT)
    assert len({a, b, public}) == 3
    assert "doctor-1" not in a + b + public  # the account id never leaks into a sub
    # Stable: the same doctor at the same sector keeps the same sub.
    assert a == subject_for("doctor-1", subject_type="pairwise", sector="a.example", salt=SALT)


def test_another_salt_gives_every_doctor_another_sub() -> None:
    assert subject_for("d", subject_type="pairwise", sector="x", salt=SALT) != \
        subject_for("d", subject_type="pairwise", sector="x", salt=b"t" * 32)


def test_the_salt_file_is_made_once_and_kept(tmp_path: Path) -> None:
    first = pairwise_salt("", tmp_path)
    assert pairwise_salt("", tmp_path) == first


def test_a_salt_setting_that_contradicts_the_file_is_refused(tmp_path: Path) -> None:
    from_file = pairwise_salt("", tmp_path)
    assert pairwise_salt(from_file.decode(), tmp_path) == from_file
    with pytest.raises(PairwiseSaltConflict, match="CURBSIDE_PAIRWISE_SALT"):
        pairwise_salt("x" * 40, tmp_path)


def test_a_malformed_key_encryption_key_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeyEncryptionKeysError, match="Fernet keys"):
        load_secrets("k" * 48, "not-a-key", tmp_path)


def test_secrets_encrypt_under_the_first_key_and_decrypt_under_any(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = load_secrets("k" * 48, old, tmp_path)
    after = load_secrets("k" * 48, f"{new},{old}", tmp_path)
    assert after.decrypt(before.encrypt(b"refresh-token")) == b"refresh-token"


def test_client_ids_never_start_with_a_dash() -> None:
    # Operators type client ids into `hub client ...` commands, where "-x" is an option.
    assert not any(new_client_id().startswith("-") for _ in range(2000))
