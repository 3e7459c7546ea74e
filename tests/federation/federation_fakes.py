"""A small federation built in memory: entities with their own keys, published entity
configurations and fetch endpoints, served through the ``fetch`` callable the library takes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from joserfc.jwk import ECKey

from federation import (
    FetchFailed,
    TrustChainResolver,
    build_entity_configuration,
    build_subordinate_statement,
    build_trust_mark_status_response,
    entity_configuration_url,
    fetch_request_url,
    public_jwks,
)

NOW = 1_790_000_000
TA = "https://anchor.example.org"
INT = "https://intermediate.example.org"
LEAF = "https://rp.example.org"


def new_key() -> ECKey:
    return ECKey.generate_key("P-256", auto_kid=True)


@dataclass
class Entity:
    id: str
    key: ECKey
    metadata: dict[str, dict[str, Any]]
    authority_hints: list[str] = field(default_factory=list)
    trust_marks: list[dict[str, str]] = field(default_factory=list)
    trust_mark_issuers: dict[str, list[str]] | None = None
    trust_mark_owners: dict[str, dict[str, Any]] | None = None
    lifetime: int = 86400
    extra_claims: dict[str, Any] = field(default_factory=dict)

    @property
    def jwks(self) -> dict[str, Any]:
        return public_jwks(self.key)

    @property
    def fetch_endpoint(self) -> str:
        return self.id + "/fetch"

    def configuration(self, now: int) -> str:
        return build_entity_configuration(
            self.id, key=self.key, now=now, lifetime=self.lifetime, metadata=self.metadata,
            authority_hints=self.authority_hints, trust_marks=self.trust_marks,
            trust_mark_issuers=self.trust_mark_issuers, trust_mark_owners=self.trust_mark_owners,
            extra_claims=self.extra_claims or None)


class FakeFederation:
    """Entities by id; ``fetch`` answers their well-known and fetch endpoint URLs."""

    def __init__(self) -> None:
        self.now = NOW
        self.entities: dict[str, Entity] = {}
        self.statements: dict[tuple[str, str], dict[str, Any]] = {}
        self.overrides: dict[str, bytes] = {}
        self.fetched: list[str] = []
        self.statuses: dict[str, str] = {}  # trust mark JWT -> status the issuer reports

    def post(self, url: str, form: Mapping[str, str]) -> bytes:
        """The trust mark status endpoints (``<issuer>/status``) of the entities."""
        self.fetched.append(url)
        for entity in self.entities.values():
            if url == entity.id + "/status" and form.get("trust_mark") in self.statuses:
                return build_trust_mark_status_response(
                    issuer=entity.id, trust_mark=form["trust_mark"], status=self.statuses[form["trust_mark"]],
                    key=entity.key, now=self.now).encode()
        raise FetchFailed(f"{url} answered 404")

    def authority(self, entity_id: str, *, authority_hints: list[str] | None = None, **kwargs: Any) -> Entity:
        """A trust anchor (no hints) or an intermediate, publishing a fetch endpoint."""
        entity = Entity(entity_id, new_key(), {"federation_entity": {
            "federation_fetch_endpoint": entity_id + "/fetch",
            "federation_list_endpoint": entity_id + "/list",
            "organization_name": entity_id.split("//")[1],
        }}, authority_hints=list(authority_hints or []), **kwargs)
        self.entities[entity_id] = entity
        return entity

    def leaf(self, entity_id: str, *, authority_hints: list[str], metadata: dict[str, Any] | None = None,
             **kwargs: Any) -> Entity:
        if metadata is None:
            metadata = {"openid_relying_party": {
                "redirect_uris": [entity_id + "/callback"], "response_types": ["code"],
                "token_endpoint_auth_method": "private_key_jwt", "client_registration_types": ["automatic"],
            }}
        entity = Entity(entity_id, new_key(), metadata, authority_hints=list(authority_hints), **kwargs)
        self.entities[entity_id] = entity
        return entity

    def enrol(self, superior: str, subject: str, **kwargs: Any) -> None:
        """``superior`` publishes a subordinate statement about ``subject`` (kwargs: policy etc.)."""
        self.statements[(superior, subject)] = kwargs

    def chain(self, *entity_ids: str) -> list[str]:
        """The trust chain for a path of entities: subject's configuration, statements, anchor's configuration."""
        tokens = [self.entities[entity_ids[0]].configuration(self.now)]
        for below, above in zip(entity_ids, entity_ids[1:], strict=False):
            tokens.append(self.statement(above, below))
        tokens.append(self.entities[entity_ids[-1]].configuration(self.now))
        return tokens

    def statement(self, superior: str, subject: str) -> str:
        options = dict(self.statements[(superior, subject)])
        signer = self.entities[superior]
        subject_jwks = options.pop("subject_jwks", None) or self.entities[subject].jwks
        return build_subordinate_statement(superior, subject, key=options.pop("key", signer.key),
                                           subject_jwks=subject_jwks, now=options.pop("now", self.now),
                                           **options)

    def fetch(self, url: str) -> bytes:
        self.fetched.append(url)
        if url in self.overrides:
            return self.overrides[url]
        for entity in self.entities.values():
            if url == entity_configuration_url(entity.id):
                return entity.configuration(self.now).encode()
            for (superior, subject) in self.statements:
                if superior == entity.id and url == fetch_request_url(entity.fetch_endpoint, subject):
                    return self.statement(superior, subject).encode()
        raise FetchFailed(f"{url} answered 404")

    def resolver(self, *anchors: str, **kwargs: Any) -> TrustChainResolver:
        trusted = {a: self.entities[a].jwks for a in anchors or (TA,)}
        return TrustChainResolver(trust_anchors=trusted, fetch=self.fetch, post=self.post, clock=lambda: self.now,
                                  **kwargs)

    def anchors(self, *anchors: str) -> Mapping[str, Any]:
        return {a: self.entities[a].jwks for a in anchors or (TA,)}


def three_level(fed: FakeFederation, **leaf_kwargs: Any) -> FakeFederation:
    """anchor -> intermediate -> leaf RP, with no policy."""
    fed.authority(TA)
    fed.authority(INT, authority_hints=[TA])
    fed.leaf(LEAF, authority_hints=[INT], **leaf_kwargs)
    fed.enrol(TA, INT)
    fed.enrol(INT, LEAF)
    return fed
