"""The composition root: builds every service of the hub once, from settings, and wires the
listeners of domain events. The web app (hub/app.py), the ``hub`` command and the worker
all start here, so each runs with the same services and the same listeners.

Nothing else builds a service, and nothing imported below imports this module: services
receive what they need, through ``hub.services.Hub``'s typed attributes.
"""

from __future__ import annotations

import os
from typing import Any

from hub.audit.trail import AuditTrail
from hub.domain.accounts import Accounts
from hub.domain.clients import ClientRegistry
from hub.domain.crypto import load_secrets
from hub.domain.events import DoctorSessionsEnded, Events
from hub.domain.federation import Federation
from hub.domain.federation import discovery_metadata as federation_metadata
from hub.domain.id_tokens import IdTokens
from hub.domain.keys import KeyRing
from hub.domain.passkeys import Passkeys
from hub.domain.passwords import Passwords
from hub.domain.sessions import Sessions
from hub.domain.tokens import TokenService
from hub.links.service import Links
from hub.ops.health import Readiness
from hub.outbound import Outbound
from hub.persistence.db import Database
from hub.persistence.store import open_store
from hub.protocol.discovery import provider_metadata
from hub.protocol.par import discovery_metadata as par_metadata
from hub.relying import backchannel
from hub.relying import discovery_metadata as relying_metadata
from hub.relying.enforce import ClientPolicies
from hub.relying.policy import PolicyStore
from hub.services import Hub
from hub.settings import Settings
from hub.verification.registry import make_verifiers, register_session
from hub.worker import Queue


def discovery_metadata(issuer: str, *, federation: bool = False) -> dict[str, Any]:
    """OIDC Discovery 1.0 §3 / RFC 8414 §2: the provider's own metadata plus what each
    feature package declares (relying parties' registration and back-channel logout, pushed
    authorization requests; with trust anchors configured, what federation members use)."""
    declared: dict[str, Any] = {}
    for contribution in (relying_metadata, par_metadata):
        declared.update(contribution(issuer))
    meta = provider_metadata(issuer, declared)
    if federation:
        meta.update(federation_metadata(issuer, meta))
    return meta


def build_hub(settings: Settings, *, store_prefix: str = "curbside:", serving: bool = False) -> Hub:
    """Every service once. ``serving``: for the web app, whose statements get the statement
    timeout; ``store_prefix`` keeps tests and benchmarks apart in a shared Redis."""
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
    keys = KeyRing(db, secrets, retire_after=max(settings.key_retire_after, settings.id_token_ttl))
    clients = ClientRegistry(db, secrets, cache_ttl=settings.client_cache_ttl)
    accounts = Accounts(db, secrets, passwords, issuer_name="Curbside")
    outbound = Outbound(allow_local=settings.outbound_allow_local)
    audit = AuditTrail(db)
    policies = PolicyStore(db, clients, audit, cache_ttl=settings.client_cache_ttl)
    passkeys = Passkeys(db, store, issuer=settings.issuer)
    hub = Hub(
        settings=settings,
        db=db,
        store=store,
        secrets=secrets,
        keys=keys,
        clients=clients,
        tokens=TokenService(db, store, access_ttl=settings.access_token_ttl,
                            refresh_ttl=settings.refresh_token_ttl,
                            reuse_grace=settings.refresh_reuse_grace),
        accounts=accounts,
        sessions=Sessions(store, ttl=settings.session_ttl, secure=not settings.insecure_transport),
        outbound=outbound,
        events=Events(),
        audit=audit,
        id_tokens=IdTokens(issuer=settings.issuer, ttl=settings.id_token_ttl, keys=keys,
                           accounts=accounts, db=db, pairwise_salt=secrets.pairwise_salt),
        policies=policies,
        access=ClientPolicies(policies, accounts, db, audit, passkeys),
        verifiers=make_verifiers(db, http=register_session(outbound), settings=settings),
        discovery_metadata=discovery_metadata(settings.issuer,
                                              federation=bool(settings.trust_anchors())),
        readiness=Readiness(db, store, keys),
        federation=Federation(db=db, secrets=secrets, clients=clients,
                              session_factory=outbound.session, issuer=settings.issuer,
                              trust_anchors=settings.trust_anchors(),
                              authority_hints=settings.authority_hints(),
                              allow_http_loopback=settings.insecure_transport),
        passkeys=passkeys,
    )
    # A client id that is a federation entity id is admitted by its trust chain, which
    # expires: the registry asks the federation on a cache miss (hub/domain/federation.py).
    clients.admission = hub.federation.current
    hub.queue = Queue(None, hub, store_url=settings.store_url,
                      instance_path=settings.instance_path)
    hub.links = Links(db=db, store=store, secrets=secrets, outbound=outbound,
                      audit_event=audit.event, queue=hub.queue,
                      login_state_ttl=settings.login_state_ttl,
                      feed_retention_days=settings.feed_retention_days,
                      cache_ttl=settings.client_cache_ttl)
    _subscribe(hub)
    return hub


def _subscribe(hub: Hub) -> None:
    """The listeners of domain events, in the order they run: the audit record of the
    ending first, then the partner networks' logouts (which audit their own queueing)."""
    hub.events.subscribe(DoctorSessionsEnded, hub.audit.sessions_ended)
    hub.events.subscribe(DoctorSessionsEnded,
                         lambda ended: backchannel.doctor_sessions_ended(hub, ended))
