"""policies/ is library code: stdlib, pyyaml and jsonschema only.

import-linter holds the hub/Flask/SQLAlchemy/Redis contract for the whole project; this
test is stricter (an allow-list) and runs with the policies tests alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

import policies
from tests.imports import imported_roots

ALLOWED_THIRD_PARTY = {"yaml", "jsonschema"}
PACKAGE_DIR = Path(policies.__file__).parent


def test_policies_imports_only_stdlib_yaml_jsonschema_and_itself() -> None:
    modules = sorted(PACKAGE_DIR.rglob("*.py"))
    assert len(modules) >= 10
    allowed = set(sys.stdlib_module_names) | ALLOWED_THIRD_PARTY | {"policies", "__future__"}
    offenders = {
        str(path.relative_to(PACKAGE_DIR)): sorted(imported_roots(path) - allowed)
        for path in modules
        if imported_roots(path) - allowed
    }
    assert offenders == {}


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import json\nfrom hub.settings import Settings\nimport flask.json\n")
    assert imported_roots(sample) == {"json", "hub", "flask"}
