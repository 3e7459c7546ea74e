"""HttpClient at the HTTP boundary: budget, retries, size cap, status mapping, SSRF guard."""

from __future__ import annotations

import json
import time

import pytest
from connector_fakes import Fake

from connectors.errors import (
    BlockedAddress,
    ConfigError,
    InvalidUpstreamData,
    UpstreamRejected,
    UpstreamUnavailable,
)
from connectors.http import HttpClient, HttpOptions, Response, _retry_after

LOOPBACK = {"insecure_transport": True, "allow_private_networks": True}


def client(**opts: object) -> HttpClient:
    return HttpClient("testnet", HttpOptions(**{**LOOPBACK, **opts}))  # type: ignore[arg-type]


def test_user_agent_and_accept_sent(fake: Fake) -> None:
    client(user_agent="Curbside-Test/1").get(fake.base + "/jwks")
    _, _, headers = fake.request_log[-1]
    assert headers["User-Agent"] == "Curbside-Test/1"
    assert headers["Accept"] == "application/json"


def test_get_retries_503_then_succeeds(fake: Fake) -> None:
    fake.fail_statuses = [503, 502]
    resp = client(retries=2, backoff_factor=0.0).get(fake.base + "/feed.atom")
    assert resp.status == 200
    assert len([r for r in fake.request_log if r[1].startswith("/feed.atom")]) == 3


def test_get_gives_up_after_retries(fake: Fake) -> None:
    fake.fail_statuses = [503, 503, 503]
    with pytest.raises(UpstreamUnavailable) as caught:
        client(retries=1, backoff_factor=0.0).get(fake.base + "/feed.atom")
    assert caught.value.reason == "http_503"
    assert len([r for r in fake.request_log if r[1].startswith("/feed.atom")]) == 2


def test_post_is_never_retried(fake: Fake) -> None:
    with pytest.raises(UpstreamUnavailable):
        client(retries=3).post_form(fake.base + "/status/503", {"a": "b"})
    assert len([r for r in fake.request_log if r[1].startswith("/status/503")]) == 1


def test_429_carries_retry_after(fake: Fake) -> None:
    with pytest.raises(UpstreamUnavailable) as caught:
        client().get(fake.base + "/status/429")
    assert caught.value.retry_after == 7.0


@pytest.mark.parametrize(("status", "reason"), [(401, "invalid_token"), (403, "http_403"),
                                                 (404, "http_404"), (410, "http_410")])
def test_4xx_is_rejected(fake: Fake, status: int, reason: str) -> None:
    with pytest.raises(UpstreamRejected) as caught:
        client().get(f"{fake.base}/status/{status}")
    assert caught.value.reason == reason


def test_post_returns_oauth_error_bodies(fake: Fake) -> None:
    resp = client().post_form(fake.base + "/token", {"grant_type": "nope"})
    assert resp.status == 401 and resp.json() == {"error": "invalid_client"}


def test_hang_times_out_within_budget_including_retries(fake: Fake) -> None:
    http = client(timeout=1.2, retries=2, backoff_factor=0.1)
    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable) as caught:
        http.get(fake.base + "/hang")
    elapsed = time.monotonic() - started
    assert caught.value.reason == "timeout"
    assert elapsed < 1.2 + 0.4
    assert len([r for r in fake.request_log if r[1].startswith("/hang")]) == 3


def test_slow_drip_body_cut_at_deadline(fake: Fake) -> None:
    # Each byte arrives well within the read timeout, but the whole body never does.
    http = client(timeout=1.0, retries=0)
    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable) as caught:
        http.get(fake.base + "/drip")
    assert caught.value.reason == "timeout"
    assert time.monotonic() - started < 1.0 + 0.5


def test_declared_length_over_cap_refused_before_reading(fake: Fake) -> None:
    with pytest.raises(InvalidUpstreamData) as caught:
        client(max_bytes=1024 * 1024).get(fake.base + "/big?size=2000000")
    assert caught.value.reason == "too_large"
    assert "Content-Length" in caught.value.detail


def test_body_at_cap_is_fine(fake: Fake) -> None:
    resp = client(max_bytes=4096).get(fake.base + "/big?size=4096")
    assert len(resp.body) == 4096


def test_streamed_body_over_cap_refused(fake: Fake) -> None:
    fake.scenario = "huge"  # chunked, no Content-Length
    with pytest.raises(InvalidUpstreamData) as caught:
        client().get(fake.base + "/feed.atom")
    assert caught.value.reason == "too_large"


def test_conditional_get_returns_304(fake: Fake) -> None:
    http = client()
    first = http.get(fake.base + "/feed.atom")
    again = http.get(fake.base + "/feed.atom", etag=first.etag)
    assert again.not_modified and again.body == b""
    _, _, headers = fake.request_log[-1]
    assert headers["If-None-Match"] == first.etag


def test_header_injection_in_validators_is_ignored(fake: Fake) -> None:
    client().get(fake.base + "/feed.atom", etag='"x"\r\nX-Evil: 1', last_modified="a\nb")
    _, _, headers = fake.request_log[-1]
    assert "If-None-Match" not in headers and "X-Evil" not in headers


def test_loopback_blocked_without_the_test_switch(fake: Fake) -> None:
    http = HttpClient("testnet", HttpOptions(insecure_transport=True))
    with pytest.raises(BlockedAddress) as caught:
        http.get(fake.base + "/jwks")
    assert caught.value.network == "testnet"
    assert fake.request_log == []  # refused at connect: no request was sent


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "javascript:alert(1)", "/relative",
                                 "http://user:pw@127.0.0.1/", "http://127.0.0.1:99999/",
                                 "http://127.0.0.1/\r\nHost: evil", "x" * 3000])
def test_bad_urls_rejected(url: str) -> None:
    with pytest.raises(UpstreamRejected):
        client().get(url)


def test_https_required_for_tokens_unless_insecure(fake: Fake) -> None:
    http = HttpClient("testnet", HttpOptions(allow_private_networks=True))
    with pytest.raises(UpstreamRejected):
        http.get(fake.base + "/jwks")
    with pytest.raises(UpstreamRejected):
        http.get(fake.base + "/feed.atom", secure=False, bearer="tok")  # a token forces https
    assert http.get(fake.base + "/feed.atom", secure=False).status == 200  # public feeds: ok


def test_environment_proxies_ignored(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://10.255.255.1:3128")
    monkeypatch.setenv("http_proxy", "http://10.255.255.1:3128")
    assert client().get(fake.base + "/jwks").status == 200


def test_connection_refused_is_unavailable() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(UpstreamUnavailable) as caught:
        client(retries=0).get(f"http://127.0.0.1:{port}/")
    assert caught.value.reason == "connection"


def test_json_bombs_are_invalid_data() -> None:
    deep = Response(200, "http://x", {}, b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(InvalidUpstreamData):
        deep.json()
    with pytest.raises(InvalidUpstreamData):
        Response(200, "http://x", {}, b"\xff\xfe{").json()
    assert Response(200, "http://x", {}, json.dumps({"a": 1}).encode()).json() == {"a": 1}


def test_options_validated() -> None:
    with pytest.raises(ConfigError):
        HttpOptions(timeout=0.1, retries=5, backoff_factor=1.0)
    with pytest.raises(ConfigError):
        HttpOptions(max_bytes=10)
    with pytest.raises(ConfigError):
        HttpOptions(user_agent="bad\r\nagent")
    opts = HttpOptions(timeout=10.0, retries=2, backoff_factor=0.5)
    connect, read = opts.attempt_timeouts()
    assert (connect + read) * 3 + opts.total_backoff() == pytest.approx(10.0)


def test_retry_after_parsing() -> None:
    from datetime import UTC, datetime

    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert _retry_after({"Retry-After": "120"}) == 120.0
    assert _retry_after({"Retry-After": "Wed, 01 May 2024 12:01:00 GMT"}, now) == 60.0
    assert _retry_after({"Retry-After": "soon"}) is None
    assert _retry_after({"Retry-After": "99999999"}) == 86400.0
