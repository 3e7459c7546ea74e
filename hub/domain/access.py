"""The access policy the protocol code asks, without knowing who answers.

``hub/relying/enforce.py`` answers with each partner network's policy (``policies/``); the
composition root builds it, and the token, userinfo and authorization code receive it as
``hub.access``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from policies import Decision


class AccessPolicy(Protocol):
    def at_authorize(self, client: Any, sso: Any, params: Mapping[str, str],
                     wanted: set[str]) -> Decision | None:
        """The decision for this sign-in, or None when the client has no policy."""

    def can_step_up(self, sso: Any, decision: Decision) -> bool:
        """Whether signing in again (with the second factor) can turn the refusal around."""

    def consent_scope(self, client_id: str, wanted: set[str]) -> tuple[set[str], str | None]:
        """The claims a consent covers and the policy version it was given under."""

    def refuse_refresh(self, grant: Any) -> str | None:
        """A public refusal (invalid_grant, RFC 6749 §5.2) for a refresh, or None to allow."""

    def refuse_userinfo(self, token: Any) -> str | None:
        """A public refusal (invalid_token, RFC 6750 §3.1) for userinfo, or None to allow."""

