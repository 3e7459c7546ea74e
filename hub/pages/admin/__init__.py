"""The admin console (/admin): admin accounts with TOTP and roles, doctors, relying parties,
the review queue, the audit log and a dashboard. See docs/admin-guide.md."""

from __future__ import annotations

from typing import Any

from flask import Flask

from hub.admin import links, search
from hub.admin.accounts import AdminAccounts
from hub.admin.sessions import AdminSessions
from hub.pages.admin import (  # noqa: F401 (the modules register their routes on bp)
    audit,
    auth,
    doctors,
    manage,
    reviews,
)
from hub.pages.admin.console import Console, bp


def init_app(app: Flask, hub: Any) -> None:
    """Register the console on the app; ``hub`` is the app's hub.services.Hub."""
    if links.subject_lookup not in search.SUBJECT_LOOKUPS:  # one registration per process
        search.register_subject_lookup(links.subject_lookup)
    app.extensions["curbside.admin"] = Console(
        accounts=AdminAccounts(hub.db, hub.secrets, hub.accounts.passwords),
        sessions=AdminSessions(hub.store, secure=not hub.settings.insecure_transport),
    )
    app.register_blueprint(bp)
