"""Typed settings, read from ``CURBSIDE_*`` environment variables and validated at start.

An unknown ``CURBSIDE_`` variable is an error: a typo in a security setting must not be
silently ignored.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, get_type_hints

PREFIX = "CURBSIDE_"
# Read by deploy/gunicorn.conf.py (the server's, not the app's): known, so not refused.
SERVER_SETTINGS = frozenset({"CURBSIDE_BIND", "CURBSIDE_WORKERS", "CURBSIDE_THREADS",
                             "CURBSIDE_FORWARDED_ALLOW_IPS"})


class SettingsError(ValueError):
    """A setting is missing, unknown or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    # Public identity of the hub: the OpenID Provider's issuer identifier (https in production).
    issuer: str = "http://127.0.0.1:5000"
    database_url: str = "sqlite:///instance/curbside.db"
    # "sql" keeps short-lived state in the database (embedded default); or a redis:// URL.
    store_url: str = "sql"
    # Where generated secrets live when they are not given (demo and first start).
    instance_dir: str = "instance"
    # Signs the SSO cookie and CSRF tokens; keyed-hashes client secrets. Generated if empty.
    secret_key: str = ""
    # Encrypts private signing keys at rest (Fernet/AES); comma-separated, newest first.
    key_encryption_keys: str = ""
    # The salt of every pairwise and public ``sub`` (hub/domain/subjects.py). Empty: the file
    # ``pairwise_salt`` in the instance folder, generated on the first start. Given, it must
    # equal that file if one exists (docs/operator-guide.md, "The pairwise-subject salt"):
    # another salt would change every ``sub`` the partner networks know.
    pairwise_salt: str = ""
    # Allow http issuer and non-Secure cookies: only for local demos and tests.
    insecure_transport: bool = False
    # Let the hub's own requests (sector documents, back-channel logout, partner networks,
    # live registers) reach loopback, private and link-local addresses and use plain http:
    # only for demos and tests whose partners run on this machine. Not implied by
    # insecure_transport (docs/security.md, "Outbound requests").
    outbound_allow_local: bool = False

    # Lifetimes (seconds).
    access_token_ttl: int = 600
    id_token_ttl: int = 600
    authorization_code_ttl: int = 60
    refresh_token_ttl: int = 30 * 24 * 3600
    refresh_reuse_grace: int = 10
    session_ttl: int = 12 * 3600
    login_state_ttl: int = 900
    client_cache_ttl: int = 5
    # A retired signing key stays in the JWKS this long after it stops signing.
    key_retire_after: int = 24 * 3600

    # argon2id cost; see docs/security.md for the rationale of the defaults.
    argon2_time_cost: int = 2
    argon2_memory_cost: int = 19456
    argon2_parallelism: int = 1

    # Reverse proxies in front of the hub (TLS terminators, load balancers) whose
    # X-Forwarded-For/-Proto to believe: the client address of throttling and the audit
    # log is the one the nearest trusted proxy saw. 0 believes no such header.
    trusted_proxies: int = 0

    # Sign-in throttling per window (docs/security.md, "Sign-in throttling"): attempts per
    # account from browsers without its device cookie, and before that per (account,
    # address); attempts per device cookie; failed attempts per client address (a
    # hospital's NAT is one address). A success clears the counts its attempt made.
    login_max_per_account: int = 10
    login_max_per_account_address: int = 5
    login_max_per_device: int = 10
    login_max_per_address: int = 100
    login_window: int = 900
    # A browser's device cookie (proof of a past complete sign-in) lasts this long.
    device_cookie_ttl: int = 365 * 24 * 3600

    # Identity documents uploaded for manual review: kept this long after the decision
    # (0 = deleted at once), and deleted after the max age even if never decided (seconds).
    verification_document_retention: int = 0
    verification_document_max_age: int = 90 * 24 * 3600
    # Signed audit checkpoints (docs/audit.md). The Ed25519 private key PEM: only where
    # checkpoints are written (the worker); empty derives an HMAC key from the secret key.
    audit_checkpoint_key_file: str = ""
    # Public halves (PEM or JWK files, comma-separated, newest first) that verifiers trust:
    # the web hub and `hub audit verify` need only these, never the private key.
    audit_checkpoint_public_key_file: str = ""
    # The worker signs a checkpoint this often (seconds; 0 = never, e.g. when another host
    # runs the writer). It bounds how many newest records can vanish unnoticed.
    audit_checkpoint_interval: int = 300
    # Each checkpoint the worker writes is also appended to this file as one JSON line (and
    # always logged), so a copy outlives the database: `hub audit verify --against FILE`.
    audit_checkpoint_log: str = ""
    # The worker re-checks every verified registration before its last check is older than
    # this many days (register deltas apply as they arrive as well).
    verification_recheck_days: int = 30
    # A check that found its register down, with no copy of that registration, is tried
    # again once it is this many seconds old (the worker's re-check job picks it up).
    verification_unavailable_retry: int = 900
    # The live registers' endpoints. Operators point them at a register's test environment
    # (CIBG runs one for the BIG-register webservice) before going live.
    big_endpoint: str = "https://api.bigregister.nl/zksrv/soap/4"
    nppes_api_url: str = "https://npiregistry.cms.hhs.gov/api/"

    max_param_length: int = 2048
    # OIDC Core §12.2 makes an ID token in a refresh response optional; an RS256 signature
    # would be most of a refresh's cost, so it is off unless an operator asks for it.
    id_token_on_refresh: bool = False
    feed_retention_days: int = 7  # feed items of linked networks are kept this long

    # Outages (docs/operator-guide.md, "Health and outages"): how long a request waits on an
    # unreachable Redis or PostgreSQL before it is answered 503, and the Retry-After it gets.
    redis_connect_timeout: float = 1.0
    redis_timeout: float = 1.0  # per command: every store command is sub-millisecond
    redis_health_check_interval: int = 30
    # After this many Redis commands failed in a row (refused, timed out), a process stops
    # asking Redis for the cool-down (seconds) and answers 503 at once; then one request
    # tries Redis again, and a success closes the circuit (docs/operator-guide.md).
    redis_breaker_threshold: int = 3
    redis_breaker_cooldown: float = 2.0
    database_connect_timeout: int = 3  # libpq counts whole seconds (2 at the least)
    # Per statement, served requests only (migrations and CLI jobs run without a limit);
    # 0 turns it off.
    database_statement_timeout: int = 15
    outage_retry_after: int = 5
    # Back-channel logout deliveries (docs/operator-guide.md): partners called at once per
    # worker pass, attempts before a delivery is failed, and the backoff between attempts
    # (doubling from the base, capped, plus up to 25 % jitter). The defaults keep retrying for
    # 27 to 34 hours before a delivery is failed (``hub logout retry`` queues it again).
    logout_delivery_threads: int = 4
    logout_max_attempts: int = 36
    logout_retry_base_delay: int = 10
    logout_retry_max_delay: int = 3600
    log_level: str = "INFO"
    # "text", or "json": one JSON object per line with the request id (docs/operator-guide.md).
    log_format: str = "text"
    # GET /metrics (Prometheus) is off unless one of these is set (docs/decisions.md): a
    # bearer token scrapers must send, and/or a separate host:port to serve it on instead
    # of the hub's own port.
    metrics_token: str = ""
    metrics_bind: str = ""
    # OpenID Federation 1.0 (docs/federation.md): the trust anchors whose chains the hub
    # accepts, as JSON {anchor entity id: its JWKS} (keys taken out of band, section 10.2),
    # and the superiors the hub's own entity configuration names, as a JSON list.
    federation_trust_anchors: str = ""
    federation_authority_hints: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if env is None else env
        hints = get_type_hints(cls)
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, raw in env.items():
            if not key.startswith(PREFIX) or key.startswith(PREFIX + "TEST_") or key in SERVER_SETTINGS:
                continue
            name = key[len(PREFIX) :].lower()
            if name not in known:
                raise SettingsError(f"unknown setting {key}")
            values[name] = _coerce(key, raw, hints[name])
        values.update(overrides)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if not self.issuer.startswith("https://") and not self.insecure_transport:
            raise SettingsError(
                "CURBSIDE_ISSUER must be an https URL "
                "(set CURBSIDE_INSECURE_TRANSPORT=1 only for a local demo)"
            )
        if self.issuer.endswith("/") or "?" in self.issuer or "#" in self.issuer:
            raise SettingsError("CURBSIDE_ISSUER must have no trailing slash, query or fragment")
        if self.store_url != "sql" and not self.store_url.startswith(("redis://", "rediss://")):
            raise SettingsError("CURBSIDE_STORE_URL must be 'sql' or a redis:// URL")
        for name in ("big_endpoint", "nppes_api_url"):
            # A register answer decides who is verified: plain http would let anyone on the
            # path verify anybody, so only a local demo or test may use it.
            url = getattr(self, name)
            schemes = ("https://", "http://") if self.insecure_transport else ("https://",)
            if not url.startswith(schemes) or any(c.isspace() for c in url):
                raise SettingsError(f"{PREFIX}{name.upper()} must be an https URL")
        if self.log_format not in ("text", "json"):
            raise SettingsError("CURBSIDE_LOG_FORMAT must be 'text' or 'json'")
        if self.metrics_token and len(self.metrics_token) < 32:
            raise SettingsError("CURBSIDE_METRICS_TOKEN must be at least 32 characters")
        if self.metrics_bind:
            host, sep, port = self.metrics_bind.rpartition(":")
            if not sep or not port.isdigit() or not 0 < int(port) < 65536:
                raise SettingsError("CURBSIDE_METRICS_BIND must be host:port")
        self.trust_anchors()  # malformed federation settings stop the start, naming the setting
        self.authority_hints()
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, int | float) and not isinstance(v, bool) and v < 0:
                raise SettingsError(f"{PREFIX}{f.name.upper()} must not be negative")
        if self.pairwise_salt and len(self.pairwise_salt.strip()) < 32:
            raise SettingsError("CURBSIDE_PAIRWISE_SALT must be at least 32 characters")
        if self.redis_breaker_threshold < 1:
            raise SettingsError("CURBSIDE_REDIS_BREAKER_THRESHOLD must be at least 1")
        for name in ("redis_connect_timeout", "redis_timeout", "redis_breaker_cooldown"):
            if not getattr(self, name) > 0:  # 0 would make redis-py's sockets non-blocking
                raise SettingsError(f"{PREFIX}{name.upper()} must be more than 0 seconds")

    def trust_anchors(self) -> dict[str, dict[str, Any]]:
        """CURBSIDE_FEDERATION_TRUST_ANCHORS as {entity id: JWKS}; {} when unset."""
        name = PREFIX + "FEDERATION_TRUST_ANCHORS"
        value = _json_setting(name, self.federation_trust_anchors, {})
        if not isinstance(value, dict):
            raise SettingsError(f"{name} must be a JSON object of trust anchor entity id -> JWKS")
        for anchor, jwks in value.items():
            self._check_entity_id(name, anchor)
            keys = jwks.get("keys") if isinstance(jwks, dict) else None
            if not isinstance(keys, list) or not keys or not all(
                    isinstance(k, dict) and isinstance(k.get("kty"), str) for k in keys):
                raise SettingsError(f"{name}: the JWKS of {anchor} must be {{\"keys\": [JWK, ...]}}")
        return value

    def authority_hints(self) -> list[str]:
        """CURBSIDE_FEDERATION_AUTHORITY_HINTS as a list of entity ids; [] when unset."""
        name = PREFIX + "FEDERATION_AUTHORITY_HINTS"
        value = _json_setting(name, self.federation_authority_hints, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SettingsError(f"{name} must be a JSON list of entity ids")
        for hint in value:
            self._check_entity_id(name, hint)
        return value

    def _check_entity_id(self, name: str, value: str) -> None:
        # OpenID Federation 1.0 section 1.2: an entity identifier is an https URL with a
        # host and no query or fragment (http only for a local demo or test).
        schemes = ("https://", "http://") if self.insecure_transport else ("https://",)
        if (not value.startswith(schemes) or "?" in value or "#" in value
                or any(c.isspace() for c in value) or len(value) > 2000):
            raise SettingsError(f"{name}: {value[:80]!r} is not an https entity identifier")

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def instance_path(self) -> Path:
        return Path(self.instance_dir)


def _json_setting(name: str, raw: str, empty: Any) -> Any:
    if not raw.strip():
        return empty
    try:
        return json.loads(raw)
    except ValueError as e:
        raise SettingsError(f"{name} is not valid JSON ({e.msg} at character {e.pos})") from None


def _coerce(key: str, raw: str, typ: Any) -> Any:
    if typ is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off", ""):
            return False
        raise SettingsError(f"{key} must be true or false")
    if typ is int:
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{key} must be an integer") from None
    if typ is float:
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{key} must be a number") from None
        if not math.isfinite(value):
            raise SettingsError(f"{key} must be a finite number")
        return value
    return raw
