"""Relying parties: list, approve, suspend."""

from __future__ import annotations

import json
import secrets

from flask import abort, redirect, request
from werkzeug.wrappers import Response

from hub.admin import clients
from hub.admin.roles import Permission
from hub.audit.detail import looks_like_token
from hub.domain.clients import MAX_CLIENT_ID_LENGTH
from hub.pages.admin.console import bp, client_address, current, hub, page, reason, require, valid_id
from hub.relying.invitations import issue_initial_token


# -- relying parties ------------------------------------------------------------------------------
@bp.get("/clients")
@require(Permission.VIEW)
def client_list() -> Response:
    return page("admin/clients.html", clients=clients.list_clients(hub()),
                done=request.args.get("done", "")[:40], issued=_take_issued(request.args.get("issued", "")))


# The token is shown once, on the page the POST redirects to (post-redirect-get: a reload
# shows the list and mints nothing). It waits in the store for that one read, bound to the
# console session that minted it, so a copied URL shows nothing to anybody else.
ISSUED_KIND = "admin-issued-token"
ISSUED_TTL = 120


def _keep_issued(issued: dict[str, object]) -> str:
    handle = secrets.token_urlsafe(16)
    hub().store.put(ISSUED_KIND, handle, json.dumps({"sid": current().session.sid, **issued}).encode(),
                    ttl=ISSUED_TTL)
    return handle


def _take_issued(handle: str) -> dict[str, object] | None:
    if not handle or len(handle) > 64:
        return None
    raw = hub().store.get(ISSUED_KIND, handle)
    if raw is None:
        return None
    issued = json.loads(raw)
    if issued.pop("sid", None) != current().session.sid:
        return None
    hub().store.delete(ISSUED_KIND, handle)
    return issued


def _client_status(client_id: str, to: str) -> Response:
    # A federation client's id is its entity id, a URL (docs/federation.md).
    if not (client_id.startswith(("https://", "http://"))
            and len(client_id) <= MAX_CLIENT_ID_LENGTH
            and client_id.isprintable() and " " not in client_id):
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


@bp.post("/clients/initial-token")
@require(Permission.MANAGE_CLIENTS)
def client_initial_token() -> Response:
    """Invite a network: an RFC 7591 initial access token, shown once on the page that
    answers. "Approve in advance" makes the networks it registers active at once."""
    why = reason()
    label = " ".join(request.form.get("label", "").split())[:200]
    if looks_like_token(label):
        # The issue is audited with its label, and the audit log refuses token-like values
        # (hub/audit/detail.py): refused here, before a token exists, rather than minted
        # unaudited behind a 500.
        abort(400, "Write the label in words; it must not look like a code or a secret.")
    try:
        uses = min(max(int(request.form.get("uses", "1")), 1), 100)
        days = min(max(int(request.form.get("days", "7")), 1), 90)
    except ValueError:
        abort(400, "Give the number of uses and of days in digits.")
    approved = request.form.get("approved") == "yes"
    token = issue_initial_token(hub(), label=label, ttl=days * 86400, uses=uses, actor=current().actor,
                                approved=approved, reason=why)
    handle = _keep_issued({"token": token, "approved": approved, "uses": uses, "days": days, "label": label})
    return redirect(f"/admin/clients?issued={handle}", 303)


@bp.post("/clients/<path:client_id>/approve")  # path: an entity id (a URL) is a client id
@require(Permission.MANAGE_CLIENTS)
def client_approve(client_id: str) -> Response:
    return _client_status(client_id, "active")


@bp.post("/clients/<path:client_id>/suspend")
@require(Permission.MANAGE_CLIENTS)
def client_suspend(client_id: str) -> Response:
    return _client_status(client_id, "suspended")
