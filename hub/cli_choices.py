"""A ``click.Choice`` read from a registry each time it is used, so a connector kind or a
register added to its table (hub.verification.registry, connectors.registry) is offered
and accepted without touching the command that takes it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import click


class RegistryChoice(click.Choice):  # type: ignore[type-arg]
    def __init__(self, names: Callable[[], Iterable[str]]) -> None:
        self._names = names
        super().__init__(())

    @property  # type: ignore[override]
    def choices(self) -> Sequence[Any]:
        return tuple(sorted(self._names()))

    @choices.setter
    def choices(self, _value: Sequence[Any]) -> None:
        """click.Choice's constructor assigns the list; the registry is the list."""
