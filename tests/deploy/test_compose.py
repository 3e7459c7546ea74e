"""deploy/compose.yaml is a valid Compose file that starts things in a safe order.

`docker compose config` needs the compose plugin, which this machine's Docker client lacks,
so the file is checked against the Compose Specification's JSON schema (the copy that
check-jsonschema ships) after YAML merge keys are resolved, as Compose resolves them.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
HUB_SERVICES = ("migrate", "hub", "worker", "logout-worker")


def compose_schema() -> dict[str, Any]:
    pytest.importorskip("check_jsonschema")
    text = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    return json.loads(text)  # type: ignore[no-any-return]


def compose_errors(doc: dict[str, Any]) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(doc)]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())  # type: ignore[no-any-return]


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    assert compose_errors(compose) == []


def test_the_schema_check_catches_a_misspelt_condition(compose: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(compose))
    broken["services"]["hub"]["depends_on"]["migrate"]["condition"] = "service_completed"
    assert compose_errors(broken)


def test_hub_and_workers_start_only_after_the_migration_succeeded(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("hub", "worker", "logout-worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends["postgres"] == {"condition": "service_healthy"}, name
        assert depends["redis"] == {"condition": "service_healthy"}, name
        assert services[name]["restart"] == "unless-stopped", name
    migrate = services["migrate"]
    assert migrate["command"] == ["hub", "db", "upgrade"]
    assert "migrate" not in migrate["depends_on"]
    assert migrate["restart"] == "no"  # a one-shot: a failed migration must stay failed
    assert services["worker"]["command"] == ["hub", "worker"]
    assert services["logout-worker"]["command"] == ["hub", "logout-worker"]


def test_only_the_migration_logs_in_as_the_migration_role(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["env_file"] == ["env/hub.env", "env/migrate.env"]
    for name in ("hub", "worker", "logout-worker"):
        assert services[name]["env_file"] == ["env/hub.env"], name


def test_no_secret_is_written_in_the_compose_file(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        env = service.get("environment", {})
        assert not env, f"{name}: settings belong in env files"
    text = (DEPLOY / "compose.yaml").read_text()
    assert not re.search(r"(PASSWORD|SECRET_KEY|KEYS)\s*[:=]\s*\S", text)
    ignored = (DEPLOY / ".gitignore").read_text()
    assert "env/*.env" in ignored


def test_state_survives_recreating_containers(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in HUB_SERVICES:
        assert "instance:/home/curbside/instance" in services[name]["volumes"], name
        assert services[name]["read_only"] is True, name
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "redisdata:/data" in services["redis"]["volumes"]
    assert set(compose["volumes"]) == {"instance", "pgdata", "redisdata"}
    assert "./postgres-init:/docker-entrypoint-initdb.d:ro" in services["postgres"]["volumes"]


def test_redis_keeps_an_fsynced_append_only_file_and_never_evicts(compose: dict[str, Any]) -> None:
    command = " ".join(compose["services"]["redis"]["command"])
    assert "--appendonly yes" in command
    assert "--appendfsync everysec" in command
    assert "--maxmemory-policy noeviction" in command
    for name in ("postgres", "redis"):
        assert compose["services"][name]["healthcheck"]["test"], name


def _example(name: str) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in (DEPLOY / "env" / f"{name}.env.example").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    return {k: v for k, v in pairs}


def test_example_env_files_hold_only_settings_the_hub_accepts(tmp_path: Path) -> None:
    # Settings.from_env refuses unknown CURBSIDE_* variables: a typo in the example would
    # stop every container at start.
    from hub.settings import Settings

    env = _example("hub") | _example("migrate")
    assert {k for k, v in env.items() if not v} == {"CURBSIDE_SECRET_KEY", "CURBSIDE_KEY_ENCRYPTION_KEYS",
                                                    "CURBSIDE_PAIRWISE_SALT"}
    env |= {"CURBSIDE_SECRET_KEY": "x" * 48, "CURBSIDE_KEY_ENCRYPTION_KEYS": "k",
            "CURBSIDE_PAIRWISE_SALT": "s" * 43,
            "CURBSIDE_INSTANCE_DIR": str(tmp_path)}
    settings = Settings.from_env(env)
    assert settings.database_url.startswith("postgresql+psycopg://curbside_migrator:")
    assert settings.store_url.startswith("redis://")
    assert _example("hub")["CURBSIDE_DATABASE_URL"].startswith("postgresql+psycopg://curbside_app:")
