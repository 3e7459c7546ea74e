"""Schemathesis against a live hub: every operation of hub/protocol/openapi.yaml, with generated valid
and invalid requests, answers without a server error and as the document says.

The requests carry real credentials (a confidential and a public client, a doctor's access
token and session, an initial and a registration access token), so generation reaches past
the authentication checks into the grants, introspection, registration and the feed.
"""

from __future__ import annotations

import base64
import zlib
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import hub
from tests.protocol.conftest import Credentials

DOCUMENT = Path(hub.__file__).parent / "protocol" / "openapi.yaml"
# Extra query parameters are not generated as invalid input: RFC 6749 §3.1 has the OAuth
# endpoints ignore unrecognised parameters, and the feed does the same.
CONFIG = SchemathesisConfig.from_dict({"generation": {"allow-extra-parameters": False,
                                                      "deterministic": True, "database": "none",
                                                      "no-shrink": True}})
SCHEMA = schemathesis.openapi.from_path(DOCUMENT, config=CONFIG)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection]


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def _pick(case: Any, n: int) -> int:
    """A choice that varies with the generated request and is the same when it is replayed."""
    return zlib.crc32(repr((case.body, case.query, case.path_parameters)).encode()) % n


def _negative(case: Any, location: str) -> bool:
    """Whether schemathesis made this part of the request invalid on purpose: it is then
    sent as generated, so the hub's refusal of it is what gets checked."""
    info = case.meta.components.get(ParameterLocation(location)) if case.meta else None
    return info is not None and info.mode == GenerationMode.NEGATIVE


def _client_auth(case: Any, creds: Credentials, *, public_allowed: bool) -> None:
    """Basic, client_secret_post, a public client's client_id, or what was generated."""
    body = case.body if isinstance(case.body, dict) else None
    way = _pick(case, 4)
    if way == 3 or body is None or _negative(case, "header"):
        return  # the generated request as it is: no or made-up credentials
    if _negative(case, "body"):
        if not {"client_id", "client_secret"} & set(body):
            case.headers["Authorization"] = _basic(creds.client["client_id"], creds.client["client_secret"])
        return
    for name in ("client_id", "client_secret"):
        body.pop(name, None)
    case.headers.pop("Authorization", None)
    if way == 0:
        case.headers["Authorization"] = _basic(creds.client["client_id"], creds.client["client_secret"])
    elif way == 1:
        body.update(client_id=creds.client["client_id"], client_secret=creds.client["client_secret"])
    elif public_allowed:
        body["client_id"] = creds.public_client["client_id"]


def _metadata(case: Any) -> None:
    # The hub fetches a sector_identifier_uri (OIDC Registration §5); generated ones would
    # send it to arbitrary hosts (tests/relying covers that fetch with a local one). A valid
    # one is dropped; an invalid one is replaced by another invalid one the hub refuses
    # without fetching, so the request stays as invalid as schemathesis made it.
    if isinstance(case.body, dict) and "sector_identifier_uri" in case.body:
        if _negative(case, "body"):
            case.body["sector_identifier_uri"] = "ftp://sector.invalid/"
        else:
            del case.body["sector_identifier_uri"]


def _bearer(case: Any, token: str) -> None:
    if not _negative(case, "header"):
        case.headers["Authorization"] = f"Bearer {token}"


def authorise(case: Any, creds: Credentials) -> None:
    case.headers = case.headers or {}
    method = case.method.upper()
    if (method, case.path) in (("POST", "/token"), ("POST", "/revoke")):
        _client_auth(case, creds, public_allowed=True)
    elif (method, case.path) == ("POST", "/introspect"):
        _client_auth(case, creds, public_allowed=False)
        if isinstance(case.body, dict) and not _negative(case, "body") and _pick(case, 3) == 0:
            case.body["token"] = creds.access_token  # a real token: active, with its sub
    elif case.path == "/userinfo":
        if not (isinstance(case.body, dict) and "access_token" in case.body):
            _bearer(case, creds.access_token)
    elif (method, case.path) == ("POST", "/register"):
        _bearer(case, creds.initial_access_token)
        _metadata(case)
    elif case.path.startswith("/register/"):
        target = creds.register() if method == "DELETE" else creds.registered
        if not _negative(case, "path"):
            case.path_parameters = {"client_id": target["client_id"]}
        _bearer(case, target["registration_access_token"])
        if method == "PUT" and isinstance(case.body, dict) and not _negative(case, "body"):
            case.body["client_id"] = target["client_id"]
        _metadata(case)
    elif case.path == "/api/feed" and not _negative(case, "cookie"):
        case.cookies = {**(case.cookies or {}), creds.session_cookie[0]: creds.session_cookie[1]}


@SCHEMA.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_every_json_endpoint_answers_as_documented(case: Any, credentials: Credentials) -> None:
    authorise(case, credentials)
    case.call_and_validate(base_url=credentials.hub.issuer, checks=CHECKS, timeout=10)

