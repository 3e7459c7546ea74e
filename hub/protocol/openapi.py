"""The OpenAPI 3.1 document of the hub's JSON endpoints (hub/protocol/openapi.yaml), served as JSON."""

from __future__ import annotations

import functools
from importlib.resources import files
from typing import Any

import yaml
from werkzeug.wrappers import Request, Response

from hub.protocol.discovery import cached_json


@functools.lru_cache(maxsize=4)  # read and parsed once per process (and issuer)
def openapi_document(issuer: str) -> dict[str, Any]:
    """The packaged document with its one server named by this hub's issuer."""
    doc: dict[str, Any] = yaml.safe_load(files("hub.protocol").joinpath("openapi.yaml").read_text("utf-8"))
    doc["servers"] = [{"url": issuer, "description": "This hub (its issuer)."}]
    return doc


def openapi_response(hub: Any, request: Request) -> Response:
    return cached_json(request, "openapi", openapi_document(hub.settings.issuer), 3600)
