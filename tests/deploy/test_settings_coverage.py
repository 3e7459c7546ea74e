"""Every setting the hub reads is documented and deployable: the operator guide's table, the
Helm chart and the compose env example each name every one, derived from hub/settings.py, so
a new setting cannot ship that an operator of either set-up cannot find or set.

Where each belongs: a secret goes by reference (a Secret, the git-ignored env file) and the
chart refuses it among its plain `config` values; a few the chart or the image set
themselves; every other one is in the chart's `config`, set or commented with its default.
"""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.settings import PREFIX, SERVER_SETTINGS, Settings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "curbside"
GUIDE = ROOT / "docs" / "operator-guide.md"
ENV_EXAMPLE = ROOT / "deploy" / "env" / "hub.env.example"

SECRET = {"CURBSIDE_SECRET_KEY", "CURBSIDE_KEY_ENCRYPTION_KEYS", "CURBSIDE_DATABASE_URL",
          "CURBSIDE_STORE_URL", "CURBSIDE_PAIRWISE_SALT", "CURBSIDE_METRICS_TOKEN"}
# The chart sets these from its own values (hub.port, auditCheckpoint), the image sets the
# instance folder: given under `config` they would clash with the chart's.
SET_BY_CHART = {"CURBSIDE_BIND", "CURBSIDE_INSTANCE_DIR", "CURBSIDE_AUDIT_CHECKPOINT_KEY_FILE",
                "CURBSIDE_AUDIT_CHECKPOINT_PUBLIC_KEY_FILE"}


def all_settings() -> set[str]:
    return {PREFIX + f.name.upper() for f in fields(Settings)} | set(SERVER_SETTINGS)


def is_default(name: str, raw: str) -> bool:
    """``raw``, as the environment would give it, is the hub's default for ``name``."""
    field = next(f for f in fields(Settings) if PREFIX + f.name.upper() == name)
    env = {"CURBSIDE_ISSUER": "https://id.example.org", name: raw}
    return bool(getattr(Settings.from_env(env), field.name) == field.default)


def test_the_sets_name_real_settings() -> None:
    assert SECRET | SET_BY_CHART <= all_settings()


# -- the operator guide ------------------------------------------------------------------

def guide_table() -> dict[str, list[str]]:
    text = GUIDE.read_text()
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        m = re.match(r"\| `(CURBSIDE_[A-Z0-9_]+)` \|(.*)\|$", line)
        if m:
            assert m.group(1) not in rows, f"{m.group(1)} twice in the table"
            rows[m.group(1)] = [cell.strip() for cell in m.group(2).split("|")]
    return rows


def test_the_operator_guide_table_lists_every_setting_and_no_other() -> None:
    rows = guide_table()
    assert sorted(all_settings() - set(rows)) == [], "settings missing from the guide's table"
    assert sorted(set(rows) - all_settings()) == [], "the guide lists settings that do not exist"


def test_the_operator_guide_marks_secret_and_chart_settings() -> None:
    rows = guide_table()
    for name, (_, what) in rows.items():
        assert ("**secret**" in what) == (name in SECRET), name
        assert ("*chart*" in what) == (name in SET_BY_CHART), name


def test_the_operator_guide_gives_each_plain_default() -> None:
    defaults = {PREFIX + f.name.upper(): f.default for f in fields(Settings)}
    for name, (default, _) in guide_table().items():
        value = defaults.get(name)
        if isinstance(value, bool):
            assert default == str(value).lower(), name
        elif isinstance(value, int | float):
            assert default == str(value), name


# -- the Helm chart ----------------------------------------------------------------------

def config_lines() -> dict[str, tuple[bool, Any]]:
    """The chart's `config` keys, set or commented out: name -> (commented, value)."""
    lines = (CHART / "values.yaml").read_text().split("\nconfig:\n", 1)[1].splitlines()
    found: dict[str, tuple[bool, Any]] = {}
    for line in lines:
        if line and not line.startswith(" "):
            break  # the next top-level key
        m = re.match(r"^  (# )?(CURBSIDE_[A-Z0-9_]+):(.*)$", line)
        if m:
            found[m.group(2)] = (bool(m.group(1)), yaml.safe_load(m.group(3)) or "")
    return found


def test_every_plain_setting_is_in_the_charts_config_set_or_commented() -> None:
    plain = all_settings() - SECRET - SET_BY_CHART
    assert sorted(plain - set(config_lines())) == [], "settings missing from values.yaml config"
    assert not (SECRET | SET_BY_CHART) & {k for k, (commented, _) in config_lines().items()
                                         if not commented}


def test_every_commented_chart_value_is_the_hubs_default() -> None:
    for name, (commented, value) in config_lines().items():
        # CURBSIDE_METRICS_BIND shows an example address: the default is off.
        if commented and name not in SERVER_SETTINGS and name != "CURBSIDE_METRICS_BIND":
            assert is_default(name, str(value)), name


def test_the_chart_passes_secrets_and_its_own_settings_by_reference() -> None:
    text = (CHART / "values.yaml").read_text() + "".join(
        p.read_text() for p in (CHART / "templates").iterdir())
    for name in sorted(SECRET | SET_BY_CHART - {"CURBSIDE_INSTANCE_DIR"}):
        assert name in text, name
    # The instance folder's path is the image's.
    assert "ENV CURBSIDE_INSTANCE_DIR=" in (ROOT / "deploy" / "Containerfile").read_text()


helm = pytest.importorskip("helm_python")


@pytest.mark.parametrize("name", sorted(SECRET | SET_BY_CHART))
def test_the_chart_refuses_secret_and_chart_settings_in_config(name: str) -> None:
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmValuesError, match=name):
        chart.render({"config": {"CURBSIDE_ISSUER": "https://id.example.org", name: "x"}},
                     name="curbside", namespace="clinics", is_install=True)


def test_every_setting_the_chart_renders_is_one_the_hub_accepts() -> None:
    """A rendered pod's environment passes the hub's own settings check (no unknown name)."""
    with helm.Chart.load(CHART) as chart:
        files = chart.render({"config": {"CURBSIDE_ISSUER": "https://id.example.org",
                                         "CURBSIDE_METRICS_BIND": "0.0.0.0:9100"},
                              "auditCheckpoint": {"privateKeySecret": "a", "publicKeySecret": "b"}},
                             name="curbside", namespace="clinics", is_install=True)
    docs = [d for name, text in files.items() if name.endswith(".yaml")
            for d in yaml.safe_load_all(text) if d]
    for doc in docs:
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        (container,) = doc["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value", "s" * 43) for e in container["env"]}
        assert set(env) <= all_settings(), doc["metadata"]["name"]
        for name in SECRET & set(env):
            assert "valueFrom" in next(e for e in container["env"] if e["name"] == name), name
        app_env = {k: v for k, v in env.items() if k not in SERVER_SETTINGS}
        Settings.from_env(app_env)


# -- compose -----------------------------------------------------------------------------

def env_example() -> dict[str, tuple[bool, str]]:
    found: dict[str, tuple[bool, str]] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        m = re.match(r"^(# )?(CURBSIDE_[A-Z0-9_]+)=(.*)$", line)
        if m:
            found[m.group(2)] = (bool(m.group(1)), m.group(3))
    return found


def test_the_compose_env_example_names_every_setting_and_comments_show_defaults() -> None:
    example = env_example()
    # The image sets the instance folder; the example says so in words.
    assert sorted(all_settings() - {"CURBSIDE_INSTANCE_DIR"} - set(example)) == []
    for name, (commented, value) in example.items():
        if (commented and value and name not in SERVER_SETTINGS
                and name != "CURBSIDE_METRICS_BIND"):
            assert is_default(name, value), name
