"""The doctor's verification page (/account/verification): check a registration against
its register, upload a document for manual review, vouch for a colleague, and state a
profession on one's honour.

The register is asked while the doctor waits: live lookups have a 4 s deadline and fall
back to the mirror (hub.verification.resilience), so the page always answers. Sign-in
never waits for a register; it only reads stored results.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, make_response, redirect, render_template, request
from sqlalchemy import delete, select
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response as BaseResponse

from hub.domain.sessions import SSOSession
from hub.i18n import gettext as _
from hub.i18n import lazy_gettext as _l
from hub.i18n import ngettext
from hub.pages.account import _check_csrf, csrf_token, doctor_view, error_page
from hub.pages.own_sign_in import shows_own_authentication
from hub.persistence.db import utcnow
from hub.persistence.models.registers import DoctorRegistration, SelfDeclaredProfession
from hub.verification import documents, events, records, registry, vouches
from hub.verification.base import RegisterResult, RegistrationClaim, ResultStatus
from hub.verification.documents import DocumentPolicy, UploadRefused
from hub.verification.registry import REGISTERS, country_labels, register_for_country
from hub.verification.vocabulary import PROFESSION_PHYSICIAN

bp = Blueprint("verification", __name__)

PROFESSIONS = {PROFESSION_PHYSICIAN: _l("Physician (medical doctor)")}
_NUMBER = re.compile(r"^[0-9A-Za-z][0-9A-Za-z .\-]{0,31}$")
_STATE = re.compile(r"^[A-Za-z]{2}$")
# Letters of any script, spaces and a little punctuation; no markup reaches partner networks.
_PROFESSION_TEXT = re.compile(r"^[^\W\d_][\w .,'()/&+-]{0,79}$")
_EMAIL = re.compile(r"^[^@\s<>]{1,64}@[^@\s<>]{1,190}$")
CHECKS_PER_HOUR = 10  # a register is not an oracle for guessing colleagues' names
VOUCHES_PER_DAY = 20
UPLOAD_OVERHEAD = 64 * 1024  # multipart framing and the form's other fields
PLAIN_STATUS = {
    "match": _l("Verified"),
    "needs_review": _l("Waiting for manual review"),
    "restricted": _l("Waiting for manual review"),
    "no_match": _l("Not found in the register"),
    "name_mismatch": _l("Name does not match"),
    "inactive": _l("Not active in the register"),
    "unavailable": _l("Register could not be reached: Curbside will ask again"),
    "rejected": _l("Not accepted after review"),
}
# The page's words for the registers' countries and the kinds of document
# (hub/verification/registry.py and documents.py keep the English ones).
COUNTRY_LABELS = {
    "NL": _l("Netherlands (BIG-register)"),
    "GB": _l("United Kingdom (GMC)"),
    "US": _l("United States (NPPES NPI Registry)"),
    "DK": _l("Denmark (Autorisationsregisteret)"),
}
DOCUMENT_KINDS = {
    "licence": _l("Your licence or registration certificate"),
    "badge": _l("Your hospital or practice badge"),
    "id_document": _l("An identity document (passport, identity card, driving licence)"),
}
# The registers' names for their numbers (hub/verification/*.py ``number_label``).
NUMBER_LABELS = {
    "BIG number": _l("BIG number"),
    "GMC reference number": _l("GMC reference number"),
    "registration number": _l("registration number"),
}
# The document store's refusals (hub/verification/documents.py), translated by their text.
UPLOAD_MESSAGES = (
    _l("Choose what kind of document this is."),
    _l("The file is empty."),
    _l("Only PDF, PNG and JPEG files can be uploaded."),
)


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str  # verified | review | not_found | problem
    title: str
    detail: str


def _hub() -> Any:
    return current_app.extensions["curbside"]


def _field(name: str, limit: int = 256) -> str:
    return request.form.get(name, "")[:limit].strip()


def _public_reason(reason: str) -> str:
    """The check's reason without the technical note on a fallback to the mirror."""
    return reason.split(" (register unavailable")[0].strip()


def _retry_words(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    if minutes < 90:
        return ngettext("%(num)s minute", "%(num)s minutes", minutes)
    hours = round(minutes / 60)
    return ngettext("%(num)s hour", "%(num)s hours", hours)


def outcome_of(result: RegisterResult, number: str, *, retry_after: int = 900) -> Outcome:
    """The result in plain words for the doctor. ``retry_after``: seconds until the
    worker asks an unreachable register again (CURBSIDE_VERIFICATION_UNAVAILABLE_RETRY)."""
    source = REGISTERS[result.register].source_name if result.register in REGISTERS else "register"
    reason = _public_reason(result.reason)
    unreachable = "register unavailable" in result.reason  # answered from the mirror instead
    copy = " (checked against Curbside's copy of the register)" if (
        result.evidence is not None and result.evidence.method == "mirror") else ""
    # The reason is the checker's own (English) words; the rest is the doctor's language.
    said = {"source": source, "number": number, "reason": reason}
    match result.status:
        case ResultStatus.MATCH:
            return Outcome("verified", _("Verified"), (
                _("The %(source)s confirms registration %(number)s as a physician's, in your name "
                  "(checked against Curbside's copy of the register). Partner networks you allow can "
                  "now see that you are a licensed physician.", **said) if copy else
                _("The %(source)s confirms registration %(number)s as a physician's, in your name. "
                  "Partner networks you allow can now see that you are a licensed physician.", **said)))
        case ResultStatus.NEEDS_REVIEW | ResultStatus.RESTRICTED:
            return Outcome("review", _("Sent to manual review"),
                           _("The %(source)s has registration %(number)s, but a person must look at it: "
                             "%(reason)s. A Curbside verifier will decide; uploading your licence or "
                             "hospital badge below helps.", **said))
        case ResultStatus.NO_MATCH if unreachable:
            return Outcome("not_found", _("Not found in Curbside's copy of the register"),
                           _("The %(source)s did not answer in time, and Curbside's copy of it has no "
                             "physician's registration with number %(number)s. If you registered "
                             "recently, please try again later.", **said))
        case ResultStatus.NO_MATCH:
            return Outcome("not_found", _("Not found"),
                           _("The %(source)s has no physician's registration with number %(number)s. "
                             "Check the number and the country.", **said))
        case ResultStatus.NAME_MISMATCH:
            return Outcome("problem", _("The name does not match"),
                           _("The name in the %(source)s for %(number)s is not the name on your Curbside "
                             "account. Check that your account name is the one you are registered under, "
                             "or upload a document for manual review.", **said))
        case ResultStatus.INACTIVE:
            return Outcome("problem", _("Not active"),
                           _("The %(source)s says registration %(number)s is not active: %(reason)s.",
                             **said))
        case _:
            # Not a "no": the register was not asked successfully, and the worker's
            # re-check (jobs.recheck_due) asks it again.
            return Outcome("pending", _("The register could not be reached — Curbside will try again"),
                           _("The %(source)s did not answer, and Curbside has no copy of registration "
                             "%(number)s. This is not a refusal: Curbside will ask the register again "
                             "automatically (not before about %(wait)s from now), and this page will "
                             "show the result. You do not need to do anything.",
                             wait=_retry_words(retry_after), **said))


def _page(sso: SSOSession, cookie: str, *, status: int = 200, outcome: Outcome | None = None,
          error: str | None = None, section: str = "", form: dict[str, str] | None = None) -> Response:
    hub = _hub()
    doctor = hub.accounts.get(sso.doctor_id)
    with hub.db.session() as s:
        regs = list(s.execute(select(DoctorRegistration).where(
            DoctorRegistration.doctor_id == sso.doctor_id).order_by(DoctorRegistration.id)).scalars())
        uploads = documents.of_doctor(s, sso.doctor_id)
        jurisdictions = vouches.verified_jurisdictions(s, sso.doctor_id)
        received = vouches.vouches_for(s, sso.doctor_id)
        declared = s.get(SelfDeclaredProfession, sso.doctor_id)
        html = render_template(
            "verification.html", doctor=doctor, registrations=regs, uploads=uploads,
            jurisdictions=jurisdictions, vouches_received=received,
            declared=declared.profession if declared else "", csrf=csrf_token(cookie),
            countries={code: COUNTRY_LABELS.get(code, label) for code, label in country_labels().items()},
            professions=PROFESSIONS, kinds={k: DOCUMENT_KINDS.get(k, v) for k, v in documents.KINDS.items()},
            registers=REGISTERS, plain=PLAIN_STATUS, public_reason=_public_reason,
            outcome=outcome, error=error, section=section, form=form or {},
            max_mb=DocumentPolicy().max_bytes // (1024 * 1024))
    resp = make_response(html, status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/account/verification")
@doctor_view(form=False)
def page(cookie: str, sso: SSOSession) -> Response:
    return _page(sso, cookie)


@bp.post("/account/verification")
@doctor_view(form=True)
def check(cookie: str, sso: SSOSession) -> Response:
    hub = _hub()
    form = {"country": _field("country", 8).upper(), "number": _field("number", 64),
            "profession": _field("profession", 40), "state": _field("state", 8).upper()}

    def refuse(message: str, status: int = 400) -> Response:
        return _page(sso, cookie, status=status, error=message, section="check", form=form)

    country = "GB" if form["country"] == "UK" else form["country"]
    register = register_for_country(country)
    if register is None:
        return refuse(_("Choose a country from the list of registers Curbside checks."))
    if form["profession"] not in PROFESSIONS:
        return refuse(_("Curbside verifies physicians' registrations only, for now."))
    verifiers = registry.for_hub(hub)
    verifier = verifiers[register]
    label = getattr(verifier, "number_label", "registration number")
    normalize = getattr(verifier, "normalize", None)
    number = normalize(form["number"]) if normalize and _NUMBER.match(form["number"]) else None
    if number is None:
        return refuse(_("That is not a valid %(label)s for the %(register)s.",
                        label=NUMBER_LABELS.get(label, label), register=REGISTERS[register].source_name))
    state = form["state"] if country == "US" else ""
    if state and not _STATE.match(state):
        return refuse(_("Enter the two-letter code of the US state that licensed you, or leave it empty."))
    doctor = hub.accounts.get(sso.doctor_id)
    if doctor is None or not doctor.given_name.strip() or not doctor.family_name.strip():
        return refuse(_("Your account needs your given and family name before a register can be checked."))
    if hub.store.incr("verify-check", sso.doctor_id, ttl=3600) > CHECKS_PER_HOUR:
        return refuse(_("You have checked many registrations in the last hour. Please try again later."), 429)
    with hub.db.session() as s:
        taken = s.execute(select(DoctorRegistration.id).where(
            DoctorRegistration.register == register, DoctorRegistration.number == number,
            DoctorRegistration.status == "match", DoctorRegistration.doctor_id != sso.doctor_id)).first()
    if taken is not None:
        # One registration, one person: a second account claiming it is either a duplicate
        # or an impostor, and a person has to find out which.
        return refuse(_("This registration is already verified for another Curbside account. If it is "
                        "yours, upload your licence below and a verifier will sort it out."), 409)
    claim = RegistrationClaim(country, number, form["profession"], doctor.given_name.strip(),
                              doctor.family_name.strip(), register=register, jurisdiction=state or None)
    result = records.verify(hub.db, verifiers, sso.doctor_id, claim)
    event = {ResultStatus.MATCH: events.VERIFIED, ResultStatus.NEEDS_REVIEW: events.QUEUED,
             ResultStatus.RESTRICTED: events.QUEUED}.get(result.status, events.FAILED)
    hub.audit_event(event, doctor_id=sso.doctor_id, register=register, status=result.status.value,
                    method=result.evidence.method if result.evidence else None)
    return _page(sso, cookie, section="check", outcome=outcome_of(
        result, number, retry_after=hub.settings.verification_unavailable_retry))


@bp.post("/account/verification/documents")
@doctor_view(form=False)
def upload(cookie: str, sso: SSOSession) -> Response:
    hub = _hub()
    policy = DocumentPolicy.from_settings(hub.settings)
    # Only this route takes files: raise the app's 64 KiB body limit here, and only as far
    # as one allowed file needs (Flask 3.1 per-request limit; larger bodies get 413 unread).
    request.max_content_length = policy.max_bytes + UPLOAD_OVERHEAD
    too_big = _("The file is larger than %(max_mb)s MB.", max_mb=policy.max_bytes // (1024 * 1024))
    try:
        _check_csrf(cookie)
        file = request.files.get("file")
        kind = _field("kind", 20)
        reg_raw = _field("registration", 12)
    except RequestEntityTooLarge:
        return _page(sso, cookie, status=413, error=too_big, section="upload")
    if file is None or not file.filename:
        return _page(sso, cookie, status=400, error=_("Choose a file to upload."), section="upload")
    data = file.stream.read(policy.max_bytes + 1)
    registration_id = int(reg_raw) if reg_raw.isdigit() else None
    try:
        with hub.db.session() as s:
            doc = documents.store(s, hub.secrets, sso.doctor_id, kind, data,
                                  registration_id=registration_id, policy=policy)
            doc_id, content_type, size = doc.id, doc.content_type, doc.size
    except UploadRefused as e:
        status = 413 if len(data) > policy.max_bytes else 400
        return _page(sso, cookie, status=status, error=too_big if status == 413 else _(str(e)),
                     section="upload")
    hub.audit_event(events.DOCUMENT_UPLOAD, doctor_id=sso.doctor_id, upload=doc_id, kind=kind,
                    size=size, content_type=content_type)
    return _page(sso, cookie, section="upload", outcome=Outcome(
        "review", _("Document received"),
        _("It is stored encrypted and only Curbside verifiers can open it. It is deleted once they "
          "have decided.")))


@bp.post("/account/verification/documents/<int:document_id>/delete")
@doctor_view(form=True)
def delete_upload(cookie: str, sso: SSOSession, document_id: int) -> BaseResponse:
    hub = _hub()
    with hub.db.session() as s:
        removed = documents.withdraw(s, sso.doctor_id, document_id)
    if removed:
        hub.audit_event(events.DOCUMENT_DELETE, doctor_id=sso.doctor_id, upload=document_id,
                        reason="doctor")
    return redirect("/account/verification", 303)


@bp.post("/account/verification/vouch")
@doctor_view(form=True)
def vouch(cookie: str, sso: SSOSession) -> Response:
    hub = _hub()
    if not shows_own_authentication(sso, hub.accounts.get(sso.doctor_id)):
        # A vouch is a verification act in the doctor's name: it becomes identity evidence
        # for a colleague (OIDC4IDA evidence type "vouch"). A session from a linked network's
        # sign-in proves only that account, whoever holds it; a session without the second
        # factor the doctor enrolled proves less than her account demands.
        return error_page(_("Sign in with your password to vouch"),
                          _("Vouching for a colleague speaks for you to every partner network, "
                            "so it needs your own Curbside password (and your code, if you set "
                            "one up). Sign out and sign in with them, then vouch."), 403)
    email = _field("email", 254).lower()
    form = {"email": email}
    with hub.db.session() as s:
        mine = vouches.verified_jurisdictions(s, sso.doctor_id)
    jurisdiction = _field("jurisdiction", 4).upper() or (mine[0] if len(mine) == 1 else "")

    def refuse(message: str, status: int = 400) -> Response:
        return _page(sso, cookie, status=status, error=message, section="vouch", form=form)

    if not mine:
        return refuse(_("Only doctors whose own registration is verified can vouch for a colleague."), 403)
    if jurisdiction not in mine:
        return refuse(_("Choose the country where you and your colleague practise."))
    if not _EMAIL.match(email):
        return refuse(_("Enter your colleague's email address."))
    if hub.store.incr("vouch", sso.doctor_id, ttl=86400) > VOUCHES_PER_DAY:
        return refuse(_("You have vouched for many colleagues today. Please try again tomorrow."), 429)
    colleague = hub.accounts.by_email(email)
    if colleague is not None and colleague.id == sso.doctor_id:
        return refuse(_("You cannot vouch for yourself."))
    # Same answer whether or not the address has an account (no account discovery).
    thanks = Outcome("verified", _("Thank you"),
                     _("If a Curbside account uses that address, your vouch is recorded. When two verified "
                       "colleagues from the same country have vouched, partner networks see it."))
    if colleague is None:
        return _page(sso, cookie, outcome=thanks, section="vouch")
    try:
        with hub.db.session() as s:
            result = vouches.vouch(s, sso.doctor_id, colleague.id, jurisdiction)
    except vouches.VouchRefused:
        return _page(sso, cookie, outcome=thanks, section="vouch")
    hub.audit_event(events.VOUCH, actor=sso.doctor_id, doctor_id=colleague.id, doctor=colleague.id,
                    jurisdiction=jurisdiction,
                    vouches=result.vouches, evidence_added=result.evidence_added)
    return _page(sso, cookie, outcome=thanks, section="vouch")


@bp.post("/account/verification/profession")
@doctor_view(form=True)
def declare_profession(cookie: str, sso: SSOSession) -> BaseResponse:
    hub = _hub()
    text = " ".join(_field("profession", 200).split())
    if text and not _PROFESSION_TEXT.match(text):
        return _page(sso, cookie, status=400, section="profession", form={"declared": text},
                     error=_("Write your profession in words (letters, spaces and simple punctuation, "
                             "up to 80 characters)."))
    with hub.db.session() as s:
        s.execute(delete(SelfDeclaredProfession).where(SelfDeclaredProfession.doctor_id == sso.doctor_id))
        if text:
            s.add(SelfDeclaredProfession(doctor_id=sso.doctor_id, profession=text, declared_at=utcnow()))
    hub.audit_event(events.PROFESSION_DECLARE, doctor_id=sso.doctor_id, cleared=not text)
    return redirect("/account/verification", 303)
