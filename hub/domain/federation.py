"""The hub in an OpenID Federation (OpenID Federation 1.0, final): its federation keys, its
entity configuration, the trust chains of the relying parties that join by trust, and the
clients those chains admit.

The federation rules themselves live in the framework-free ``federation`` library; this
service hands it the hub's keys, its guarded outbound client (every fetch has a deadline
and a size cap) and the configured trust anchors, and turns a resolved chain into a client
the protocol endpoints know. A client admitted on a chain lives no longer than the chain
(section 10.4): after ``chain_expires_at`` it is resolved again, and a chain that no longer
resolves leaves the client without access.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from joserfc.jwk import ECKey
from sqlalchemy import select

import federation
from federation import FederationError, FetchFailed, InvalidMetadata, TrustChain, TrustChainResolver
from hub.domain.client_metadata import ClientMetadataError, validate_metadata
from hub.domain.clients import MAX_CLIENT_ID_LENGTH, Client, ClientRegistry
from hub.domain.crypto import HubSecrets, new_token, sha256_hex
from hub.persistence.db import Database, utcnow
from hub.persistence.models.clients import ClientRecord
from hub.persistence.models.federation import FederationKey, FederationRegistration, FederationTrustMark

log = logging.getLogger(__name__)
RP_TYPE = "openid_relying_party"
FEDERATION_ALG = "ES256"
# How long the hub's own entity configuration is valid (section 3: iat/exp); superiors and
# relying parties re-fetch it after that.
CONFIGURATION_LIFETIME = 24 * 3600
# Every fetch of a statement: one deadline for the whole request, and a size cap well above
# any real statement (the library adds its own 64 KiB cap per statement).
FETCH_DEADLINE = 5.0
FETCH_MAX_BYTES = 256 * 1024
# How long a member's verified trust marks (their issuers' status answers above all) are
# trusted before they are checked again: the longest a foreign issuer's revocation waits.
TRUST_MARK_STATUS_TTL = 300
# Trust marks looked at per member: each may cost a resolution of its issuer's chain.
MAX_TRUST_MARKS = 16
# The grants a federation client may use: it authenticates with private_key_jwt, which the
# client_credentials grant does not take here.
FEDERATION_GRANTS = ("authorization_code", "refresh_token")


class RegistrationRefused(Exception):
    """A relying party could not be admitted: ``error`` is the OAuth or federation error
    code, ``description`` a reason safe to show the relying party's operator."""

    def __init__(self, error: str, description: str, status_code: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status_code = status_code


@dataclass(frozen=True)
class Admission:
    """A client admitted on a trust chain."""

    client: Client
    chain: TrustChain
    trust_marks: list[str]


class FederationKeys:
    """The federation signing key, generated at first use and encrypted at rest."""

    def __init__(self, db: Database, secrets: HubSecrets) -> None:
        self.db = db
        self.secrets = secrets
        self._key: ECKey | None = None
        self._lock = threading.Lock()

    def signing_key(self) -> ECKey:
        if self._key is not None:
            return self._key
        with self._lock:
            if self._key is None:
                self._key = self._load_or_create()
            return self._key

    def jwks(self) -> dict[str, Any]:
        return federation.public_jwks(self.signing_key())

    def _load_or_create(self) -> ECKey:
        with self.db.session() as s:
            row = s.scalars(select(FederationKey).where(FederationKey.state == "active")
                            .order_by(FederationKey.created_at.desc()).limit(1)).first()
            if row is None:
                key = ECKey.generate_key("P-256", private=True)
                kid = new_token(12)
                public = key.as_dict(private=False)
                public.update({"kid": kid, "alg": FEDERATION_ALG, "use": "sig"})
                private = {**key.as_dict(private=True), "kid": kid}
                row = FederationKey(kid=kid, alg=FEDERATION_ALG, state="active",
                                    private_jwk_enc=self.secrets.encrypt(json.dumps(private).encode()),
                                    public_jwk=json.dumps(public, sort_keys=True))
                s.add(row)
            private_jwk = json.loads(self.secrets.decrypt(row.private_jwk_enc))
        return ECKey.import_key(private_jwk)


def discovery_metadata(issuer: str, base: Mapping[str, Any]) -> dict[str, Any]:
    """What a hub that admits federation members adds to its plain discovery document
    ``base`` (OIDC Discovery 1.0 §3): members authenticate with private_key_jwt (section
    12.1.3) and send signed request objects (section 12.1.1.1), so a relying-party library
    reading only ``/.well-known/openid-configuration`` finds both."""
    def with_private_key_jwt(endpoint: str) -> dict[str, Any]:
        methods = base.get(f"{endpoint}_endpoint_auth_methods_supported", [])
        return {f"{endpoint}_endpoint_auth_methods_supported": [
                    *(m for m in methods if m != "private_key_jwt"), "private_key_jwt"],
                f"{endpoint}_endpoint_auth_signing_alg_values_supported":
                    list(federation.DEFAULT_ALGORITHMS)}

    # A member revokes and introspects its own tokens with the key it signs in with.
    return {
        **with_private_key_jwt("token"),
        **with_private_key_jwt("revocation"),
        **with_private_key_jwt("introspection"),
        "request_parameter_supported": True,
        "request_object_signing_alg_values_supported": list(federation.DEFAULT_ALGORITHMS),
        "client_registration_types_supported": ["automatic", "explicit"],
        "federation_registration_endpoint": f"{issuer}/federation/register",
    }


def _as_datetime(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


class Federation:
    def __init__(self, *, db: Database, secrets: HubSecrets, clients: ClientRegistry,
                 session_factory: Callable[..., Any], issuer: str,
                 trust_anchors: Mapping[str, Mapping[str, Any]], authority_hints: list[str],
                 allow_http_loopback: bool = False, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clients = clients
        self.session_factory = session_factory
        self.issuer = issuer
        self.trust_anchors = dict(trust_anchors)
        self.authority_hints = list(authority_hints)
        self.allow_http_loopback = allow_http_loopback
        self.clock = clock
        self.fetch_deadline = FETCH_DEADLINE
        self.keys = FederationKeys(db, secrets)

    # -- the hub's own entity configuration (section 3, 5.1.3) ---------------------------
    def op_metadata(self, discovery: Mapping[str, Any]) -> dict[str, Any]:
        """``metadata.openid_provider``: the discovery metadata plus the federation
        registration members of section 5.1.3."""
        return {**discovery, **discovery_metadata(self.issuer, discovery)}

    def entity_configuration(self, discovery: Mapping[str, Any], *,
                             trust_mark_issuers: Mapping[str, list[str]] | None = None) -> str:
        """The hub's self-signed configuration; as a trust anchor it names the trust mark
        types it issues itself (``trust_mark_issuers``, section 3.1.3)."""
        entity = {"organization_name": "Curbside",
                  "federation_fetch_endpoint": f"{self.issuer}/federation/fetch",
                  "federation_list_endpoint": f"{self.issuer}/federation/list",
                  "federation_resolve_endpoint": f"{self.issuer}/federation/resolve",
                  "federation_trust_mark_status_endpoint":
                      f"{self.issuer}/federation/trust-mark-status"}
        return federation.build_entity_configuration(
            self.issuer, key=self.keys.signing_key(), now=int(self.clock()),
            lifetime=CONFIGURATION_LIFETIME, authority_hints=self.authority_hints,
            trust_mark_issuers=dict(trust_mark_issuers) if trust_mark_issuers else None,
            metadata={"openid_provider": self.op_metadata(discovery), "federation_entity": entity})

    # -- trust chains ------------------------------------------------------------------
    def resolver(self) -> TrustChainResolver:
        return TrustChainResolver(trust_anchors=self.trust_anchors, fetch=self._fetch,
                                  post=self._post, clock=self.clock,
                                  allow_http_loopback=self.allow_http_loopback)

    def _fetch(self, url: str) -> bytes:
        with self.session_factory(deadline=self.fetch_deadline, max_bytes=FETCH_MAX_BYTES) as http:
            try:
                resp = http.get(url, allow_redirects=False)
            except requests.RequestException as e:  # OutboundError included: a reason, no trace
                raise FetchFailed(f"{url} could not be fetched ({_public(e)})") from None
        if resp.status_code != 200:
            raise FetchFailed(f"{url} answered {resp.status_code}")
        return bytes(resp.content)

    def _post(self, url: str, form: Mapping[str, str]) -> bytes:
        with self.session_factory(deadline=self.fetch_deadline, max_bytes=FETCH_MAX_BYTES) as http:
            try:
                resp = http.post(url, data=dict(form), allow_redirects=False)
            except requests.RequestException as e:
                raise FetchFailed(f"{url} could not be reached ({_public(e)})") from None
        if resp.status_code != 200:
            raise FetchFailed(f"{url} answered {resp.status_code}")
        return bytes(resp.content)

    def is_federation_entity_id(self, client_id: str | None) -> bool:
        """Whether ``client_id`` is an entity identifier this hub may resolve (section 12.1)."""
        if not self.trust_anchors or not client_id:
            return False
        return federation.is_entity_identifier(client_id) or (
            self.allow_http_loopback and client_id.startswith(("http://127.0.0.1", "http://localhost",
                                                                "http://[::1]")))

    # -- admission (sections 12.1 and 12.2) ------------------------------------------------
    def admit(self, entity_id: str, *, kind: str = "automatic",
              entity_configuration: str | bytes | None = None,
              trust_chain: Sequence[str] | None = None) -> Admission:
        """Resolve ``entity_id``'s chain to a configured anchor, apply its metadata policy and
        store the client (active, no admin step). ``trust_chain`` is a chain the relying
        party offered (a request object's ``trust_chain``, section 12.1.1.1, or an explicit
        registration's trust chain, section 12.2.1): validated as it is, nothing fetched.
        Raises :class:`RegistrationRefused`."""
        if not self.trust_anchors:
            raise RegistrationRefused("invalid_client", "This hub accepts no federation members.")
        if len(entity_id) > MAX_CLIENT_ID_LENGTH:
            raise RegistrationRefused(
                "invalid_client", f"Entity identifiers longer than {MAX_CLIENT_ID_LENGTH} characters "
                "cannot be registered here.")
        resolver = self.resolver()
        try:
            if trust_chain is not None:
                chain = self._offered_chain(entity_id, trust_chain)
            else:
                chain = resolver.resolve(entity_id, entity_configuration=entity_configuration)
        except FederationError as e:
            self._record_failure(entity_id, f"{e.error}: {e.description}")
            raise RegistrationRefused(e.error, e.description, e.status_code) from None
        metadata = chain.metadata_for(RP_TYPE)
        if not metadata:
            raise RegistrationRefused("invalid_metadata",
                                      "The trust chain resolves no openid_relying_party metadata.")
        types = metadata.get("client_registration_types")
        if kind == "automatic" and isinstance(types, list) and "automatic" not in types:
            # Section 5.1.2: the RP lists the registration types it uses.
            raise RegistrationRefused("invalid_client",
                                      "The relying party does not use automatic registration.")
        client_metadata = self._client_metadata(metadata)
        trust_marks = self._verified_trust_marks(resolver, chain)
        client = self._upsert(entity_id, kind, chain, client_metadata, trust_marks)
        return Admission(client, chain, trust_marks)

    def _offered_chain(self, entity_id: str, statements: Sequence[str]) -> TrustChain:
        # Section 10.2, with the configured anchors' keys: an offered chain proves itself,
        # so it may save the fetches; it must be about the client that offers it.
        chain = federation.validate_trust_chain(list(statements), trust_anchors=self.trust_anchors,
                                                now=int(self.clock()))
        if chain.subject != entity_id:
            raise federation.InvalidTrustChain(
                f"the trust chain offered is about {chain.subject}, not {entity_id}")
        return chain

    def _verified_trust_marks(self, resolver: TrustChainResolver, chain: TrustChain) -> list[str]:
        """The types of the subject's trust marks that hold (section 7.3), revocation
        included: the hub's own marks by its own records, the others by their issuer's
        status endpoint when it publishes one (section 8.4). A mark that cannot be checked
        does not count; only a policy that requires it notices."""
        types = []
        for entry in chain.subject_configuration.trust_marks[:MAX_TRUST_MARKS]:
            token = entry["trust_mark"]
            try:
                own = federation.parse_trust_mark(token).iss == self.issuer
                mark = resolver.verify_trust_mark(token, chain=chain,
                                                  check_status=False if own else "published")
            except FederationError:
                continue
            if own and self.own_trust_mark_status(token) != "active":
                continue
            types.append(mark.trust_mark_type)
        return list(dict.fromkeys(types))

    def own_trust_mark_status(self, token: str) -> str:
        """Section 8.4 for a mark this hub issued: active, expired, revoked, or invalid (not
        one of its own)."""
        with self.db.session() as s:
            row = s.get(FederationTrustMark, sha256_hex(token))
            if row is None or row.token != token:
                return "invalid"
            if row.revoked_at is not None:
                return "revoked"
            if row.expires_at is not None and row.expires_at <= utcnow():
                return "expired"
            return "active"

    def trust_mark_revoked(self, subject: str, trust_mark_type: str) -> None:
        """The hub revoked its own ``trust_mark_type`` mark of ``subject``: the member stops
        counting it at once (policies read the registration), and its chain is resolved
        again at its next request, which keeps any other valid mark of the type."""
        with self.db.session() as s:
            reg = s.get(FederationRegistration, subject)
            if reg is not None:
                reg.trust_marks = [t for t in reg.trust_marks if t != trust_mark_type]
                reg.chain_expires_at = utcnow()
        self.clients.forget(subject)

    def _client_metadata(self, resolved: Mapping[str, Any]) -> dict[str, Any]:
        """The resolved RP metadata as the hub's client metadata: validated like every
        client's, authenticating with private_key_jwt against the metadata's ``jwks``."""
        jwks = resolved.get("jwks")
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
            # Section 12.1: the RP's keys for request objects and private_key_jwt come from
            # its resolved metadata; jwks_uri and signed_jwks_uri are not fetched here.
            raise RegistrationRefused("invalid_metadata",
                                      "The relying party's metadata must carry its keys in 'jwks'.")
        method = resolved.get("token_endpoint_auth_method", "private_key_jwt")
        if method != "private_key_jwt":
            raise RegistrationRefused("invalid_metadata",
                                      "Federation members authenticate with private_key_jwt.")
        md = {k: v for k, v in resolved.items() if k not in ("jwks", "token_endpoint_auth_method")}
        grants = md.get("grant_types") or ["authorization_code"]
        md["grant_types"] = [g for g in grants if g in FEDERATION_GRANTS] or ["authorization_code"]
        try:
            md = validate_metadata(md)
        except ClientMetadataError as e:
            raise RegistrationRefused("invalid_metadata", e.description) from None
        md["token_endpoint_auth_method"] = "private_key_jwt"
        md["jwks"] = jwks
        return md

    def _upsert(self, entity_id: str, kind: str, chain: TrustChain, metadata: dict[str, Any],
                trust_marks: list[str]) -> Client:
        with self.db.session() as s:
            rec = s.get(ClientRecord, entity_id)
            if rec is None:
                rec = ClientRecord(client_id=entity_id, secret_hash=None, status="active",
                                   client_metadata=metadata)
                s.add(rec)
            elif rec.status == "suspended":
                # An admin's suspension outranks any trust chain.
                raise RegistrationRefused("invalid_client", "This relying party is suspended.")
            else:
                rec.client_metadata, rec.status = metadata, "active"
            reg = s.get(FederationRegistration, entity_id)
            if reg is None:
                reg = FederationRegistration(client_id=entity_id, kind=kind)
                s.add(reg)
            elif reg.kind != kind and kind == "automatic":
                kind = reg.kind  # re-resolving an explicit registration keeps it explicit
            reg.kind = kind
            reg.trust_anchor = chain.trust_anchor_id
            reg.authority_hint = chain.immediate_superior
            reg.chain_expires_at = _as_datetime(chain.exp)
            reg.chain = list(chain.tokens)
            reg.trust_marks = trust_marks
            reg.resolved_at = utcnow()
            reg.failure = None
        self.clients.forget(entity_id)
        client = self.clients.get(entity_id)
        assert client is not None
        return client

    def _record_failure(self, entity_id: str, reason: str) -> None:
        with self.db.session() as s:
            reg = s.get(FederationRegistration, entity_id)
            if reg is not None:
                reg.failure = reason[:500]

    def register_explicitly(self, body: bytes, content_type: str) -> str:
        """Section 12.2: the RP's entity configuration (or a trust chain starting with it)
        in, the signed explicit registration response out. Raises :class:`RegistrationRefused`."""
        if not self.trust_anchors:
            raise RegistrationRefused("invalid_request", "This hub accepts no federation members.")
        try:
            request = federation.parse_explicit_registration_request(
                body, content_type=content_type, op_entity_id=self.issuer, now=int(self.clock()))
        except FederationError as e:
            raise RegistrationRefused(e.error, e.description, e.status_code) from None
        configuration = request.configuration
        types = configuration.metadata.get(RP_TYPE, {}).get("client_registration_types")
        if isinstance(types, list) and "explicit" not in types:
            raise RegistrationRefused("invalid_metadata",
                                      "The relying party does not use explicit registration.")
        admission = self.admit(configuration.sub, kind="explicit",
                               entity_configuration=configuration.token,
                               trust_chain=request.trust_chain)
        chain = admission.chain
        registered = {**admission.client.metadata, "client_id": admission.client.client_id}
        return federation.build_explicit_registration_response(
            op_entity_id=self.issuer, rp_configuration=configuration,
            trust_anchor_id=chain.trust_anchor_id,
            authority_hint=chain.immediate_superior or chain.trust_anchor_id,
            rp_metadata=registered, key=self.keys.signing_key(), now=int(self.clock()),
            exp=chain.exp)

    def registration(self, client_id: str) -> FederationRegistration | None:
        with self.db.session() as s:
            reg = s.get(FederationRegistration, client_id)
            if reg is not None:
                s.expunge(reg)
            return reg

    def current(self, client: Client) -> Client | None:
        """``client`` while its chain is valid; after expiry the chain is resolved again
        (section 10.4) and a client whose chain fails has no access. Clients that did not
        join through a chain pass unchanged."""
        reg = self.registration(client.client_id)
        if reg is None:
            return client
        now = self.clock()
        if reg.chain_expires_at.timestamp() > now and not (
                reg.trust_marks and reg.resolved_at.timestamp() + TRUST_MARK_STATUS_TTL <= now):
            # Current; trust marks are checked again (their status above all) more often
            # than the chain expires, so a revocation takes effect within the TTL.
            return client
        try:
            return self.admit(client.client_id, kind=reg.kind).client
        except RegistrationRefused as e:
            log.warning("federation client %s lost access: %s", client.client_id, e.description)
            return None


def _public(e: Exception) -> str:
    public = getattr(e, "public", None)
    return str(public) if public else "connection failed"


__all__ = ["Admission", "Federation", "FederationKeys", "InvalidMetadata", "RegistrationRefused"]
