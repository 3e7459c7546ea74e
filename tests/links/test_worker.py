"""The real queue (huey on SQLite, as in the embedded default): the scheduler's tick claims
due links once and the worker's jobs pull them; the CLI adds and lists networks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import func, select, update

from hub.links import jobs, links_for
from hub.persistence.models.links import FeedItem, RelayState
from hub.worker import Queue, make_huey, queue_for, resolve
from tests.links.linkkit import Doctor, Net, make_due


def test_tick_enqueues_each_due_link_once_and_jobs_pull(hub: Any, doctor: Doctor,
                                                        make_net: Any, tmp_path: Path) -> None:
    net: Net = make_net("oidc")
    doctor.link(net)
    with hub.db.session() as s:
        s.execute(FeedItem.__table__.delete().where(FeedItem.network == net.name))
        s.execute(update(RelayState).values(etag=None, last_modified=None))
    make_due(hub, doctor)
    queue = Queue(make_huey("sql", tmp_path), hub)
    hub.queue = queue
    try:
        jobs.tick(hub)
        jobs.tick(hub)  # a second tick finds the link claimed (leased): nothing more
        assert queue.huey.pending_count() == 1
        while (task := queue.huey.dequeue()) is not None:
            queue.huey.execute(task)
    finally:
        queue_for(hub, immediate=True)
    with hub.db.session() as s:
        count = s.scalar(select(func.count()).select_from(FeedItem)
                         .where(FeedItem.network == net.name))
    assert count == 3


def test_job_names_are_hub_functions_only() -> None:
    import pytest

    assert resolve("hub.links.jobs:pull") is jobs.pull
    for bad in ("os:system", "hub.links.jobs", "hub.links.jobs:no_such", "builtins:eval"):
        with pytest.raises((ValueError, AttributeError)):
            resolve(bad)


def test_redis_store_selects_redis_huey(tmp_path: Path) -> None:
    from huey import RedisHuey, SqliteHuey

    assert isinstance(make_huey("redis://127.0.0.1:6379/0", tmp_path), RedisHuey)
    assert isinstance(make_huey("sql", tmp_path), SqliteHuey)
    assert (tmp_path / "queue.db").exists()


def test_cli_networks_add_and_list(hub: Any, tmp_path: Path, monkeypatch: Any) -> None:
    import json

    from hub.cli import Context, main

    cfg = tmp_path / "net.yaml"
    cfg.write_text("allowed_hosts: ['.example.org']\n")
    monkeypatch.setattr(Context, "hub", property(lambda self: hub))
    ctx = None
    runner = CliRunner()
    out = runner.invoke(main, ["networks", "add", "blogs-cli", "--kind", "feed", "--config",
                               str(cfg), "--display-name", "Blogs"], obj=ctx)
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == {"network": "blogs-cli", "kind": "feed"}
    listed = runner.invoke(main, ["networks", "list"], obj=ctx)
    assert "blogs-cli\tfeed\t0 linked\tenabled" in listed.output
    cfg.write_text("nonsense_key: 1\n")
    bad = runner.invoke(main, ["networks", "add", "bad", "--kind", "feed", "--config", str(cfg)],
                        obj=ctx)
    assert bad.exit_code != 0 and "unknown key" in bad.output
    assert links_for(hub).networks.get("bad") is None
