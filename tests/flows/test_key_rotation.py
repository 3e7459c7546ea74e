"""A relying party with a cached JWKS never sees a validation failure across key rotations."""

from __future__ import annotations

import requests
from joserfc import jws, jwt
from joserfc.jwk import KeySet

from tests.flows.conftest import Browser, RelyingParty, RunningHub


def _kid(token: str) -> str:
    return jws.extract_compact(token.encode()).protected["kid"]


def test_rotation_publishes_before_signing_and_keeps_retired_keys(running_hub: RunningHub, browser: Browser) -> None:
    rp = RelyingParty(running_hub, running_hub.client())
    doctor = running_hub.doctor()
    cached = KeySet.import_key_set(requests.get(rp.meta["jwks_uri"], timeout=5).json())
    before = rp.sign_in(browser, doctor.email)["id_token"]
    running_hub.hub.keys.rotate()
    after = rp.sign_in(browser, doctor.email)["id_token"]
    assert _kid(after) != _kid(before)
    # The new signing key was already in the JWKS the RP cached before the rotation.
    jwt.decode(after, cached, algorithms=["RS256"])
    # The retired key stays published, so tokens signed before the rotation still verify.
    fresh = KeySet.import_key_set(requests.get(rp.meta["jwks_uri"], timeout=5).json())
    jwt.decode(before, fresh, algorithms=["RS256"])
    published = {k["kid"] for k in requests.get(rp.meta["jwks_uri"], timeout=5).json()["keys"]}
    assert {_kid(before), _kid(after)} <= published


def test_private_keys_are_encrypted_at_rest(running_hub: RunningHub) -> None:
    from sqlalchemy import select

    from hub.persistence.models.keys import SigningKey

    with running_hub.hub.db.session() as s:
        for k in s.scalars(select(SigningKey)):
            assert '"d"' not in k.private_jwk_enc and k.private_jwk_enc.startswith("gAAAA")
