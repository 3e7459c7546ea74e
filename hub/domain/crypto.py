"""Secrets of the hub: keyed hashes, encryption at rest, random tokens.

Random credentials (client secrets, tokens, codes) are long and uniformly random, so a
fast keyed hash (HMAC-SHA256) is as strong as a slow password hash for them and costs
microseconds instead of milliseconds on every token request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class DecryptionError(Exception):
    """Data encrypted at rest could not be decrypted with any configured key."""


class PairwiseSaltConflict(ValueError):
    """CURBSIDE_PAIRWISE_SALT and the instance folder's salt file differ."""


@dataclass(frozen=True)
class HubSecrets:
    secret_key: bytes
    pairwise_salt: bytes
    fernet: MultiFernet

    def keyed_hash(self, purpose: str, value: str) -> str:
        mac = hmac.new(self.secret_key, purpose.encode() + b"\x00" + value.encode(), hashlib.sha256)
        return mac.hexdigest()

    def check_keyed_hash(self, purpose: str, value: str, expected: str) -> bool:
        return hmac.compare_digest(self.keyed_hash(purpose, value), expected)

    def encrypt(self, data: bytes) -> str:
        return self.fernet.encrypt(data).decode()

    def decrypt(self, token: str) -> bytes:
        try:
            return self.fernet.decrypt(token.encode())
        except InvalidToken:
            raise DecryptionError("no configured key-encryption key decrypts this value") from None


def _instance_secret(directory: Path, name: str, make: bytes) -> bytes:
    """Read a generated secret from the instance folder, creating it (mode 0600) once."""
    path = directory / name
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    directory.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker won the race; use its value
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(make)
    return make


SALT_FILE = "pairwise_salt"


def pairwise_salt(given: str, instance_dir: Path) -> bytes:
    """The subject salt: the setting when given, else the instance folder's file (made once).

    Both given and different: refused, never one silently preferred. Each choice would
    change every pairwise and public ``sub`` of the deployments that relied on the other,
    and the partner networks would see strangers; only the operator knows which one they
    have been sending.
    """
    if not given.strip():
        return _instance_secret(instance_dir, SALT_FILE, secrets.token_urlsafe(32).encode())
    salt = given.strip().encode()
    path = instance_dir / SALT_FILE
    try:
        stored = path.read_bytes().strip()
    except FileNotFoundError:
        return salt
    if not hmac.compare_digest(stored, salt):
        raise PairwiseSaltConflict(
            f"CURBSIDE_PAIRWISE_SALT differs from the salt in {path}: either one would change "
            "every `sub` given under the other. Set CURBSIDE_PAIRWISE_SALT to that file's "
            "content, or remove the file if the setting is the salt partner networks know")
    return salt


class KeyEncryptionKeysError(ValueError):
    """CURBSIDE_KEY_ENCRYPTION_KEYS is not a list of Fernet keys; the message is one line."""


def load_secrets(secret_key: str, key_encryption_keys: str, instance_dir: Path,
                 pairwise_salt_setting: str = "") -> HubSecrets:
    sk = secret_key.encode() if secret_key else _instance_secret(
        instance_dir, "secret_key", secrets.token_urlsafe(48).encode()
    )
    salt = pairwise_salt(pairwise_salt_setting, instance_dir)
    if key_encryption_keys:
        keks = [k.strip().encode() for k in key_encryption_keys.split(",") if k.strip()]
    else:
        keks = [_instance_secret(instance_dir, "key_encryption_key", Fernet.generate_key())]
    try:
        fernet = MultiFernet([Fernet(k) for k in keks])
    except ValueError:
        raise KeyEncryptionKeysError(
            "CURBSIDE_KEY_ENCRYPTION_KEYS must be Fernet keys (32 url-safe base64 bytes)"
        ) from None
    return HubSecrets(secret_key=sk, pairwise_salt=salt, fernet=fernet)
