"""What every ``hub`` command shares: the settings and the hub's services, built on first
use by the composition root. The command groups of the feature packages (hub/*/cli.py)
take it with :data:`pass_ctx`; hub/cli.py assembles the groups into the ``hub`` command.
"""

from __future__ import annotations

from typing import Any

import click

from hub.composition import build_hub
from hub.ops.startup import check_instance
from hub.services import Hub
from hub.settings import Settings, SettingsError


class Context:
    def __init__(self, **overrides: Any) -> None:
        self.overrides = overrides
        self._hub: Hub | None = None

    @property
    def settings(self) -> Settings:
        """Settings with generated secrets resolved (the audit checkpoint key derives from
        the secret key)."""
        if self._hub is not None:
            return self._hub.settings.replace(secret_key=self._hub.secrets.secret_key.decode())
        try:
            settings = Settings.from_env(**self.overrides)
        except SettingsError as e:
            raise click.ClickException(str(e)) from None
        if settings.secret_key:
            return settings
        return self.hub.settings.replace(secret_key=self.hub.secrets.secret_key.decode())

    @property
    def hub(self) -> Hub:
        if self._hub is None:
            try:
                settings = Settings.from_env(**self.overrides)
            except SettingsError as e:
                raise click.ClickException(str(e)) from None
            check_instance(settings)  # one line (HubGroup), not a traceback from deep inside
            # The same services and listeners as the web app: commands that end sessions
            # (licence withdrawal) tell partner networks too.
            self._hub = build_hub(settings)
        return self._hub

    @property
    def db(self) -> Any:
        return self.hub.db


pass_ctx = click.make_pass_decorator(Context)


def current_hub() -> Hub:
    """The hub of the running command (for commands that do not take the context)."""
    ctx = click.get_current_context().find_object(Context)
    assert ctx is not None
    return ctx.hub
