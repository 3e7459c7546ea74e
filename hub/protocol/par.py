"""Pushed Authorization Requests (RFC 9126): ``POST /par``.

A client authenticates as at the token endpoint and pushes its authorization request; the
hub checks it, keeps it in the Store for a minute and answers a one-time ``request_uri``
(``urn:ietf:params:oauth:request_uri:...``) that the browser then carries to
``/authorize`` with the ``client_id``. A federation member may push instead of sending a
request object through the browser (OpenID Federation 1.0 section 12.1.1.2): the push
admits it by its trust chain like an automatic registration at ``/authorize``, and it
authenticates with private_key_jwt. Authlib has no PAR endpoint; this one reuses its
client authentication.
"""

from __future__ import annotations

import json
from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from werkzeug.wrappers import Request, Response

from hub.domain.crypto import new_token
from hub.domain.federation import RegistrationRefused
from hub.protocol.federation import offered_trust_chain, refusal_response, verified_request_params
from hub.protocol.grants import SIGN_IN_AUTH_METHODS

PAR_KIND = "par"
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
# RFC 9126 §2.2: short-lived; the browser follows the answer at once.
PAR_TTL = 60
# What authenticates the client at the push, not part of the authorization request.
_CLIENT_AUTH_PARAMS = {"client_secret", "client_assertion", "client_assertion_type"}


def discovery_metadata(issuer: str) -> dict[str, Any]:
    """RFC 9126 §5."""
    return {"pushed_authorization_request_endpoint": f"{issuer}/par",
            "require_pushed_authorization_requests": False}


def pushed_authorization_response(hub: Any, provider: Any, request: Request) -> Response:
    oauth = provider.create_oauth2_request(request)
    try:
        params = _single_values(request)
        if "request_uri" in params:
            raise InvalidRequestError("'request_uri' cannot be pushed.")  # RFC 9126 §2.1
        _admit_federation_member(hub, params)
        # RFC 9126 §2.1: the client authenticates as it would at the token endpoint.
        client = provider.authenticate_client(oauth, SIGN_IN_AUTH_METHODS, endpoint="par")
        if params.get("client_id", client.client_id) != client.client_id:
            raise InvalidRequestError("'client_id' is not the client that authenticated.")
        pushed = _authorization_params(hub, client, params)
    except RegistrationRefused as e:
        return refusal_response(e)
    except OAuth2Error as e:
        return provider.handle_error_response(oauth, e)  # type: ignore[no-any-return]
    body = json.dumps({"request_uri": kept_request_uri(hub, pushed), "expires_in": PAR_TTL})
    return Response(body, status=201, mimetype="application/json",
                    headers={"Cache-Control": "no-store"})


def kept_request_uri(hub: Any, params: dict[str, str]) -> str:
    """A one-time ``request_uri`` for ``params``, an authorization request the hub has
    checked (pushed here, or verified at ``/authorize`` and restarted by the hub itself):
    ``/authorize`` takes it back with its ``client_id`` (``pushed_params``)."""
    key = new_token(32)
    hub.store.put(PAR_KIND, key, json.dumps(params).encode(), ttl=PAR_TTL)
    return REQUEST_URI_PREFIX + key


def _single_values(request: Request) -> dict[str, str]:
    params = {k: v for k, v in request.form.items()}
    if any(len(request.form.getlist(k)) > 1 for k in params):
        raise InvalidRequestError("Parameters must not be repeated.")  # RFC 9126 §2.1
    return params


def _admit_federation_member(hub: Any, params: dict[str, str]) -> None:
    """A federation member unknown so far joins by its trust chain before it
    authenticates (its keys come from the chain), as at ``/authorize``."""
    fed = hub.federation
    client_id = params.get("client_id") or params.get("iss") or ""
    if not fed.is_federation_entity_id(client_id):
        return
    known = hub.clients.get(client_id)
    if known is None or not known.active:
        fed.admit(client_id, trust_chain=offered_trust_chain(params.get("request")))


def _authorization_params(hub: Any, client: Any, params: dict[str, str]) -> dict[str, str]:
    if "request" in params:
        if not hub.federation.is_federation_entity_id(client.client_id):
            err = OAuth2Error(description="'request' is not supported")
            err.error = "request_not_supported"
            raise err
        pushed = verified_request_params(hub, client, params["request"])
    else:
        pushed = {k: v for k, v in params.items() if k not in _CLIENT_AUTH_PARAMS}
    pushed["client_id"] = client.client_id
    # RFC 9126 §2.1: validated as an authorization request would be, the redirect URI at
    # least; the rest is checked when the browser brings the request_uri.
    redirect_uri = pushed.get("redirect_uri", "")
    if not redirect_uri or not client.check_redirect_uri(redirect_uri):
        raise InvalidRequestError("'redirect_uri' is not registered for this client.")
    return pushed


def pushed_params(hub: Any, params: dict[str, str]) -> dict[str, str] | None:
    """``/authorize`` with a ``request_uri`` this endpoint issued: the pushed request, used
    once (RFC 9126 §4); None for any other request. Raises :class:`RegistrationRefused`
    (``invalid_request_uri``, shown as a page: the redirect URI is not trusted yet)."""
    uri = params.get("request_uri", "")
    if not uri.startswith(REQUEST_URI_PREFIX):
        return None
    stored = hub.store.consume(PAR_KIND, uri.removeprefix(REQUEST_URI_PREFIX)[:64])
    if stored is None:
        raise RegistrationRefused("invalid_request_uri",
                                  "The request_uri is unknown, expired or was used before.")
    pushed: dict[str, str] = json.loads(stored)
    if params.get("client_id") != pushed["client_id"]:
        raise RegistrationRefused("invalid_request_uri",
                                  "The request_uri was pushed by another client.")
    return pushed
