"""The OpenAPI document: a valid OpenAPI 3.1 document, describing every JSON route the hub
has, and served by the hub at a stable, cacheable URL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import requests
import yaml
from openapi_spec_validator import OpenAPIV31SpecValidator

import hub
from hub.app import API_PREFIXES
from hub.protocol.app import ROUTES, URL_MAP
from tests.flows.conftest import RunningHub

DOCUMENT = Path(hub.__file__).parent / "protocol" / "openapi.yaml"


def _document() -> dict[str, Any]:
    return yaml.safe_load(DOCUMENT.read_text("utf-8"))


def test_document_is_a_valid_openapi_3_1_document() -> None:
    doc = _document()
    errors = [e.message for e in OpenAPIV31SpecValidator(doc).iter_errors()]
    assert errors == []
    assert doc["openapi"].startswith("3.1.")


# Liveness and readiness answer orchestrators, not clients (docs/operator-guide.md).
PROBES = {"/healthz", "/readyz"}


def test_document_describes_every_json_route_and_no_other(running_hub: RunningHub) -> None:
    """Every JSON endpoint: the protocol app's (all but the browser endpoints) and the
    pages app's JSON paths."""
    rules = [r for r in URL_MAP.iter_rules() if not ROUTES[r.endpoint].browser and r.rule not in PROBES]
    rules += [r for r in running_hub.app.url_map.iter_rules() if r.rule.startswith(API_PREFIXES)]
    routes: set[tuple[str, str]] = set()
    for rule in rules:
        path = re.sub(r"<(?:[a-z]+:)?([^>]+)>", r"{\1}", rule.rule)
        routes |= {(m, path) for m in (rule.methods or set()) - {"HEAD", "OPTIONS"}}
    documented = {(m.upper(), path) for path, item in _document()["paths"].items()
                  for m in item if m in ("get", "post", "put", "delete", "patch")}
    assert routes == documented


def test_hub_serves_its_document_with_its_issuer_and_a_validator(running_hub: RunningHub) -> None:
    url = f"{running_hub.issuer}/openapi.json"
    resp = requests.get(url, timeout=5)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.headers["Cache-Control"] == "public, max-age=3600"
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    served = resp.json()
    assert served["servers"] == [{"url": running_hub.issuer, "description": "This hub (its issuer)."}]
    assert {k: v for k, v in served.items() if k != "servers"} == \
        {k: v for k, v in _document().items() if k != "servers"}
    again = requests.get(url, headers={"If-None-Match": resp.headers["ETag"]}, timeout=5)
    assert again.status_code == 304 and again.content == b""
