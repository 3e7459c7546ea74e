"""Which checkpoint keys a process uses, from its settings.

Two roles, so the private half of an Ed25519 key can stay off the serving hosts:

* the checkpoint writer (``hub worker`` or ``hub audit checkpoint``) signs with
  ``audit_checkpoint_key_file`` (an Ed25519 private key PEM);
* every verifier (the admin console in the web hub, ``hub audit verify``) needs only
  ``audit_checkpoint_public_key_file``: public keys as PEM or JWK files, comma-separated
  (newest first; keep retired ones so their checkpoints still verify).

With neither configured, both roles use one HMAC key derived from the hub's secret key
(no key to manage, but every host holding the secret key can sign).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub.audit.errors import CheckpointKeyError
from hub.audit.keys import CheckpointKey, Ed25519CheckpointKey, HmacCheckpointKey

PRIVATE_SETTING = "CURBSIDE_AUDIT_CHECKPOINT_KEY_FILE"
PUBLIC_SETTING = "CURBSIDE_AUDIT_CHECKPOINT_PUBLIC_KEY_FILE"


def _read(path: Path, setting: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CheckpointKeyError(f"cannot read the key file {path} ({setting}): {exc.strerror}") from None


def _public_paths(settings: Any) -> list[Path]:
    raw = getattr(settings, "audit_checkpoint_public_key_file", "") or ""
    return [Path(p.strip()) for p in raw.split(",") if p.strip()]


def load_private_key_file(path: Path) -> Ed25519CheckpointKey:
    key = Ed25519CheckpointKey.from_pem(_read(path, PRIVATE_SETTING))
    if not key.can_sign:
        raise CheckpointKeyError(f"{path} holds a public key; signing needs the private key")
    return key


def load_public_key_file(path: Path) -> Ed25519CheckpointKey:
    try:
        return Ed25519CheckpointKey.public_from_file_bytes(_read(path, PUBLIC_SETTING))
    except CheckpointKeyError as exc:
        raise CheckpointKeyError(f"{PUBLIC_SETTING} {path}: {exc}") from None


def signing_key(settings: Any, secret_key: str | bytes | None) -> CheckpointKey | None:
    """The key the checkpoint writer signs with; None when there is nothing to sign with."""
    path = getattr(settings, "audit_checkpoint_key_file", "") or ""
    if path:
        return load_private_key_file(Path(path))
    if _public_paths(settings):
        # Verifiers trust only the public keys, so an HMAC checkpoint would be reported as
        # signed by an unknown key: refuse instead of writing useless checkpoints.
        raise CheckpointKeyError(
            f"{PUBLIC_SETTING} is set but {PRIVATE_SETTING} is not: "
            "this process cannot sign checkpoints (run the writer where the private key is)"
        )
    return HmacCheckpointKey.derive(secret_key) if secret_key else None


def verification_keys(settings: Any, secret_key: str | bytes | None) -> list[CheckpointKey] | None:
    """The keys whose checkpoints are trusted; None when there are none (unsigned check).

    The public key setting wins and the private key file is then never read, so a serving
    host needs only public keys. The derived HMAC key is trusted only when no Ed25519 key is
    configured: anyone holding the secret key could otherwise forge a checkpoint.
    """
    public = _public_paths(settings)
    if public:
        return [load_public_key_file(p) for p in public]
    path = getattr(settings, "audit_checkpoint_key_file", "") or ""
    if path:
        return [Ed25519CheckpointKey.from_pem(_read(Path(path), PRIVATE_SETTING))]
    return [HmacCheckpointKey.derive(secret_key)] if secret_key else None
