"""Trust chain collection (section 10.1): from an entity's configuration up its
``authority_hints`` to a configured trust anchor, through the superiors' fetch endpoints.

The library never opens a socket: the caller hands in ``fetch`` (its guarded outbound
client with its deadline and size limits), a clock and optionally a cache. Collection is
bounded by a number of fetches and a chain length, and never fetches the same URL twice,
so hostile ``authority_hints`` (loops, fan-out, endless depth) cannot make it run away.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from federation import jose
from federation.chain import TrustChain, validate_trust_chain
from federation.endpoints import (
    fetch_request_url,
    parse_trust_mark_status_response,
    trust_mark_status_request_body,
)
from federation.errors import (
    FederationError,
    FetchFailed,
    InvalidTrustAnchor,
    InvalidTrustChain,
    InvalidTrustMark,
)
from federation.statements import EntityStatement, entity_configuration_url, parse_entity_statement
from federation.trust_marks import TrustMark, check_issuer_recognised, parse_trust_mark, verify_trust_mark

Fetch = Callable[[str], bytes | str]
"""GET a URL and return its body; raise ``FetchFailed`` (with a reason) on any failure."""

Post = Callable[[str, Mapping[str, str]], bytes | str]
"""POST a form to a URL and return the body of a 200 answer; raise ``FetchFailed`` otherwise."""

Clock = Callable[[], float]
# Whether verify_trust_mark asks the issuer's status endpoint: never, always (an issuer
# without one fails), or when the issuer publishes one.
StatusCheck = bool | Literal["published"]


class StatementCache(Protocol):
    """Where fetched statements are kept until they expire (values are the raw JWTs)."""

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, value: bytes, *, ttl: int) -> None: ...


class _BudgetExhausted(InvalidTrustChain):
    """The fetch budget ran out: the whole resolution stops, not just one path."""


@dataclass
class _Collection:
    """The bookkeeping of one resolution: fetch budget, what was fetched, why paths failed."""

    budget: int
    configurations: dict[str, EntityStatement | FederationError] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)


class TrustChainResolver:
    """Collects, validates and chooses trust chains to the configured trust anchors."""

    def __init__(
        self,
        *,
        trust_anchors: Mapping[str, Mapping[str, Any]],
        fetch: Fetch,
        clock: Clock = time.time,
        cache: StatementCache | None = None,
        max_fetches: int = 24,
        max_chain_length: int = 6,
        leeway: int = 60,
        algorithms: Collection[str] = jose.DEFAULT_ALGORITHMS,
        understood_claims: Collection[str] = (),
        allow_http_loopback: bool = False,
        max_statement_bytes: int = 64 * 1024,
        max_cache_seconds: int = 3600,
        post: Post | None = None,
    ) -> None:
        self.trust_anchors = dict(trust_anchors)
        self.fetch = fetch
        self.post = post
        self.clock = clock
        self.cache = cache
        self.max_fetches = max_fetches
        self.max_chain_length = max_chain_length
        self.leeway = leeway
        self.algorithms = tuple(algorithms)
        self.understood_claims = tuple(understood_claims)
        self.allow_http_loopback = allow_http_loopback
        self.max_statement_bytes = max_statement_bytes
        self.max_cache_seconds = max_cache_seconds

    def now(self) -> int:
        return int(self.clock())

    # ------------------------------------------------------------------ public operations

    def resolve(
        self,
        entity_id: str,
        *,
        trust_anchor: str | Iterable[str] | None = None,
        entity_configuration: str | bytes | None = None,
    ) -> TrustChain:
        """The valid trust chain for ``entity_id`` to one of the anchors (shortest wins, section 10.3).

        ``trust_anchor`` narrows the anchors to use (as the resolve endpoint's parameter does);
        ``entity_configuration`` is the subject's configuration when it was handed to us
        (explicit registration), saving its fetch.
        """
        anchors = self._anchors(trust_anchor)
        session = _Collection(budget=self.max_fetches)
        self._check_entity_id(entity_id)
        if entity_configuration is not None:
            subject = self._read_configuration(entity_configuration, entity_id)
        else:
            subject = self._configuration(entity_id, session)
        candidates = self._collect(subject, (subject.sub,), anchors, session)
        if subject.sub in anchors:  # the subject is itself a trust anchor: a chain of one
            candidates.insert(0, [])
        if not candidates:
            detail = "; ".join(dict.fromkeys(session.reasons)) or "it names no authority_hints"
            raise InvalidTrustAnchor(f"no path from {entity_id} to a trusted trust anchor ({detail})")
        failures: list[FederationError] = []
        for statements in sorted(candidates, key=len):
            try:
                return validate_trust_chain(
                    [subject, *statements],
                    trust_anchors=anchors,
                    now=self.now(),
                    leeway=self.leeway,
                    algorithms=self.algorithms,
                    understood_claims=self.understood_claims,
                    max_chain_length=self.max_chain_length,
                )
            except FederationError as exc:
                failures.append(exc)
        raise failures[0]  # the shortest chain's reason

    def entity_configuration(self, entity_id: str) -> EntityStatement:
        """An entity's configuration, fetched (or cached), self-signed and current."""
        self._check_entity_id(entity_id)
        return self._configuration(entity_id, _Collection(budget=self.max_fetches))

    def verify_trust_mark(
        self, token: str | bytes, *, chain: TrustChain, check_status: StatusCheck = False
    ) -> TrustMark:
        """Validate a trust mark of ``chain``'s subject (section 7.3).

        Trust in the issuer comes first: its keys are taken from its own trust chain to the
        same trust anchor (or from the anchor itself when the anchor issued the mark). With
        ``check_status`` the issuer's status endpoint is asked too (section 8.4), which is
        the only way to learn of a revocation; that needs the ``post`` callable. ``True``
        refuses a mark whose issuer publishes no status endpoint; ``"published"`` asks only
        issuers that publish one (the endpoint is optional, section 5.1.1).
        """
        anchor = chain.anchor_configuration or self.anchor_configuration(chain.trust_anchor_id)
        parsed = parse_trust_mark(token)
        # Checked before resolving the issuer's chain, so a configuration full of marks from
        # issuers the anchor does not accept costs no fetches.
        check_issuer_recognised(parsed, anchor)
        issuer_id = parsed.iss
        if issuer_id == chain.trust_anchor_id:
            issuer = anchor
        else:
            try:
                issuer = self.resolve(issuer_id, trust_anchor=chain.trust_anchor_id).subject_configuration
            except FederationError as exc:
                raise InvalidTrustMark(
                    f"the trust mark issuer {issuer_id} is not trusted: {exc.description}"
                ) from None
        mark = verify_trust_mark(
            token,
            entity_id=chain.subject,
            issuer_jwks=issuer.jwks,
            anchor_configuration=anchor,
            now=self.now(),
            leeway=self.leeway,
            algorithms=self.algorithms,
        )
        if check_status is True or (
            check_status == "published"
            and issuer.federation_endpoint("federation_trust_mark_status_endpoint") is not None
        ):
            self._check_status(mark, issuer)
        return mark

    def verified_trust_marks(
        self, chain: TrustChain, *, check_status: StatusCheck = False, limit: int = 16
    ) -> list[TrustMark]:
        """The subject's trust marks that validate; the others are left out (section 8.3).

        Only the first ``limit`` are looked at: each may cost a resolution of its issuer.
        """
        marks = []
        for entry in chain.subject_configuration.trust_marks[:limit]:
            try:
                marks.append(
                    self.verify_trust_mark(entry["trust_mark"], chain=chain, check_status=check_status)
                )
            except FederationError:
                continue
        return marks

    def anchor_configuration(self, anchor_id: str) -> EntityStatement:
        """A configured trust anchor's configuration, checked against its configured keys."""
        if anchor_id not in self.trust_anchors:
            raise InvalidTrustAnchor(f"{anchor_id} is not a trusted trust anchor")
        statement = self.entity_configuration(anchor_id)
        return statement.verify(
            self.trust_anchors[anchor_id],
            algorithms=self.algorithms,
            signer=f"the trust anchor {anchor_id}",
            error=InvalidTrustAnchor,
        )

    def _check_status(self, mark: TrustMark, issuer: EntityStatement) -> None:
        if self.post is None:
            raise ValueError("checking a trust mark's status needs the resolver's post callable")
        endpoint = issuer.federation_endpoint("federation_trust_mark_status_endpoint")
        if endpoint is None:
            raise InvalidTrustMark(f"the trust mark issuer {issuer.sub} publishes no status endpoint")
        try:
            self._check_url(endpoint, f"the status endpoint of {issuer.sub}")
            body = self.post(endpoint, trust_mark_status_request_body(mark.token))
        except FederationError as exc:
            raise InvalidTrustMark(
                f"the trust mark's status could not be checked: {exc.description}"
            ) from None
        data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        if len(data) > self.max_statement_bytes:
            raise InvalidTrustMark(f"the status response of {issuer.sub} is too large")
        status = parse_trust_mark_status_response(
            data,
            issuer=mark.iss,
            issuer_jwks=issuer.jwks,
            trust_mark=mark.token,
            now=self.now(),
            leeway=self.leeway,
            algorithms=self.algorithms,
        )
        if status != "active":
            known = status if status in ("expired", "revoked") else "invalid"
            raise InvalidTrustMark(
                f"the trust mark issuer {issuer.sub} reports the trust mark as {status}", status=known
            )

    # ------------------------------------------------------------------ collection

    def _anchors(self, trust_anchor: str | Iterable[str] | None) -> dict[str, Mapping[str, Any]]:
        if trust_anchor is None:
            return self.trust_anchors
        wanted = [trust_anchor] if isinstance(trust_anchor, str) else list(trust_anchor)
        anchors = {a: self.trust_anchors[a] for a in wanted if a in self.trust_anchors}
        if not anchors:
            raise InvalidTrustAnchor(
                f"{', '.join(wanted) or 'no trust anchor'} is not a trusted trust anchor"
            )
        return anchors

    def _collect(
        self, entity: EntityStatement, path: tuple[str, ...], anchors: Mapping[str, Any], session: _Collection
    ) -> list[list[EntityStatement]]:
        """Every list of statements from ``entity``'s superior's statement up to an anchor."""
        found: list[list[EntityStatement]] = []
        for hint in entity.authority_hints:
            if hint in path:  # section 10.1: a hint that leads to a loop is not used
                session.reasons.append(f"{hint} leads back into the chain (a loop)")
                continue
            if len(path) + 1 > self.max_chain_length:
                session.reasons.append(
                    f"the chain through {hint} is longer than {self.max_chain_length} entities"
                )
                continue
            try:
                self._check_entity_id(hint)
                superior = self._configuration(hint, session)
                if hint in anchors:
                    # The anchor's own configuration is checked against its configured keys.
                    superior.verify(
                        anchors[hint], algorithms=self.algorithms, signer=f"the trust anchor {hint}"
                    )
                statement = self._subordinate_statement(superior, entity.sub, session)
            except _BudgetExhausted:
                raise
            except (FetchFailed, InvalidTrustChain) as exc:
                session.reasons.append(exc.description)
                continue
            if hint in anchors:
                found.append([statement, superior])
            elif superior.authority_hints:
                found.extend(
                    [statement, *upper] for upper in self._collect(superior, (*path, hint), anchors, session)
                )
            else:
                session.reasons.append(f"{hint} is not a trusted trust anchor and names no superiors")
        return found

    def _configuration(self, entity_id: str, session: _Collection) -> EntityStatement:
        # Section 10.1: nothing is fetched twice in one resolution, not even after a failure.
        known = session.configurations.get(entity_id)
        if isinstance(known, EntityStatement):
            return known
        if known is not None:
            raise known
        try:
            statement = self._read_configuration(
                self._get(entity_configuration_url(entity_id), session), entity_id
            )
        except _BudgetExhausted:
            raise
        except FederationError as exc:
            session.configurations[entity_id] = exc
            raise
        session.configurations[entity_id] = statement
        return statement

    def _read_configuration(self, body: str | bytes, entity_id: str) -> EntityStatement:
        statement = parse_entity_statement(body, understood_claims=self.understood_claims)
        if statement.iss != entity_id or statement.sub != entity_id:
            raise InvalidTrustChain(
                f"the entity configuration published for {entity_id} is about "
                f"{statement.sub} by {statement.iss}"
            )
        statement.check_time(self.now(), leeway=self.leeway)
        return statement.verify(
            statement.jwks, algorithms=self.algorithms, signer=f"{entity_id} (self-signed)"
        )

    def _subordinate_statement(
        self, superior: EntityStatement, sub: str, session: _Collection
    ) -> EntityStatement:
        endpoint = superior.federation_endpoint("federation_fetch_endpoint")
        if endpoint is None:
            raise InvalidTrustChain(f"{superior.sub} publishes no federation_fetch_endpoint")
        self._check_url(endpoint, f"the fetch endpoint of {superior.sub}")
        body = self._get(fetch_request_url(endpoint, sub), session)
        statement = parse_entity_statement(body, understood_claims=self.understood_claims)
        if statement.iss != superior.sub or statement.sub != sub:
            raise InvalidTrustChain(
                f"the fetch endpoint of {superior.sub} answered with a statement by "
                f"{statement.iss} about {statement.sub}"
            )
        statement.check_time(self.now(), leeway=self.leeway)
        return statement

    def _get(self, url: str, session: _Collection) -> bytes:
        cached = self.cache.get(url) if self.cache is not None else None
        if cached is not None:
            return cached
        if session.budget <= 0:
            raise _BudgetExhausted(f"gave up after {self.max_fetches} fetches without a valid trust chain")
        session.budget -= 1
        body = self.fetch(url)
        data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        if len(data) > self.max_statement_bytes:
            raise FetchFailed(f"the statement at {url} is larger than {self.max_statement_bytes} bytes")
        if self.cache is not None:
            self._remember(url, data)
        return data

    def _remember(self, url: str, data: bytes) -> None:
        # Cached no longer than the statement is valid (section 10.4); a statement that does
        # not parse is not cached at all. Cached statements are validated again on use.
        try:
            statement = parse_entity_statement(data, understood_claims=self.understood_claims)
        except FederationError:
            return
        ttl = min(statement.exp - self.now(), self.max_cache_seconds)
        if ttl > 0 and self.cache is not None:
            self.cache.put(url, data, ttl=ttl)

    def _check_entity_id(self, entity_id: str) -> None:
        self._check_url(entity_id, entity_id)

    def _check_url(self, url: str, what: str) -> None:
        try:
            parts = urlsplit(url)
        except ValueError:
            raise InvalidTrustChain(f"{what} is not a URL") from None
        if parts.scheme == "https" and parts.hostname:
            return
        if parts.scheme == "http" and self.allow_http_loopback and _is_loopback(parts.hostname):
            return
        raise InvalidTrustChain(f"{what} must be an https URL")


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
