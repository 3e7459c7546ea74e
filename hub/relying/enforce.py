"""Where the hub enforces client policies: /authorize, consent, /token (refresh) and /userinfo.

At authorize time a refusal is a page that says why in plain words and what to do next;
at token and userinfo time the policy is judged again with today's facts, so a licence
withdrawn since the sign-in stops the refresh (invalid_grant, RFC 6749 §5.2) and the
userinfo answer (invalid_token, RFC 6750 §3.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Response

from hub.audit.trail import AuditTrail
from hub.domain.accounts import Accounts
from hub.domain.passkeys import Passkeys
from hub.i18n import lazy_gettext as _
from hub.persistence.db import Database
from hub.persistence.models.grants import Grant
from hub.relying.policy import PolicyStore, decide_for
from policies import Decision, Reason, Remedy

if TYPE_CHECKING:
    from hub.domain.sessions import SSOSession
    from hub.pages.rendering import Pages

# Where the refusal page sends the doctor for each remedy (label, link).
REMEDY_LINKS: dict[str, tuple[Any, str]] = {
    Remedy.START_VERIFICATION: (_("Start verification"), "/account/verification"),
    Remedy.RENEW_VERIFICATION: (_("Renew your verification"), "/account/verification"),
    Remedy.DECLARE_PROFESSION: (_("State your profession"), "/account/verification"),
    Remedy.ENABLE_MFA: (_("Set up a second sign-in factor"), "/account/mfa"),
    Remedy.ADD_PASSKEY: (_("Add a passkey"), "/account/passkeys"),
    Remedy.VERIFY_EMAIL: (_("Confirm your email address"), "/account"),
}
AREA_PARAM = "area"  # optional authorization request parameter naming a policy area
REFUSED_NOW = "The network's access policy no longer admits this doctor."


def refused_page(pages: Pages, client: Any, decision: Decision) -> Response:
    action = REMEDY_LINKS.get(decision.remedy) if decision.remedy else None
    resp = pages.html("refused.html", 403, client_name=client.name,
                      message=decision.message or _("This network's rules do not admit you yet."),
                      action=action, reasons=[str(r) for r in decision.reasons])
    resp.headers["Cache-Control"] = "no-store"
    return resp


class ClientPolicies:
    """The access policy (hub/domain/access.py) of partner networks with a policy document;
    a client without one is admitted as before, at the cost of one cached lookup."""

    def __init__(self, policies: PolicyStore, accounts: Accounts, db: Database,
                 audit: AuditTrail, passkeys: Passkeys | None = None) -> None:
        self.passkeys = passkeys
        self.policies = policies
        self.accounts = accounts
        self.db = db
        self.audit = audit

    def decide(self, client_id: str, doctor_id: str, *, acr: str | None,
               amr: list[str] | tuple[str, ...], claims: set[str] | frozenset[str],
               area: str | None = None, acr_values: tuple[str, ...] = ()) -> Any:
        return decide_for(self.policies, self.accounts, client_id, doctor_id, acr=acr, amr=amr,
                          claims=claims, area=area, acr_values=acr_values)

    # -- authorize time ---------------------------------------------------------------------
    def at_authorize(self, client: Any, sso: SSOSession, params: Mapping[str, str],
                     wanted: set[str]) -> Decision | None:
        found = self.decide(client.client_id, sso.doctor_id, acr=sso.acr, amr=sso.amr,
                            claims=wanted, area=params.get(AREA_PARAM) or None,
                            acr_values=tuple(params.get("acr_values", "").split()))
        if found is None:
            return None
        stored, decision = found
        if not decision.allowed:
            self.audit.event("oidc:access:refused", doctor_id=sso.doctor_id,
                             client_id=client.client_id,
                             reasons=[str(r) for r in decision.reasons], policy_version=stored.version)
        return decision  # type: ignore[no-any-return]

    def can_step_up(self, sso: SSOSession, decision: Decision) -> bool:
        """Only a missing second factor or passkey that the doctor has enrolled: sign in
        again with it."""
        if decision.reasons == (Reason.PASSKEY_REQUIRED,):
            return self.passkeys is not None and self.passkeys.count_for(sso.doctor_id) > 0
        if decision.reasons != (Reason.MFA_REQUIRED,):
            return False
        doctor = self.accounts.get(sso.doctor_id)
        return bool(doctor and doctor.mfa_enabled)

    def consent_scope(self, client_id: str, wanted: set[str]) -> tuple[set[str], str | None]:
        """Claims a consent receipt covers and the policy version it was given under: with a
        policy, what was requested plus the essential claims, within what the policy allows."""
        stored = self.policies.current(client_id)
        if stored is None:
            return wanted, None
        p = stored.policy
        covered = (set(wanted) | set(p.essential_claims)) & set(p.allowed_claims)
        return covered - {"sub"}, str(stored.version)

    # -- token and userinfo time --------------------------------------------------------------
    def _denied_now(self, client_id: str, doctor_id: str, acr: str | None, amr: list[str],
                    claims: set[str], *, at: str) -> bool:
        found = self.decide(client_id, doctor_id, acr=acr, amr=amr, claims=claims)
        if found is None or found[1].allowed:
            return False
        self.audit.event("oidc:access:refused", doctor_id=doctor_id, client_id=client_id,
                         reasons=[str(r) for r in found[1].reasons], policy_version=found[0].version,
                         at=at)
        return True

    def refuse_refresh(self, view: Any) -> str | None:
        """Refuse a refresh (invalid_grant) when the client's policy now denies the doctor.

        Runs inside the refresh grant after the token is found, so a client without a policy
        costs one cached lookup and no extra query."""
        g = view.grant
        if self.policies.current(g.client_id) is None:
            return None
        released = set((g.claims or {}).get("released") or ())
        if self._denied_now(g.client_id, g.doctor_id, g.acr, list(g.amr or []), released,
                            at="/token"):
            return REFUSED_NOW
        return None

    def refuse_userinfo(self, token: Any) -> str | None:
        """Refuse userinfo (invalid_token) when the client's policy now denies the doctor."""
        if token.doctor_id is None or token.grant_id is None:
            return None
        if self.policies.current(token.client_id) is None:
            return None  # no policy: no extra reads on the common path
        with self.db.session() as s:
            g = s.get(Grant, token.grant_id)
            acr, amr = (g.acr, list(g.amr or [])) if g is not None else (None, [])
        released = set((token.claims or {}).get("released") or ())
        if self._denied_now(token.client_id, token.doctor_id, acr, amr, released, at="/userinfo"):
            return REFUSED_NOW
        return None
