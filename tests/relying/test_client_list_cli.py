"""``hub client list``: which networks wait for an admin's approval."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from hub.cli import main


def test_client_list_names_the_clients_awaiting_approval(tmp_path: Path) -> None:
    env = {"CURBSIDE_DATABASE_URL": f"sqlite:///{tmp_path}/hub.db", "CURBSIDE_INSTANCE_DIR": str(tmp_path),
           "CURBSIDE_ISSUER": "https://id.curbside.example"}
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    active = json.loads(runner.invoke(main, ["client", "create", "--name", "Live Network", "--redirect-uri",
                                             "https://live.example/cb"], env=env).output)
    pending = json.loads(runner.invoke(main, ["client", "create", "--name", "Changed Network", "--pending",
                                              "--redirect-uri", "https://changed.example/cb"], env=env).output)
    r = runner.invoke(main, ["client", "list"], env=env)
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0] == f"{pending['client_id']}\tpending\tChanged Network\tawaits approval in the admin console"
    assert lines[1] == f"{active['client_id']}\tactive\tLive Network"
