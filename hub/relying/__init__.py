"""Partner networks as relying parties: per-client policy, back-channel logout, DCR, portal.

``init_app`` is the one wiring point (called from ``hub.app.build_app``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.audit.events import register_event

if TYPE_CHECKING:
    from flask import Flask

    from hub.services import Hub

for _event in ("oidc:access:refused", "oidc:logout:queued", "oidc:logout:delivered",
               "oidc:logout:retry", "oidc:logout:given_up",
               "client:initial_token:issue"):
    register_event(_event)


def init_app(app: Flask, hub: Hub) -> None:
    from hub.pages import operators as portal
    from hub.relying import backchannel, enforce

    enforce.install(app, hub)
    backchannel.wrap_end_doctor_sessions(hub)
    app.register_blueprint(portal.bp)
    _advertise(hub, {
        "registration_endpoint": f"{hub.settings.issuer}/register",  # RFC 8414 §2
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
    })


def _advertise(hub: Hub, extra: dict[str, Any]) -> None:
    """Discovery reads hub.extra["metadata_extra"] (OIDC Discovery 1.0 §3)."""
    hub.extra.setdefault("metadata_extra", {}).update(extra)
    hub.extra.pop("metadata", None)
