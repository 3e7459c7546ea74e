"""A connector kind and a register are each one module plus one registry entry: everything a
person sees of them (command choices, page labels, policy sentences, sign-in rules) comes
from the two tables (connectors.registry, hub.verification.registry).

Each test puts a throwaway entry in a table at run time, finds it wherever the built-in
ones show, and takes it out again.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner

import hub.cli as hub_cli
from connectors import registry as kinds
from connectors.base import ActivityPage, LinkCredentials, LinkedIdentity, LinkStart
from connectors.http import HttpOptions
from hub.links import links_for
from hub.persistence.db import utcnow
from hub.relying.policy import store
from hub.verification import registry as registers
from hub.verification.base import RegisterResult, RegistrationClaim, ResultStatus
from hub.verification.importing import ImportReport
from hub.verification.vocabulary import REGISTER_MATCH, RegisterInfo
from tests.flows.conftest import RelyingParty, RunningHub
from tests.links.linkkit import Doctor

# -- a throwaway connector kind ----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PigeonConfig:
    loft: str
    http: HttpOptions = field(default_factory=HttpOptions)


class PigeonConnector:
    """Links by a form (the loft's ring number) and carries no activity."""

    kind = "carrier-pigeon"

    def __init__(self, network: str, config: PigeonConfig, **_: Any) -> None:
        self.network, self.config = network, config

    def begin_link(self, *, state: str, redirect_uri: str) -> LinkStart:
        return LinkStart(pending=b"-", form_fields=("ring",))

    def complete_link(self, params: Mapping[str, str], pending: bytes) -> LinkedIdentity:
        return LinkedIdentity(network=self.network, issuer=f"pigeon:{self.config.loft}",
                              subject=params["ring"], display_name=None, acr=None, amr=(),
                              authenticated_at=None, linked_at=datetime.now(UTC),
                              proves_control=True, credentials=LinkCredentials())

    def fetch_activity(self, link: LinkCredentials, **_: Any) -> ActivityPage:
        return ActivityPage()

    def revoke(self, link: LinkCredentials) -> None:
        return None


PIGEON = kinds.Kind(PigeonConnector, PigeonConfig, "Carrier pigeon post",
                    signs_in_by_default=True)


@pytest.fixture
def pigeon_kind() -> Iterator[str]:
    kinds.add_kind("carrier-pigeon", PIGEON)
    yield "carrier-pigeon"
    kinds.remove_kind("carrier-pigeon")


@pytest.fixture
def cli(running_hub: RunningHub, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``hub ...`` as an operator types it, run against the test's hub."""

    class OnTestHub(hub_cli.Context):
        def __init__(self, **overrides: Any) -> None:
            super().__init__(**overrides)
            self._hub = running_hub.hub

    monkeypatch.setattr(hub_cli, "Context", OnTestHub)

    def run(*args: str, input: str | None = None) -> Any:
        return CliRunner().invoke(hub_cli.main, list(args), input=input)

    return run


def test_a_new_connector_kind_is_offered_everywhere_from_its_registry_entry(
        pigeon_kind: str, cli: Any, doctor: Doctor, hub: Any) -> None:
    # The command offers it and accepts it...
    assert pigeon_kind in cli("networks", "add", "--help").output
    name = f"pigeons-{secrets.token_hex(3)}"
    added = cli("networks", "add", name, "--kind", pigeon_kind, "--config", "-",
                "--display-name", "Pigeon Loft", input=json.dumps({"loft": "north"}))
    assert added.exit_code == 0, added.output
    assert json.loads(added.output) == {"network": name, "kind": pigeon_kind}
    # ...and its abilities, not its name, decide sign-in (the kind's default: yes).
    listed = cli("networks", "list").output
    assert any(line.startswith(f"{name}\t{pigeon_kind}\t") and "signin" in line
               for line in listed.splitlines()), listed
    network = links_for(hub).networks.get(name)
    assert network is not None and network.signin
    # The doctor's page labels it with the kind's label.
    page = doctor.page("/account/links")
    assert "Link Pigeon Loft" in page.text and "Carrier pigeon post" in page.text

    # Without the entry, the command no longer knows the kind.
    kinds.remove_kind(pigeon_kind)
    refused = cli("networks", "add", f"{name}-2", "--kind", pigeon_kind, "--config", "-",
                  input="{}")
    assert refused.exit_code == 2 and "carrier-pigeon" in refused.output


def test_a_kind_whose_links_prove_nothing_never_signs_in(hub: Any) -> None:
    kinds.add_kind("pigeon-rumour", kinds.Kind(PigeonConnector, PigeonConfig, "Rumour",
                                               proves_control=False, signs_in_by_default=True))
    try:
        name = f"rumours-{secrets.token_hex(3)}"
        links_for(hub).networks.add(name, "pigeon-rumour", {"loft": "south"}, signin=True)
        network = links_for(hub).networks.get(name)
        assert network is not None and not network.signin
    finally:
        kinds.remove_kind("pigeon-rumour")


# -- a throwaway register ----------------------------------------------------------------------

ZEDLAND = RegisterInfo("zz-roll", "ZZ", "ZZZ", "Zedland Medical Roll", "Zedland Medical Board",
                       REGISTER_MATCH)


class RollVerifier:
    """Knows no one: every number is 'not in the register'."""

    register = ZEDLAND.id
    number_label = "roll number"

    def normalize(self, number: str) -> str | None:
        return number.strip().upper() or None

    def check(self, claim: RegistrationClaim) -> RegisterResult:
        return RegisterResult(ResultStatus.NO_MATCH, "no entry with this number in the register",
                              utcnow(), self.register)


IMPORTED: list[str] = []


def import_roll(db: Any, path: str, **_: Any) -> ImportReport:
    IMPORTED.append(path)
    return ImportReport(ZEDLAND.id, "full", path, "digest", 1, lines=3, rows_changed=3)


@pytest.fixture
def zedland() -> Iterator[registers.Register]:
    entry = registers.Register(ZEDLAND, "Zedland (Medical Roll)", "the Zedland Medical Roll",
                               "Zedland", lambda wiring: RollVerifier(), {"full": import_roll})
    IMPORTED.clear()
    with registers.added(entry):
        yield entry


def test_a_new_register_is_offered_everywhere_from_its_registry_entry(
        zedland: registers.Register, cli: Any, doctor: Doctor, running_hub: RunningHub,
        tmp_path: Any) -> None:
    # The command offers it and runs its importer.
    assert "zz-roll" in cli("registers", "import", "--help").output
    roll = tmp_path / "roll.csv"
    roll.write_text("number,name\n")
    done = cli("registers", "import", "zz-roll", str(roll), "--quiet")
    assert done.exit_code == 0, done.output
    assert IMPORTED == [str(roll)] and "zz-roll full: 3 lines" in done.output
    assert cli("registers", "import", "zz-roll", str(roll), "--delta").exit_code == 2

    # The verification page offers its country and asks its verifier.
    page = doctor.page("/account/verification")
    assert '<option value="ZZ"' in page.text and "Zedland (Medical Roll)" in page.text
    checked = doctor.browser.post(f"{running_hub.issuer}/account/verification", {
        "csrf": doctor.csrf(), "country": "ZZ", "number": "z-123", "profession": "physician"})
    assert checked.status_code == 200
    assert "The Zedland Medical Roll has no physician&#39;s registration with number Z-123" \
        in checked.text

    # A network's policy that names it is explained in its words, on the refusal page.
    client = running_hub.client()
    store(running_hub.hub).set(client["client_id"], {
        "version": 1, "claims": {"allowed": ["sub"]},
        "access": {"professions": ["physician"], "min_assurance_level": "register_match",
                   "jurisdictions": ["ZZ"], "registers": ["zz-roll"]}}, actor="test")
    rp = RelyingParty(running_hub, client)
    url, _ = rp.authorization_url()
    refusal = doctor.browser.get(url)
    assert "physicians in Zedland verified against the Zedland Medical Roll" in refusal.text, \
        refusal.text[:2000]


def test_a_removed_register_is_no_longer_offered(cli: Any, doctor: Doctor) -> None:
    assert "zz-roll" not in cli("registers", "import", "--help").output
    assert "Zedland" not in doctor.page("/account/verification").text
