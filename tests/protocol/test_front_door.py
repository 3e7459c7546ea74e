"""Every protocol route answers through the one guard of the protocol app (hub/protocol/app.py).

Table-driven over its route table, so a route added to it is covered without a new test:
NUL refusal, an oversized body refused with 413, OPTIONS and 405 with ``Allow``, the
security headers on every answer, CORS only where browser-based clients call, and the error
format of the route's kind (OAuth error JSON, or the error page for browser endpoints).
"""

from __future__ import annotations

import re

import pytest
import requests

from hub.protocol.app import ROUTES, URL_MAP
from hub.protocol.guards import MAX_BODY
from tests.flows.conftest import RunningHub

RULES = sorted(URL_MAP.iter_rules(), key=lambda r: r.rule)
PARAM = re.compile(r"<(?:[a-z]+:)?[^>]+>")


def _url(h: RunningHub, rule: str) -> str:
    return h.issuer + PARAM.sub("someone", rule)


def _methods(rule: object) -> list[str]:
    return sorted(set(rule.methods or ()) - {"HEAD", "OPTIONS"})  # type: ignore[attr-defined]


def _assert_guarded(rule: str, resp: requests.Response) -> None:
    """The headers every protocol answer carries, and the error format of its kind."""
    endpoint = ROUTES[rule]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    if endpoint.cors:
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in resp.headers
    else:
        assert "Access-Control-Allow-Origin" not in resp.headers
    if resp.status_code < 400:
        return
    if endpoint.browser:
        assert resp.headers["Content-Type"].startswith("text/html")
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
        assert "Traceback" not in resp.text
    else:
        body = resp.json()
        assert body["error"] == ("server_error" if resp.status_code >= 500 else "invalid_request")
        assert resp.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.rule)
def test_nul_is_refused_on_every_route_and_method(running_hub: RunningHub, rule: object) -> None:
    for method in _methods(rule):
        resp = requests.request(method, _url(running_hub, rule.rule) + "?x=%00", timeout=10,  # type: ignore[attr-defined]
                                allow_redirects=False)
        assert resp.status_code == 400, (method, resp.text[:200])
        _assert_guarded(rule.rule, resp)  # type: ignore[attr-defined]
        if not ROUTES[rule.rule].browser:  # type: ignore[attr-defined]
            assert "NUL" in resp.json()["error_description"]


@pytest.mark.parametrize("rule", [r for r in RULES if {"POST", "PUT"} & set(r.methods or ())],
                         ids=lambda r: r.rule)
def test_an_oversized_body_is_refused_with_413(running_hub: RunningHub, rule: object) -> None:
    for method in {"POST", "PUT"} & set(_methods(rule)):
        resp = requests.request(method, _url(running_hub, rule.rule), timeout=10,  # type: ignore[attr-defined]
                                data={"x": "a" * (MAX_BODY + 1)}, allow_redirects=False)
        assert resp.status_code == 413, (method, resp.text[:200])
        _assert_guarded(rule.rule, resp)  # type: ignore[attr-defined]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.rule)
def test_options_names_the_methods_and_others_are_405(running_hub: RunningHub, rule: object) -> None:
    url, methods = _url(running_hub, rule.rule), _methods(rule)  # type: ignore[attr-defined]
    pre = requests.options(url, timeout=10, headers={"Origin": "https://spa.example",
                                                     "Access-Control-Request-Method": methods[0]})
    assert pre.status_code == 200
    assert set(methods) | {"OPTIONS"} <= {m.strip() for m in pre.headers["Allow"].split(",")}
    _assert_guarded(rule.rule, pre)  # type: ignore[attr-defined]
    if ROUTES[rule.rule].cors:  # type: ignore[attr-defined]
        assert set(methods) <= {m.strip() for m in pre.headers["Access-Control-Allow-Methods"].split(",")}
        assert "Authorization" in pre.headers["Access-Control-Allow-Headers"]

    resp = requests.request("PATCH", url, timeout=10)
    assert resp.status_code == 405
    assert set(methods) <= {m.strip() for m in resp.headers["Allow"].split(",")}
    _assert_guarded(rule.rule, resp)  # type: ignore[attr-defined]


def test_paths_outside_the_table_go_on_to_the_pages(running_hub: RunningHub) -> None:
    """The pages app answers the rest: a protocol-like path that is not a route is its 404
    page, and a trailing slash is not a second name for an endpoint."""
    for path in ("/token/", "/jwks/x", "/nowhere"):
        resp = requests.post(running_hub.issuer + path, timeout=10)
        assert resp.status_code == 404, path
        assert "Traceback" not in resp.text
