"""federation/ is library code: the standard library and joserfc only.

import-linter holds the hub/Flask/SQLAlchemy/Redis contract for the whole project; this
allow-list is stricter (no HTTP client either: the caller hands in ``fetch``) and runs with
the federation tests alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

import federation
from tests.imports import imported_roots

ALLOWED_THIRD_PARTY = {"joserfc"}
PACKAGE_DIR = Path(federation.__file__).parent


def test_federation_imports_only_stdlib_joserfc_and_itself() -> None:
    modules = sorted(PACKAGE_DIR.rglob("*.py"))
    assert len(modules) >= 10
    allowed = set(sys.stdlib_module_names) | ALLOWED_THIRD_PARTY | {"federation", "__future__"}
    offenders = {
        str(path.relative_to(PACKAGE_DIR)): sorted(imported_roots(path) - allowed)
        for path in modules
        if imported_roots(path) - allowed
    }
    assert offenders == {}


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import json\nimport requests\nfrom hub.outbound import get\n")
    assert imported_roots(sample) == {"json", "requests", "hub"}
