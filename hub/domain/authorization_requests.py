"""Authorization requests waiting for the doctor: saved in the Store while the login or
consent page is open, resumed by the form's ``pending`` id (kind ``authz``, TTL
``login_state_ttl``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.domain.sessions import SSOSession

AUTHZ_KIND = "authz"
MAX_PENDING_ID = 64


@dataclass
class Pending:
    """An authorization request waiting for the doctor (saved in the Store)."""

    id: str
    params: dict[str, str]
    browser: str  # a hash binding the request to the browser that started it
    doctor_id: str | None = None  # set after the password step when a second factor is due
    started: int = 0  # when the doctor was first shown a page for it (whole seconds)
    first_factor: str = "pwd"  # the RFC 8176 method that set doctor_id: "fed" after a brokered sign-in

    def signed_in_since(self, sso: SSOSession) -> bool:
        """Whether ``sso`` began after this request did: a login it asked for (prompt=login,
        max_age) has happened, and consent must not ask for another."""
        return bool(self.started) and sso.auth_time >= self.started

    def dump(self) -> bytes:
        return json.dumps(self.__dict__).encode()

    @classmethod
    def load(cls, raw: bytes) -> Pending:
        return cls(**json.loads(raw))


def pending_keys(pending_id: str) -> list[tuple[str, str]]:
    """The Store read of a pending request; none for an id no request could have."""
    return [(AUTHZ_KIND, pending_id)] if pending_id and len(pending_id) <= MAX_PENDING_ID else []
