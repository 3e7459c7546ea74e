"""Hostile input on every route never gets a 500: each URL rule is called with odd methods,
path values, query strings, form bodies and JSON bodies."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.flows.conftest import make_settings

HOSTILE = ["", "x" * 5000, "' OR 1=1 --", "<script>alert(1)</script>", "\u0000\u202e%00", "../../etc/passwd",
           "{{7*7}}", "%", "%ZZ", "null", "[]", "😷" * 50, "-1", "99999999999999999999"]


@pytest.fixture(scope="module")
def client(backend: Any, database: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from hub import create_app

    app = create_app(make_settings(backend, tmp_path_factory.mktemp("fuzz"), issuer="http://127.0.0.1:9"),
                     store_prefix=f"fz{backend.redis_prefix}:")
    app.extensions["curbside"].keys.ensure()
    yield app.test_client()


def _paths(client: Any) -> list[tuple[str, set[str]]]:
    out = []
    for rule in client.application.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        path = re.sub(r"<(?:int:)?[^>]+>", lambda m: "1" if m.group(0).startswith("<int:") else "x'\"<y>", rule.rule)
        out.append((path, set(rule.methods or ()) - {"HEAD", "OPTIONS"}))
    from hub.web.signin import SignInLane  # the sign-in pages, answered before Flask routes

    out += [(path, set(methods) - {"HEAD"}) for path, methods in SignInLane.ROUTES.items()]
    return out


def test_no_route_answers_hostile_input_with_a_server_error(client: Any) -> None:
    failures = []
    for path, methods in _paths(client):
        for value in HOSTILE:
            for method in methods | {"GET", "POST"}:
                kw: dict[str, Any] = {"query_string": {"q": value, "client_id": value, "token": value}}
                if method in ("POST", "PUT"):
                    kw["data"] = {"grant_type": value, "token": value, "pending": value, "csrf": value,
                                  "email": value, "password": value, "reason": value}
                r = client.open(path, method=method, **kw)
                if r.status_code >= 500:
                    failures.append((method, path, value[:20], r.status_code))
            r = client.post(path, data=value.encode("utf-8", "surrogatepass"), content_type="application/json",
                            headers={"Authorization": f"Bearer {value[:100]}"})
            if r.status_code >= 500:
                failures.append(("POST json", path, value[:20], r.status_code))
    assert failures == []
