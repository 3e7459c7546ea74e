"""Doctors: search, a doctor's page, and the actions on a doctor (each with a reason)."""

from __future__ import annotations

from flask import abort, redirect, request
from werkzeug.wrappers import Response

from hub.admin import doctors
from hub.admin import links as admin_links
from hub.admin.roles import Permission
from hub.admin.search import MAX_QUERY, linked_subjects_searchable, search_doctors
from hub.pages.admin.console import bp, client_address, current, hub, page, reason, require, valid_id
from hub.verification import jobs


@bp.get("/doctors")
@require(Permission.VIEW)
def doctor_search() -> Response:
    q = request.args.get("q", "")[:MAX_QUERY]
    results, more = search_doctors(hub().db, q) if q.strip() else ([], False)
    return page("admin/doctors.html", q=q, results=results, more=more, searched=bool(q.strip()),
                subjects_searchable=linked_subjects_searchable())


@bp.get("/doctors/<doctor_id>")
@require(Permission.VIEW)
def doctor_page(doctor_id: str) -> Response:
    valid_id(doctor_id, "doctor")
    facts = doctors.load_facts(hub(), doctor_id)
    if facts is None:
        abort(404, "No doctor with this id.")
    return page("admin/doctor.html", f=facts, done=request.args.get("done", "")[:40])


def _back(doctor_id: str, done: str) -> Response:
    return redirect(f"/admin/doctors/{doctor_id}?done={done}", 303)


def _exists(doctor_id: str) -> None:
    if hub().accounts.get(valid_id(doctor_id, "doctor")) is None:
        abort(404, "No doctor with this id.")


@bp.post("/doctors/<doctor_id>/suspend")
@require(Permission.MANAGE_DOCTORS)
def doctor_suspend(doctor_id: str) -> Response:
    _exists(doctor_id)
    why = reason()
    doctors.set_suspended(hub(), doctor_id, True, actor=current().actor, reason=why, address=client_address())
    return _back(doctor_id, "suspended")


@bp.post("/doctors/<doctor_id>/unsuspend")
@require(Permission.MANAGE_DOCTORS)
def doctor_unsuspend(doctor_id: str) -> Response:
    _exists(doctor_id)
    why = reason()
    doctors.set_suspended(hub(), doctor_id, False, actor=current().actor, reason=why,
                          address=client_address())
    return _back(doctor_id, "unsuspended")


@bp.post("/doctors/<doctor_id>/end-sessions")
@require(Permission.MANAGE_DOCTORS)
def doctor_end_sessions(doctor_id: str) -> Response:
    _exists(doctor_id)
    why = reason()
    doctors.end_sessions(hub(), doctor_id, actor=current().actor, reason=why, address=client_address())
    return _back(doctor_id, "sessions-ended")


@bp.post("/doctors/<doctor_id>/recheck")
@require(Permission.MANAGE_DOCTORS)
def doctor_recheck(doctor_id: str) -> Response:
    _exists(doctor_id)
    why = reason()
    summary = jobs.recheck_doctor(hub(), doctor_id)
    hub().audit_event("admin:verification:recheck", actor=current().actor, doctor_id=doctor_id,
                      address=client_address(), doctor=doctor_id, reason=why,
                      checked=summary.checked, outcomes=summary.by_status)
    return _back(doctor_id, "rechecked")


@bp.post("/doctors/<doctor_id>/links/<link_id>/revoke")
@require(Permission.MANAGE_DOCTORS)
def doctor_link_revoke(doctor_id: str, link_id: str) -> Response:
    _exists(doctor_id)
    valid_id(link_id, "link")
    why = reason()
    if admin_links.find(hub(), doctor_id, link_id) is None:
        abort(404, "This doctor has no link with this id.")
    if not admin_links.revoke(hub(), doctor_id, link_id, actor=current().actor, reason=why,
                              address=client_address()):
        abort(409, "This link is already revoked.")
    return _back(doctor_id, "link-revoked")
