"""The hub's services, built once per app from settings: the only wiring point."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.domain.accounts import Accounts
from hub.domain.clients import Client, ClientRegistry
from hub.domain.crypto import HubSecrets, load_secrets
from hub.domain.keys import KeyRing
from hub.domain.passwords import Passwords
from hub.domain.sessions import Sessions
from hub.domain.subjects import subject_for
from hub.domain.tokens import TokenService
from hub.outbound import Outbound
from hub.persistence.db import Database
from hub.persistence.store import Store, open_store
from hub.settings import Settings


@dataclass
class Hub:
    settings: Settings
    db: Database
    store: Store
    secrets: HubSecrets
    keys: KeyRing
    clients: ClientRegistry
    tokens: TokenService
    accounts: Accounts
    sessions: Sessions
    # Every request the hub itself makes goes out through a session from here.
    outbound: Outbound = field(default_factory=Outbound)
    extra: dict[str, Any] = field(default_factory=dict)
    # Checks other packages add without the token paths knowing them (e.g. client policies):
    # each returns a public refusal message, or None to let the request through.
    refresh_guards: list[Callable[[Hub, Any], str | None]] = field(default_factory=list)
    userinfo_guards: list[Callable[[Hub, Any], str | None]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings, *, store_prefix: str = "curbside:",
              serving: bool = False) -> Hub:
        """``serving``: for the web app, whose statements get the statement timeout."""
        if settings.insecure_transport:
            # Authlib refuses http URIs unless told this is a local demo or test.
            os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
        db = Database(settings.database_url, connect_timeout=settings.database_connect_timeout,
                      statement_timeout=settings.database_statement_timeout if serving else 0)
        store = open_store(settings.store_url, db.engine, prefix=store_prefix,
                           connect_timeout=settings.redis_connect_timeout,
                           timeout=settings.redis_timeout,
                           health_check_interval=settings.redis_health_check_interval,
                           breaker_threshold=settings.redis_breaker_threshold,
                           breaker_cooldown=settings.redis_breaker_cooldown)
        secrets = load_secrets(settings.secret_key, settings.key_encryption_keys,
                               settings.instance_path, settings.pairwise_salt)
        passwords = Passwords(time_cost=settings.argon2_time_cost,
                              memory_cost=settings.argon2_memory_cost,
                              parallelism=settings.argon2_parallelism)
        return cls(
            settings=settings,
            db=db,
            store=store,
            secrets=secrets,
            keys=KeyRing(db, secrets, retire_after=max(settings.key_retire_after,
                                                       settings.id_token_ttl)),
            clients=ClientRegistry(db, secrets, cache_ttl=settings.client_cache_ttl),
            tokens=TokenService(db, store, access_ttl=settings.access_token_ttl,
                                refresh_ttl=settings.refresh_token_ttl,
                                reuse_grace=settings.refresh_reuse_grace),
            accounts=Accounts(db, secrets, passwords, issuer_name="Curbside"),
            sessions=Sessions(store, ttl=settings.session_ttl,
                              secure=not settings.insecure_transport),
            outbound=Outbound(allow_local=settings.outbound_allow_local),
        )

    @property
    def id_tokens(self) -> Any:
        from hub.domain.id_tokens import IdTokens

        it = self.extra.get("id_tokens")
        if it is None:
            it = self.extra["id_tokens"] = IdTokens(self)
        return it

    def subject(self, doctor_id: str, client: Client) -> str:
        return subject_for(doctor_id, subject_type=client.subject_type,
                           sector=client.sector_identifier, salt=self.secrets.pairwise_salt)

    def end_doctor_sessions(self, doctor_id: str, *, reason: str, actor: str | None = None,
                            note: str | None = None, address: str | None = None) -> list[str]:
        """End a doctor's SSO sessions and revoke every grant (tokens die at once).

        Used by the doctor ("sign out everywhere"), by admins and on licence withdrawal;
        back-channel logout to partner networks hangs off the returned grant ids. ``reason``
        is a short code stored on each grant; ``note`` is an admin's free-text reason.
        """
        self.sessions.end_all_for(doctor_id)
        revoked = self.tokens.revoke_grants_of(doctor_id, reason=reason)
        self.audit_event("admin:session:revoke" if actor else "oidc:grant:revoke", actor=actor,
                         doctor_id=doctor_id, address=address, doctor=doctor_id,
                         reason=note or reason, reason_kind=None if note is None else reason,
                         grants=len(revoked))
        return revoked

    def audit_event(self, event: str, *, actor: str | None = None, doctor_id: str | None = None,
                    client_id: str | None = None, address: str | None = None,
                    audited_write: tuple[Any, Mapping[str, Any]] | None = None,
                    **detail: Any) -> None:
        """Append a security event to the hash-chained audit log (hub/audit).

        ``doctor_id`` is both the actor (unless another is named) and the erasure subject;
        ``address`` is personal data, kept outside the chain. ``audited_write`` is the
        statement the event records, committed with it (hub.audit.append's ``after``).
        """
        from hub.audit import append

        append(self.db, event, actor=actor or doctor_id, client_id=client_id, address=address,
               subject=doctor_id, after=audited_write,
               detail={k: v for k, v in detail.items() if v is not None} or None)
