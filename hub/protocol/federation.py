"""The hub's OpenID Federation 1.0 endpoints and the protocol hooks of automatic
registration.

* ``GET /.well-known/openid-federation``: the hub's entity configuration (section 9);
* ``POST /federation/register``: explicit registration (section 12.2);
* ``/authorize`` with a request object from a relying party whose ``client_id`` is its
  entity identifier: automatic registration (section 12.1), :func:`authorization_params`;
* the token endpoint's ``private_key_jwt`` (section 12.1.3, RFC 7523 §2.2):
  :class:`PrivateKeyJWT`.

Each endpoint is a plain function ``(hub, request) -> Response`` on werkzeug objects, so
whichever front door routes to it needs no framework glue.
"""

from __future__ import annotations

import json
import time
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from werkzeug.wrappers import Request, Response

import federation
from federation import FederationError
from hub.domain.crypto import sha256_hex
from hub.domain.federation import Federation, RegistrationRefused
from hub.domain.federation_authority import FederationAuthority

JTI_KIND = "fed-jti"  # Store kind of used request-object and client-assertion ids
# Request objects (RFC 9101 §10.8) and client assertions are short-lived; one that claims
# to live longer than this is refused rather than remembered that long.
MAX_ASSERTION_LIFETIME = 3600
# Claims of a request object that are about the JWT itself or the relying party's trust
# chain (section 12.1.1.1), not authorization parameters.
_JWT_CLAIMS = {"iss", "aud", "exp", "iat", "nbf", "jti", "sub", "trust_chain"}
# A request object may carry the relying party's trust chain: a few statements of a few KiB.
MAX_REQUEST_OBJECT = 64 * 1024


def service(hub: Any) -> Federation:
    """The hub's federation service (built by the composition root, hub/composition.py)."""
    return hub.federation  # type: ignore[no-any-return]


# -- GET /.well-known/openid-federation -------------------------------------------------
def entity_configuration_response(hub: Any, request: Request) -> Response:
    fed = service(hub)
    assert fed is not None
    discovery = dict(hub.discovery_metadata)
    body = fed.entity_configuration(discovery, trust_mark_issuers={
        t: [fed.issuer] for t in FederationAuthority(fed).trust_mark_types()})
    return Response(body, mimetype=federation.ENTITY_STATEMENT_MEDIA_TYPE,
                    headers={"Cache-Control": "public, max-age=300",
                             "Access-Control-Allow-Origin": "*"})


# -- /authorize: automatic registration (section 12.1) ---------------------------------
def authorization_params(hub: Any, params: dict[str, str]) -> dict[str, str]:
    """The authorization request's parameters: unchanged, unless ``client_id`` is a
    federation entity identifier, in which case its chain is resolved (admitting the
    client) and the parameters are the verified request object's (section 12.1.1.1).

    Raises :class:`RegistrationRefused` with an OAuth error code and a reason.
    """
    fed = service(hub)
    client_id = params.get("client_id", "")
    if fed is None or not fed.is_federation_entity_id(client_id):
        return params
    client = hub.clients.get(client_id)
    if client is None or not client.active:
        client = fed.admit(client_id, trust_chain=offered_trust_chain(params.get("request"))).client
    if "request" not in params:
        registration = fed.registration(client_id)
        if registration is not None and registration.kind == "explicit":
            return params  # registered beforehand (section 12.2): a plain request will do
        # Section 12.1.1: without PAR (hub/protocol/par.py), the request MUST be passed as a
        # request object.
        raise RegistrationRefused("invalid_request",
                                  "A federation member must send its request as a signed "
                                  "request object ('request').")
    return verified_request_params(hub, client, params["request"])


def verified_request_params(hub: Any, client: Any, token: str) -> dict[str, str]:
    """The authorization parameters of ``client``'s request object, once it is verified."""
    claims = _verified_request_object(hub, client, token)
    merged = {k: _as_param(v) for k, v in claims.items() if k not in _JWT_CLAIMS}
    merged["client_id"] = client.client_id
    return merged


def offered_trust_chain(token: str | None) -> list[str] | None:
    """The ``trust_chain`` claim of a request object (section 12.1.1.1), read before the
    signature is checked: the chain proves itself against the configured trust anchors,
    and only then do its resolved keys verify the request object."""
    if not token or len(token) > MAX_REQUEST_OBJECT:
        return None
    try:
        claims = json.loads(jws.extract_compact(token.encode()).payload)
    except (JoseError, ValueError, TypeError):
        return None  # the signature check that follows says what is wrong
    chain = claims.get("trust_chain") if isinstance(claims, dict) else None
    if chain is None:
        return None
    if not isinstance(chain, list) or not chain or not all(isinstance(t, str) for t in chain):
        raise RegistrationRefused("invalid_trust_chain",
                                  "'trust_chain' must be a non-empty array of entity statements.")
    return chain


def _verified_request_object(hub: Any, client: Any, token: str) -> dict[str, Any]:
    """RFC 9101 §6 and OpenID Federation 1.0 section 12.1.1.1: signed with a key of the
    RP's resolved metadata, ``iss`` and ``client_id`` the RP, ``aud`` this OP, ``exp`` in
    the future, and a ``jti`` never seen before."""
    def refuse(reason: str) -> RegistrationRefused:
        return RegistrationRefused("invalid_request_object", reason)

    if len(token) > MAX_REQUEST_OBJECT:
        raise refuse("The request object is too large.")
    try:
        keys = KeySet.import_key_set(client.metadata.get("jwks") or {"keys": []})
        decoded = jwt.decode(token, keys, algorithms=list(federation.DEFAULT_ALGORITHMS))
    except (JoseError, ValueError, TypeError, KeyError):
        raise refuse("The request object is not signed with a key of the relying "
                     "party's federation metadata.") from None
    claims = dict(decoded.claims)
    now = time.time()
    aud = claims.get("aud")
    auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if claims.get("iss") != client.client_id or claims.get("client_id") != client.client_id:
        raise refuse("The request object's 'iss' and 'client_id' must be the relying party's "
                     "entity identifier.")
    if hub.settings.issuer not in auds:
        raise refuse("The request object's 'aud' must be this provider's entity identifier.")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp <= now - 60 or exp > now + MAX_ASSERTION_LIFETIME:
        raise refuse("The request object's 'exp' is missing, past, or too far ahead.")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise refuse("The request object must carry a 'jti'.")
    if not hub.store.add_once(JTI_KIND, sha256_hex(f"ro:{client.client_id}:{jti}"),
                              ttl=int(exp - now) + 120):
        raise refuse("The request object was used before.")
    return claims


def _as_param(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


# -- the token endpoint: private_key_jwt -----------------------------------------------
class PrivateKeyJWT(JWTBearerClientAssertion):  # type: ignore[misc]
    """RFC 7523 §2.2 client authentication for clients registered with private_key_jwt,
    verified with the keys of their resolved federation metadata; each assertion once."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, hub: Any) -> None:
        super().__init__(validate_jti=True)
        self.hub = hub

    def get_audiences(self) -> list[str]:
        # Section 12.1.3: the audience is the OP's entity identifier or the endpoint; the
        # pushed authorization (RFC 9126 §2), revocation and introspection endpoints
        # authenticate the client the same way.
        issuer = self.hub.settings.issuer
        return [issuer, *(f"{issuer}/{path}" for path in ("token", "par", "revoke", "introspect"))]

    def resolve_client_public_key(self, client: Any) -> KeySet:
        return KeySet.import_key_set(client.metadata.get("jwks") or {"keys": []})

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        try:
            token = jwt.decode(assertion, resolve_key,
                               algorithms=list(federation.DEFAULT_ALGORITHMS))
        except (JoseError, ValueError, TypeError):
            raise InvalidClientError(description="Client authentication failed.") from None
        self.verify_claims(token.claims)
        exp = token.claims.get("exp")
        if not isinstance(exp, int | float) or exp > time.time() + MAX_ASSERTION_LIFETIME:
            raise InvalidClientError(description="The client assertion lives too long.")
        return token.claims

    def validate_jti(self, claims: Any, jti: Any) -> bool:
        if not isinstance(jti, str) or not jti or len(jti) > 256:
            return False
        ttl = max(60, int(claims["exp"] - time.time()) + 120)
        return bool(self.hub.store.add_once(JTI_KIND, sha256_hex(f"ca:{claims['iss']}:{jti}"),
                                            ttl=ttl))


def refusal_response(e: RegistrationRefused) -> Response:
    """The error body of section 8.9 (the OAuth error object), with the error's status."""
    body = json.dumps({"error": e.error, "error_description": e.description})
    return Response(body, status=e.status_code, mimetype="application/json",
                    headers={"Cache-Control": "no-store"})


# -- POST /federation/register: explicit registration (section 12.2) -------------------
MAX_REGISTRATION_BYTES = 64 * 1024


def explicit_registration_response(hub: Any, request: Request) -> Response:
    fed = service(hub)
    assert fed is not None
    if (request.content_length or 0) > MAX_REGISTRATION_BYTES:
        return refusal_response(RegistrationRefused("invalid_request", "The request is too large.", 413))
    body = request.get_data(cache=False)
    if len(body) > MAX_REGISTRATION_BYTES:
        return refusal_response(RegistrationRefused("invalid_request", "The request is too large.", 413))
    try:
        statement = fed.register_explicitly(body, request.headers.get("Content-Type", ""))
    except RegistrationRefused as e:
        return refusal_response(e)
    return Response(statement, mimetype=federation.EXPLICIT_REGISTRATION_RESPONSE_MEDIA_TYPE,
                    headers={"Cache-Control": "no-store"})


# -- the hub as trust anchor: fetch, list, resolve, trust mark status (section 8) ---------
def _authority(hub: Any) -> FederationAuthority:
    fed = service(hub)
    assert fed is not None
    return FederationAuthority(fed)


def _params(request: Request) -> dict[str, list[str]]:
    return request.values.to_dict(flat=False)


def _federation_error(e: FederationError) -> Response:
    status, body = federation.error_response(e)
    return Response(json.dumps(body), status=status, mimetype="application/json",
                    headers={"Cache-Control": "no-store"})


def _statement(body: str, media_type: str) -> Response:
    return Response(body, mimetype=media_type, headers={"Cache-Control": "no-store"})


def fetch_response(hub: Any, request: Request) -> Response:
    """Section 8.1: the subordinate statement about ``sub``."""
    try:
        sub = federation.parse_fetch_request(_params(request), issuer=hub.settings.issuer)
        return _statement(_authority(hub).subordinate_statement(sub),
                          federation.ENTITY_STATEMENT_MEDIA_TYPE)
    except FederationError as e:
        return _federation_error(e)


def list_response(hub: Any, request: Request) -> Response:
    """Section 8.2: the subordinates' entity ids (entity_type is the filter supported)."""
    try:
        wanted = federation.parse_list_request(_params(request), supported=("entity_type",))
    except FederationError as e:
        return _federation_error(e)
    ids = [s.entity_id for s in _authority(hub).subordinates()
           if not wanted.entity_types or set(wanted.entity_types) & set(s.entity_types)]
    return Response(federation.list_response_body(ids), mimetype="application/json",
                    headers={"Cache-Control": "no-store"})


def resolve_response(hub: Any, request: Request) -> Response:
    """Section 8.3: the resolved metadata and chain of ``sub`` to a requested anchor this
    hub trusts, signed by the hub."""
    fed = service(hub)
    assert fed is not None
    try:
        wanted = federation.parse_resolve_request(_params(request))
        resolver = fed.resolver()
        chain = resolver.resolve(wanted.sub, trust_anchor=wanted.trust_anchors)
        marks = resolver.verified_trust_marks(chain)
        body = federation.build_resolve_response(
            issuer=fed.issuer, chain=chain, key=fed.keys.signing_key(), now=int(time.time()),
            trust_marks=marks, entity_types=wanted.entity_types)
    except FederationError as e:
        return _federation_error(e)
    return _statement(body, federation.RESOLVE_RESPONSE_MEDIA_TYPE)


def trust_mark_status_response(hub: Any, request: Request) -> Response:
    """Section 8.4: whether a trust mark this hub issued is active, expired or revoked."""
    fed = service(hub)
    assert fed is not None
    try:
        token = federation.parse_trust_mark_status_request(request.form.to_dict(flat=False))
    except FederationError as e:
        return _federation_error(e)
    status = _authority(hub).trust_mark_status(token)
    if status == "invalid":
        return _federation_error(federation.NotFound("this trust mark was not issued here"))
    body = federation.build_trust_mark_status_response(
        issuer=fed.issuer, trust_mark=token, status=status, key=fed.keys.signing_key(),
        now=int(time.time()))
    return _statement(body, federation.TRUST_MARK_STATUS_RESPONSE_MEDIA_TYPE)


