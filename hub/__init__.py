"""Curbside hub: the OpenID Provider with a verified-physician claim."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.settings import Settings

if TYPE_CHECKING:
    from flask import Flask


def create_app(settings: Settings | None = None, **hub_options: object) -> Flask:
    """Build the WSGI app (hub/app.py) from the settings, or from the environment."""
    # Imported here so that ``import hub.<module>`` (the CLI, the worker, a library user)
    # does not load the whole web app and Flask with the package.
    from hub.app import build_app

    return build_app(settings or Settings.from_env(), **hub_options)
