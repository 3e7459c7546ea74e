"""Subject identifiers as networks see them (OIDC Core §8): never the hub's account id.

A public ``sub`` is the same at every network registered with ``subject_type=public`` and
survives a restart; a pairwise one differs per sector. Every place a network reads a
``sub`` (ID token, userinfo, introspection, back-channel logout token) gives the same one,
and the consent page says which kind the network gets.
"""

from __future__ import annotations

import dataclasses
import html
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from click.testing import CliRunner
from werkzeug.serving import make_server

from hub import cli as cli_module
from hub import create_app
from hub.relying import backchannel
from tests.flows.conftest import Browser, RelyingParty, RunningHub, _Late, callback_params
from tests.relying.conftest import Receiver, receiver  # noqa: F401  (the receiver fixture)


def _network(hub: RunningHub, host: str, **md: Any) -> RelyingParty:
    return RelyingParty(hub, hub.client(redirect_uris=[f"https://{host}/cb"], **md),
                        scope="openid profile offline_access")


def _sub(rp: RelyingParty, token: dict[str, Any]) -> str:
    return str(rp.validate_id_token(token["id_token"])["sub"])


def test_a_public_sub_is_not_the_account_id_and_is_shared_by_public_networks(
        running_hub: RunningHub, browser: Browser) -> None:
    doctor = running_hub.doctor()
    pub_a = _network(running_hub, "pub-a.example", subject_type="public")
    pub_b = _network(running_hub, "pub-b.example", subject_type="public")
    pair_a = _network(running_hub, "pair-a.example")
    pair_b = _network(running_hub, "pair-b.example")
    subs = {name: _sub(rp, rp.sign_in(browser, doctor.email))
            for name, rp in (("pub_a", pub_a), ("pub_b", pub_b), ("pair_a", pair_a), ("pair_b", pair_b))}
    # OIDC Core §8: the same public identifier at every public-subject network ...
    assert subs["pub_a"] == subs["pub_b"]
    # ... and it is not the account id the hub keeps in its tables and audit records.
    assert doctor.id not in subs.values()
    assert all(doctor.id not in s for s in subs.values())
    # §8.1: pairwise differs per sector, and from the public one.
    assert len({subs["pub_a"], subs["pair_a"], subs["pair_b"]}) == 3
    # Another doctor gets another public identifier.
    other = running_hub.doctor()
    assert _sub(pub_a, pub_a.sign_in(Browser(running_hub), other.email)) != subs["pub_a"]


def test_userinfo_introspection_and_logout_token_name_the_id_tokens_public_sub(
        running_hub: RunningHub, browser: Browser, receiver: Receiver) -> None:  # noqa: F811
    doctor = running_hub.doctor()
    pub = _network(running_hub, "pub-c.example", subject_type="public",
                   backchannel_logout_uri=receiver.url)
    token = pub.sign_in(browser, doctor.email)
    sub = _sub(pub, token)
    assert sub != doctor.id
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert requests.get(pub.meta["userinfo_endpoint"], headers=bearer, timeout=5).json()["sub"] == sub
    auth = (pub.creds["client_id"], pub.creds["client_secret"])
    for t in (token["access_token"], token["refresh_token"]):
        info = requests.post(pub.meta["introspection_endpoint"], data={"token": t}, auth=auth,
                             timeout=5).json()
        assert info["active"] and info["sub"] == sub
    # Signing out at another network reaches this one by back-channel, naming the same sub.
    other = _network(running_hub, "other-c.example")
    other_token = other.sign_in(browser, doctor.email)
    q = urlencode({"id_token_hint": other_token["id_token"],
                   "post_logout_redirect_uri": "https://network.example/bye"})
    assert browser.get(f"{other.meta['end_session_endpoint']}?{q}").status_code == 302
    assert backchannel.process_due(running_hub.hub).get("delivered", 0) >= 1
    [claims] = receiver.claims(running_hub.issuer, pub.creds["client_id"])
    assert claims["sub"] == sub


@pytest.fixture
def restarted_hub(running_hub: RunningHub) -> Iterator[RunningHub]:
    """The same hub started again: same database, same instance folder, new process state."""
    late = _Late()
    server = make_server("127.0.0.1", 0, late, threaded=True)
    issuer = f"http://127.0.0.1:{server.server_port}"
    settings = dataclasses.replace(running_hub.hub.settings, issuer=issuer)
    app = create_app(settings, store_prefix=f"restart{server.server_port}:")
    late.app = app
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield RunningHub(issuer, app, app.extensions["curbside"])
    server.shutdown()
    _close(app.extensions["curbside"])


def _close(hub: Any) -> None:
    """Give back the database connections of a hub a test built beside the running one."""
    hub.db.hot.dispose()
    hub.db.engine.dispose()


def test_a_public_sub_survives_a_restart(running_hub: RunningHub, browser: Browser,
                                         restarted_hub: RunningHub) -> None:
    doctor = running_hub.doctor()
    creds = running_hub.client(redirect_uris=["https://pub-d.example/cb"], subject_type="public")
    before = RelyingParty(running_hub, creds)
    sub = _sub(before, before.sign_in(browser, doctor.email))
    after = RelyingParty(restarted_hub, creds)
    assert _sub(after, after.sign_in(Browser(restarted_hub), doctor.email)) == sub != doctor.id


def _consent_page(hub: RunningHub, browser: Browser, rp: RelyingParty, email: str) -> str:
    url, _ = rp.authorization_url()
    page = browser.login(browser.get(url), email)
    assert 'action="/consent"' in page.text, page.text[:300]
    text = html.unescape(page.text)
    callback_params(browser.consent(page))  # the page is what the doctor agreed to
    return text


def test_the_consent_page_says_a_public_identifier_is_shared(running_hub: RunningHub) -> None:
    doctor = running_hub.doctor()
    pub = RelyingParty(running_hub, running_hub.client(client_name="Open Ward",
                                                       redirect_uris=["https://ward.example/cb"],
                                                       subject_type="public"), scope="openid")
    text = _consent_page(running_hub, Browser(running_hub), pub, doctor.email)
    assert "shared" in text and "every network that uses shared identifiers sees this same one" in text
    assert "different one" not in text and "no other network" not in text
    pair = RelyingParty(running_hub, running_hub.client(client_name="Closed Ward",
                                                        redirect_uris=["https://closed.example/cb"]),
                        scope="openid email")
    text = _consent_page(running_hub, Browser(running_hub), pair, doctor.email)
    assert "made for Closed Ward (closed.example)" in text and "see a different one" in text
    assert "shared" not in text


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Run ``hub`` as an operator would; the hubs it built are closed afterwards."""
    built: list[Any] = []
    real_init = cli_module.Context.__init__

    def init(self: Any, **overrides: Any) -> None:
        real_init(self, **overrides)
        built.append(self)

    monkeypatch.setattr(cli_module.Context, "__init__", init)
    yield lambda env, *args: CliRunner().invoke(cli_module.main, list(args), env=env)
    for context in built:
        if context._hub is not None:
            _close(context._hub)


def test_the_operator_gives_a_public_network_its_previous_to_new_sub_map(
        running_hub: RunningHub, cli: Any) -> None:
    settings = running_hub.hub.settings
    env = {"CURBSIDE_DATABASE_URL": settings.database_url, "CURBSIDE_STORE_URL": settings.store_url,
           "CURBSIDE_INSTANCE_DIR": settings.instance_dir, "CURBSIDE_SECRET_KEY": settings.secret_key,
           "CURBSIDE_KEY_ENCRYPTION_KEYS": settings.key_encryption_keys,
           "CURBSIDE_ISSUER": running_hub.issuer, "CURBSIDE_INSECURE_TRANSPORT": "1"}
    pub = _network(running_hub, "pub-e.example", subject_type="public")
    ann, bob = running_hub.doctor(), running_hub.doctor()
    subs = {d.id: _sub(pub, pub.sign_in(Browser(running_hub), d.email)) for d in (ann, bob)}
    out = cli(env, "client", "subject-map", pub.creds["client_id"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0] == "previous_sub,sub"
    assert sorted(lines[1:]) == sorted(f"{old},{new}" for old, new in subs.items())
    pairwise = _network(running_hub, "pair-e.example")
    out = cli(env, "client", "subject-map", pairwise.creds["client_id"])
    assert out.exit_code == 1 and "pairwise subjects" in out.output and "Traceback" not in out.output
