"""The audit log in the console: chain verification, streaming export, malformed ranges."""

from __future__ import annotations

import csv
import io
import json

from tests.admin.conftest import ConsoleFor, audit_records
from tests.flows.conftest import RunningHub


def test_verify_page_reports_an_intact_chain(admin_hub: RunningHub, console_for: ConsoleFor) -> None:
    r = console_for("auditor").get("/admin/audit/verify")
    assert r.status_code == 200 and "Intact" in r.text and "records checked" in r.text


def test_export_streams_jsonl_and_csv_for_a_range_and_is_audited(
        admin_hub: RunningHub, console_for: ConsoleFor) -> None:
    auditor = console_for("auditor")
    r = auditor.get("/admin/audit/export", params={"format": "jsonl", "from": "2000-01-01"}, stream=True)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/x-ndjson")
    assert "attachment" in r.headers["Content-Disposition"] and "Content-Length" not in r.headers
    lines = [json.loads(line) for line in r.iter_lines() if line]
    assert lines and [x["seq"] for x in lines] == sorted(x["seq"] for x in lines)
    assert any(x["event"] == "auth:login:success" and x["actor"] == auditor.actor for x in lines)
    r = auditor.get("/admin/audit/export", params={"format": "csv", "to": "2999-01-01T00:00:00Z"})
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert r.headers["Content-Type"].startswith("text/csv") and rows and "hash" in rows[0]
    r = auditor.get("/admin/audit/export", params={"from": "2999-01-01", "to": "2999-02-01"})
    assert r.status_code == 200 and r.text == ""
    exports = audit_records(admin_hub, actor=auditor.actor, event="audit:log:export")
    assert [json.loads(e.detail)["format"] for e in exports] == ["jsonl", "csv", "jsonl"]
    assert json.loads(exports[0].detail)["from"] == "2000-01-01T00:00:00.000000Z"


def test_malformed_ranges_get_a_clear_400(admin_hub: RunningHub, console_for: ConsoleFor) -> None:
    auditor = console_for("auditor")
    cases = [({"from": "yesterday"}, "not an ISO 8601"), ({"to": "2024-13-45"}, "not an ISO 8601"),
             ({"from": "2024-05-02", "to": "2024-05-01"}, "starts after it ends"),
             ({"from": "'; DROP TABLE audit_records; --"}, "not an ISO 8601"),
             ({"format": "xlsx"}, "Unknown export format")]
    for params, message in cases:
        r = auditor.get("/admin/audit/export", params=params)
        assert r.status_code == 400 and message in r.text, (params, r.text[:300])
        assert "text/html" in r.headers["Content-Type"]
    assert audit_records(admin_hub, actor=auditor.actor, event="audit:log:export") == []
