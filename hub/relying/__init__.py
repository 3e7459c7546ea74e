"""Partner networks as relying parties: per-client policy, back-channel logout, DCR, portal.

The composition root (hub/composition.py) builds the policy store and the access policy
and subscribes back-channel logout to the end of a doctor's sessions; hub/app.py mounts the
registration endpoint and the operators' portal; discovery carries
:func:`discovery_metadata`.
"""

from __future__ import annotations

from typing import Any

from hub.audit.events import register_event

for _event in ("oidc:access:refused", "oidc:logout:queued", "oidc:logout:delivered",
               "oidc:logout:retry", "oidc:logout:given_up",
               "client:initial_token:issue"):
    register_event(_event)


def discovery_metadata(issuer: str) -> dict[str, Any]:
    """What this package adds to the provider metadata (OIDC Discovery 1.0 §3)."""
    return {
        "registration_endpoint": f"{issuer}/register",  # RFC 8414 §2
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
    }
