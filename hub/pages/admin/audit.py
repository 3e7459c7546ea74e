"""The dashboard, and the audit log: verify the chain, export a time range."""

from __future__ import annotations

from flask import abort, request, stream_with_context
from werkzeug.wrappers import Response

from hub.admin import dashboard
from hub.admin.auditlog import run_verification, stream_export
from hub.admin.roles import Permission
from hub.audit import AuditRangeError, append, parse_range
from hub.audit.chain import format_time
from hub.audit.export import FORMATS
from hub.pages.admin.console import bp, client_address, current, hub, page, require

MIMETYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv"}


@bp.get("/")
@require(Permission.VIEW)
def home() -> Response:
    h = hub()
    return page("admin/dashboard.html", signins=dashboard.signins_per_network(h),
                outcomes=dashboard.verification_outcomes(h), links=dashboard.links_per_network(h))


@bp.get("/audit")
@require(Permission.VIEW)
def audit_page() -> Response:
    return page("admin/audit.html", report=None, busy=False, formats=FORMATS)


@bp.get("/audit/verify")
@require(Permission.VIEW)
def audit_verify() -> Response:
    # A GET: verifying reads and changes nothing (it may take a while on a long log).
    report = run_verification(hub())
    return page("admin/audit.html", report=report, busy=report is None, formats=FORMATS,
                status=200 if report is None or report.ok else 409)


@bp.get("/audit/export")
@require(Permission.VIEW)
def audit_export() -> Response:
    fmt = request.args.get("format", "jsonl")
    if fmt not in FORMATS:
        abort(400, f"Unknown export format; use one of: {', '.join(FORMATS)}.")
    # Empty fields mean an open end; anything else must parse, before a byte is streamed.
    raw_from = request.args.get("from", "").strip()[:64] or None
    raw_to = request.args.get("to", "").strip()[:64] or None
    try:
        start, end = parse_range(raw_from, raw_to)
    except AuditRangeError as e:
        abort(400, f"The time range is not valid: {e}.")
    # Exports carry personal data, so who exported what is recorded before anything leaves.
    append(hub().db, "audit:log:export", actor=current().actor, address=client_address(),
           detail={"from": format_time(start) if start else None, "to": format_time(end) if end else None,
                   "format": fmt, "console": "admin"})
    name = f"curbside-audit.{fmt}"
    resp = Response(stream_with_context(stream_export(hub(), start, end, fmt)),
                    mimetype=MIMETYPES[fmt])
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    resp.headers["Cache-Control"] = "no-store"
    return resp
