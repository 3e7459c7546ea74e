"""``hub federation`` as an operator scripts it: enrol, list, trust marks, chains, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from joserfc.jwk import ECKey

from federation import public_jwks
from hub.cli import main

MEMBER = "https://clinic.example.org"
TYPE = "https://curbside.example/trust-marks/verified-physicians-only"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {"CURBSIDE_DATABASE_URL": f"sqlite:///{tmp_path}/hub.db", "CURBSIDE_INSTANCE_DIR": str(tmp_path),
         "CURBSIDE_ISSUER": "https://id.curbside.example",
         "CURBSIDE_FEDERATION_TRUST_ANCHORS": json.dumps(
             {"https://anchor.example.org": public_jwks(ECKey.generate_key("P-256", auto_kid=True))})}
    assert CliRunner().invoke(main, ["db", "upgrade"], env=e).exit_code == 0
    return e


def run(env: dict[str, str], *args: str) -> object:
    return CliRunner().invoke(main, ["federation", *args], env=env)


def test_enrol_list_mark_revoke_remove(env: dict[str, str], tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(public_jwks(ECKey.generate_key("P-256", auto_kid=True))))
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"openid_relying_party": {"scope": {"subset_of": ["openid"]}}}))
    r = run(env, "enrol", MEMBER, "--jwks", str(jwks), "--policy", str(policy))
    assert r.exit_code == 0, r.output
    listed = json.loads(run(env, "subordinates").output)
    assert [s["entity_id"] for s in listed] == [MEMBER]
    assert listed[0]["metadata_policy"]["openid_relying_party"]["scope"] == {"subset_of": ["openid"]}

    token = run(env, "trust-mark", "issue", MEMBER, "--type", TYPE).output.strip()
    assert token.count(".") == 2
    marks = json.loads(run(env, "trust-mark", "list").output)
    assert marks[0]["sub"] == MEMBER and marks[0]["revoked_at"] is None
    assert run(env, "trust-mark", "revoke", MEMBER, "--type", TYPE).exit_code == 0
    assert json.loads(run(env, "trust-mark", "list").output)[0]["revoked_at"]
    again = run(env, "trust-mark", "revoke", MEMBER, "--type", TYPE)
    assert again.exit_code == 1 and "no active" in again.output

    assert run(env, "remove", MEMBER).exit_code == 0
    assert json.loads(run(env, "subordinates").output) == []
    missing = run(env, "remove", MEMBER)
    assert missing.exit_code == 1 and "is not a subordinate" in missing.output


def test_bad_input_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = run(env, "enrol", MEMBER, "--jwks", str(bad))
    assert r.exit_code == 1 and "is not JSON" in r.output and "Traceback" not in r.output
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"openid_relying_party": {"grant_types": {"subset_of": "authorization_code"}}}))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(public_jwks(ECKey.generate_key("P-256", auto_kid=True))))
    r = run(env, "enrol", MEMBER, "--jwks", str(jwks), "--policy", str(policy))
    assert r.exit_code == 1 and "invalid_metadata" in r.output
    r = run(env, "enrol", "not-a-url", "--jwks", str(jwks))
    assert r.exit_code == 1 and "not an entity identifier" in r.output


def test_chain_shows_the_reason_it_fails(env: dict[str, str]) -> None:
    # Nothing listens there: the outbound client refuses a loopback address.
    r = run(env, "chain", "https://127.0.0.1:9/rp")
    assert r.exit_code == 1, r.output
    result = json.loads(r.output)
    assert result["resolved"] is False and result["error"] and result["reason"]
