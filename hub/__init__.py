"""Curbside hub: the OpenID Provider with a verified-physician claim."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from hub.settings import Settings


def create_app(settings: Settings | None = None, **hub_options: object) -> Flask:
    """Build the WSGI app: the only place things are wired together."""
    from hub.app import build_app
    from hub.settings import Settings as _Settings

    return build_app(settings or _Settings.from_env(), **hub_options)
