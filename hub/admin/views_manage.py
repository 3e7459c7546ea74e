"""Relying parties and the verification review queue."""

from __future__ import annotations

from flask import abort, redirect, request
from werkzeug.wrappers import Response

from hub.admin import clients, reviews
from hub.admin.roles import Permission
from hub.admin.web import bp, client_address, current, hub, page, reason, require, valid_id


# -- relying parties ------------------------------------------------------------------------------
@bp.get("/clients")
@require(Permission.VIEW)
def client_list() -> Response:
    return page("admin/clients.html", clients=clients.list_clients(hub()),
                done=request.args.get("done", "")[:40])


def _client_status(client_id: str, to: str) -> Response:
    valid_id(client_id, "network")
    why = reason()
    try:
        clients.change_status(hub(), client_id, to, actor=current().actor, reason=why,
                              address=client_address())
    except LookupError:
        abort(404, "No network with this client id.")
    except clients.TransitionError as e:
        abort(409, str(e).capitalize() + ".")
    return redirect(f"/admin/clients?done={'approved' if to == 'active' else 'suspended'}", 303)


@bp.post("/clients/<client_id>/approve")
@require(Permission.MANAGE_CLIENTS)
def client_approve(client_id: str) -> Response:
    return _client_status(client_id, "active")


@bp.post("/clients/<client_id>/suspend")
@require(Permission.MANAGE_CLIENTS)
def client_suspend(client_id: str) -> Response:
    return _client_status(client_id, "suspended")


# -- verification review queue --------------------------------------------------------------------
@bp.get("/reviews")
@require(Permission.VIEW)
def review_list() -> Response:
    available = reviews.queue_available(hub())
    return page("admin/reviews.html", available=available,
                items=reviews.review_queue(hub()) if available else [],
                done=request.args.get("done", "")[:40])


@bp.post("/reviews/<int:registration_id>/approve")
@require(Permission.REVIEW)
def review_approve(registration_id: int) -> Response:
    if not reviews.queue_available(hub()):
        abort(404, "The review queue is not available on this database.")
    why = reason()
    try:
        reviews.approve(hub(), registration_id, actor=current().actor, reason=why, address=client_address())
    except LookupError:
        abort(409, "This registration is not waiting for review (any more).")
    return redirect("/admin/reviews?done=approved", 303)
