"""Sign-ins, failures, consent and refresh-token reuse leave verifiable audit records."""

from __future__ import annotations

import time

import requests
from sqlalchemy import select

from hub.audit import verify_chain
from hub.persistence.models.audit import AuditRecord
from tests.flows.conftest import Browser, RelyingParty, RunningHub


def _events_since(hub: RunningHub, seq: int) -> list[AuditRecord]:
    with hub.hub.db.session() as s:
        return list(s.scalars(select(AuditRecord).where(AuditRecord.seq > seq).order_by(AuditRecord.seq)))


def _last_seq(hub: RunningHub) -> int:
    with hub.hub.db.session() as s:
        return s.scalar(select(AuditRecord.seq).order_by(AuditRecord.seq.desc()).limit(1)) or 0


def test_sign_in_story_is_in_the_chain(running_hub: RunningHub, browser: Browser) -> None:
    start = _last_seq(running_hub)
    doctor = running_hub.doctor()
    rp = RelyingParty(running_hub, running_hub.client(), scope="openid offline_access")
    url, _ = rp.authorization_url()
    page = browser.get(url)
    browser.login(page, doctor.email, "a wrong password")
    token = rp.sign_in(browser, doctor.email)
    creds = (rp.creds["client_id"], rp.creds["client_secret"])
    requests.post(rp.meta["token_endpoint"], data={"grant_type": "refresh_token",
                                                   "refresh_token": token["refresh_token"]}, auth=creds, timeout=5)
    running_hub.hub.tokens.reuse_grace = 0
    try:
        time.sleep(0.05)
        requests.post(rp.meta["token_endpoint"], data={"grant_type": "refresh_token",
                                                       "refresh_token": token["refresh_token"]}, auth=creds, timeout=5)
    finally:
        running_hub.hub.tokens.reuse_grace = running_hub.hub.settings.refresh_reuse_grace
    events = [(r.event, r.actor, r.client_id) for r in _events_since(running_hub, start)]
    names = [e[0] for e in events]
    assert "auth:login:failure" in names
    assert ("auth:login:success", doctor.id, None) in events
    assert ("doctor:consent:grant", doctor.id, rp.creds["client_id"]) in events
    assert "oidc:token:reuse_detected" in names
    assert verify_chain(running_hub.hub.db).ok
    # No secret or address sits in the chained part of any record.
    for r in _events_since(running_hub, start):
        assert token["refresh_token"] not in (r.detail or "") and "127.0.0.1" not in str(r.detail)
