"""connectors/ stays framework-free (import-linter holds this too; this test runs anywhere)."""

from __future__ import annotations

from pathlib import Path

from tests.imports import imported_roots

FORBIDDEN = {"hub", "flask", "sqlalchemy", "redis", "policies", "federation", "werkzeug"}
ROOT = Path(__file__).resolve().parents[2] / "connectors"


def test_no_forbidden_imports() -> None:
    files = sorted(ROOT.rglob("*.py"))
    assert len(files) > 10
    offenders = {str(f.relative_to(ROOT)): sorted(imported_roots(f) & FORBIDDEN) for f in files}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_every_kind_is_one_subpackage() -> None:
    from connectors import registry

    for kind in registry.KINDS.values():
        module = kind.factory.__module__.split(".")
        assert module[0] == "connectors" and (ROOT / module[1] / "__init__.py").exists()
