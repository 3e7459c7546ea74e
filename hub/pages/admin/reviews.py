"""The verification review queue: registrations and uploaded documents waiting for a person."""

from __future__ import annotations

from datetime import date

from flask import abort, redirect, request
from werkzeug.wrappers import Response

from hub.admin import reviews
from hub.admin.roles import Permission
from hub.pages.admin.console import bp, client_address, current, hub, page, reason, require

NAME_MAX = 200


def _available() -> None:
    if not reviews.queue_available(hub()):
        abort(404, "The review queue is not available on this database yet.")


@bp.get("/reviews")
@require(Permission.VIEW)
def review_list() -> Response:
    available = reviews.queue_available(hub())
    return page("admin/reviews.html", available=available,
                queue=reviews.review_queue(hub()) if available else None,
                kinds=reviews.DOCUMENT_KINDS, document_types=reviews.document_types() if available else (),
                done=request.args.get("done", "")[:40])


def _registration(registration_id: int, approve: bool) -> Response:
    _available()
    why = reason()
    try:
        reviews.decide_registration(hub(), registration_id, approve, actor=current().actor, reason=why,
                                    address=client_address())
    except LookupError:
        abort(409, "This registration is not waiting for review (any more).")
    return redirect(f"/admin/reviews?done={'approved' if approve else 'rejected'}", 303)


@bp.post("/reviews/<int:registration_id>/approve")
@require(Permission.REVIEW)
def review_approve(registration_id: int) -> Response:
    return _registration(registration_id, True)


@bp.post("/reviews/<int:registration_id>/reject")
@require(Permission.REVIEW)
def review_reject(registration_id: int) -> Response:
    return _registration(registration_id, False)


@bp.get("/documents/<int:document_id>")
@require(Permission.REVIEW)
def document_view(document_id: int) -> Response:
    """The uploaded file, as a download: identity documents are for reviewers only, and
    every view is recorded (admin:document:view) by the verification module."""
    _available()
    try:
        doc = reviews.fetch_document(hub(), document_id, actor=current().actor, address=client_address())
    except LookupError:
        abort(404, "No such document, or its content was deleted after the decision.")
    resp = Response(doc.data, mimetype=doc.info.content_type)
    resp.headers["Content-Disposition"] = f'attachment; filename="{doc.filename}"'
    resp.headers["Cache-Control"] = "no-store"
    # Should a browser render it anyway, it runs nothing and loads nothing.
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return resp


def _text(name: str, limit: int = NAME_MAX) -> str | None:
    value = " ".join(request.form.get(name, "").split())
    if len(value) > limit:
        abort(400, f"The field {name.replace('_', ' ')} is too long.")
    return value or None


def _facts() -> reviews.IdentityDocumentFacts:
    expiry = _text("date_of_expiry", 10)
    try:
        parsed = date.fromisoformat(expiry) if expiry else None
    except ValueError:
        abort(400, "The date of expiry must be a date such as 2031-12-31.")
    return reviews.IdentityDocumentFacts(_text("document_type", 32), _text("given_name"),
                                         _text("family_name"), _text("issuer_country", 3), parsed)


def _document(document_id: int, accept: bool) -> Response:
    _available()
    why = reason()
    facts = _facts() if accept else None
    try:
        reviews.decide_document(hub(), document_id, accept, actor=current().actor, reason=why,
                                address=client_address(), facts=facts)
    except LookupError:
        abort(409, "This document is not waiting for review (any more).")
    except reviews.ReviewInputError as e:
        abort(400, str(e).capitalize() + ".")
    return redirect(f"/admin/reviews?done={'accepted' if accept else 'rejected'}", 303)


@bp.post("/documents/<int:document_id>/accept")
@require(Permission.REVIEW)
def document_accept(document_id: int) -> Response:
    return _document(document_id, True)


@bp.post("/documents/<int:document_id>/reject")
@require(Permission.REVIEW)
def document_reject(document_id: int) -> Response:
    return _document(document_id, False)
