"""Keys that sign and verify checkpoints: Ed25519 (verifiable by anyone holding the public
key, e.g. an auditor) or HMAC-SHA256 (one shared secret the hub already holds)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hub.audit.errors import CheckpointKeyError

MIN_HMAC_SECRET = 32


@runtime_checkable
class CheckpointKey(Protocol):
    algorithm: str
    key_id: str

    def sign(self, message: bytes) -> bytes: ...

    def verify(self, message: bytes, signature: bytes) -> bool: ...


class HmacCheckpointKey:
    algorithm = "hmac-sha256"

    def __init__(self, secret: bytes, key_id: str | None = None) -> None:
        if len(secret) < MIN_HMAC_SECRET:
            raise CheckpointKeyError(f"an HMAC checkpoint key needs at least {MIN_HMAC_SECRET} bytes")
        self._secret = secret
        # Derived with a label so the id reveals nothing usable about the secret.
        self.key_id = key_id or hashlib.sha256(b"audit-checkpoint-kid\0" + secret).hexdigest()[:16]

    @classmethod
    def derive(
        cls, master_secret: str | bytes, label: str = "curbside audit checkpoints"
    ) -> HmacCheckpointKey:
        """A checkpoint key derived from the hub's secret key, so none has to be configured."""
        master = master_secret.encode() if isinstance(master_secret, str) else master_secret
        if not master:
            raise CheckpointKeyError("no secret to derive the audit checkpoint key from")
        return cls(hmac.new(master, label.encode(), hashlib.sha256).digest())

    def sign(self, message: bytes) -> bytes:
        return hmac.new(self._secret, message, hashlib.sha256).digest()

    def verify(self, message: bytes, signature: bytes) -> bool:
        return hmac.compare_digest(self.sign(message), signature)

    def __repr__(self) -> str:
        return f"HmacCheckpointKey(key_id={self.key_id!r})"


class Ed25519CheckpointKey:
    algorithm = "ed25519"

    def __init__(self, public_key: Ed25519PublicKey, private_key: Ed25519PrivateKey | None = None) -> None:
        self.public_key = public_key
        self._private_key = private_key
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_id = hashlib.sha256(raw).hexdigest()[:16]

    @classmethod
    def generate(cls) -> Ed25519CheckpointKey:
        private = Ed25519PrivateKey.generate()
        return cls(private.public_key(), private)

    @classmethod
    def from_pem(cls, data: bytes) -> Ed25519CheckpointKey:
        """A PEM private key (signs and verifies) or public key (verifies only)."""
        try:
            if b"PRIVATE KEY" in data:
                private = serialization.load_pem_private_key(data, password=None)
                if not isinstance(private, Ed25519PrivateKey):
                    raise CheckpointKeyError("the checkpoint key must be an Ed25519 key")
                return cls(private.public_key(), private)
            public = serialization.load_pem_public_key(data)
        except (ValueError, TypeError) as exc:
            raise CheckpointKeyError(f"cannot read the checkpoint key: {exc}") from None
        if not isinstance(public, Ed25519PublicKey):
            raise CheckpointKeyError("the checkpoint key must be an Ed25519 key")
        return cls(public)

    @classmethod
    def from_jwk(cls, jwk: object) -> Ed25519CheckpointKey:
        """A public JWK (RFC 8037 §2: ``kty`` OKP, ``crv`` Ed25519, ``x``); verifies only."""
        if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            raise CheckpointKeyError("the checkpoint JWK must be an Ed25519 key (kty OKP, crv Ed25519)")
        if "d" in jwk:
            # A verifier never needs the private half; refuse it so it is not copied around.
            raise CheckpointKeyError("the checkpoint JWK holds a private key; give the public key only")
        x = jwk.get("x")
        try:
            raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)) if isinstance(x, str) else b""
            return cls(Ed25519PublicKey.from_public_bytes(raw))
        except (binascii.Error, ValueError):
            raise CheckpointKeyError("the checkpoint JWK has no valid Ed25519 public key (x)") from None

    @classmethod
    def public_from_file_bytes(cls, data: bytes) -> Ed25519CheckpointKey:
        """A public key as a PEM or a JWK; a private key is refused (a verifier needs none)."""
        if data.lstrip().startswith(b"{"):
            try:
                jwk = json.loads(data)
            except ValueError:
                raise CheckpointKeyError("cannot read the checkpoint key: not valid JSON") from None
            return cls.from_jwk(jwk)
        if b"PRIVATE KEY" in data:
            raise CheckpointKeyError("this is a private key; give the public key only")
        return cls.from_pem(data)

    def public_jwk(self) -> dict[str, str]:
        raw = self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
        return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": self.key_id, "use": "sig"}

    @property
    def can_sign(self) -> bool:
        return self._private_key is not None

    def private_pem(self) -> bytes:
        if self._private_key is None:
            raise CheckpointKeyError("this checkpoint key holds only the public half")
        return self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def public_pem(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, message: bytes) -> bytes:
        if self._private_key is None:
            raise CheckpointKeyError("cannot sign a checkpoint with a public key")
        return self._private_key.sign(message)

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def __repr__(self) -> str:
        return f"Ed25519CheckpointKey(key_id={self.key_id!r}, can_sign={self.can_sign})"
