"""Config of the ``feed`` kind: an Atom or RSS feed added by URL."""

from __future__ import annotations

from dataclasses import dataclass, field

from connectors.errors import ConfigError
from connectors.http import HttpOptions


@dataclass(frozen=True, kw_only=True)
class FeedConfig:
    # Hosts a doctor's feed URL may be on: "doctors.net.uk" matches that host exactly,
    # ".doctors.net.uk" any subdomain. Empty = any public host (SSRF guard still applies).
    allowed_hosts: tuple[str, ...] = ()
    link_timeout: int = 900
    http: HttpOptions = field(default_factory=HttpOptions)

    def __post_init__(self) -> None:
        for host in self.allowed_hosts:
            bare = host.removeprefix(".")
            if not bare or "/" in bare or ":" in bare or bare != bare.lower():
                raise ConfigError("allowed_hosts: lower-case host names, optionally with a dot")
        if not 60 <= self.link_timeout <= 3600:
            raise ConfigError("link_timeout: between 60 and 3600 seconds")
