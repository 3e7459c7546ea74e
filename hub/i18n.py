"""The pages' languages: English, Dutch and Danish, through Flask-Babel's gettext catalogues.

One locale per request, chosen in this order (docs/decisions.md, "Languages"):
1. ``ui_locales`` of the authorization request (OIDC Core §3.1.2.1: space-separated BCP47
   tags in order of preference; the first one we support wins), kept with the pending
   request through its sign-in and consent steps;
2. the signed-in doctor's saved locale (``Doctor.locale``, "nl-NL" counts as nl);
3. the browser's Accept-Language;
4. English.

Flask pages get it from Flask-Babel's locale selector (``select_locale``). The protocol app
(hub/protocol/app.py) answers its pages without a Flask request: it puts its choice in a
context variable (``choose``, refined by the authorization flow once it knows the pending
request and the doctor), and the pages' renderer (hub/pages/rendering.py) renders inside an
app context, which is all Flask-Babel needs to translate. Python-side messages are marked
with ``lazy_gettext`` (module constants, shown by either app) or ``gettext`` (inside a
Flask request).

The catalogues are compiled from ``hub/translations/*/LC_MESSAGES/messages.po``: by the
build (setup.py) for a wheel, and here at start-up (``compile_catalogues``) when a .mo is
missing or older than its .po, so an editable install or a fresh clone needs no command.
"""

from __future__ import annotations

import contextvars
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import current_app, has_request_context, request
from flask_babel import Babel, get_locale, get_translations, refresh
from flask_babel import gettext as gettext
from flask_babel import lazy_gettext as lazy_gettext
from flask_babel import ngettext as ngettext
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

if TYPE_CHECKING:
    from flask import Flask
    from werkzeug.datastructures import LanguageAccept

log = logging.getLogger("hub")
LOCALES = ("en", "nl", "da")  # the first is the default
DEFAULT = LOCALES[0]
TRANSLATIONS = Path(__file__).parent / "translations"
DOMAIN = "messages"
_PARSED = {code: Locale.parse(code) for code in LOCALES}
# The protocol app's choice for the request it is answering (None: let Flask decide).
_chosen: contextvars.ContextVar[str | None] = contextvars.ContextVar("curbside_locale", default=None)


# -- choosing -----------------------------------------------------------------------------------
def supported(tag: str | None) -> str | None:
    """The supported language of a BCP47 tag ("nl-NL", "da_DK", "EN"), or None."""
    if not tag:
        return None
    language = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    return language if language in LOCALES else None


def first_supported(tags: Iterable[str]) -> str | None:
    for tag in tags:
        found = supported(tag)
        if found:
            return found
    return None


def negotiate(ui_locales: str | None, doctor_locale: str | None,
              accept: LanguageAccept | None) -> str:
    """The request's locale, in the module's order."""
    return (first_supported((ui_locales or "").split()[:10])
            or supported(doctor_locale)
            or (accept.best_match(LOCALES) if accept else None)
            or DEFAULT)


def choose(locale: str) -> contextvars.Token[str | None]:
    """Use ``locale`` for what the protocol app renders from now on (in this context)."""
    token = _chosen.set(locale)
    refresh()  # an app context already open must not keep a locale chosen before
    return token


def reset(token: contextvars.Token[str | None]) -> None:
    _chosen.reset(token)


def current() -> str:
    """The locale pages are rendered in right now ("en" outside any request)."""
    loc = get_locale()
    return str(loc) if loc is not None else (_chosen.get() or DEFAULT)


def select_locale() -> Locale:
    """Flask-Babel's locale selector. A Locale, not its name: Flask-Babel parses a name
    anew in every app context, which the protocol app opens for each page it renders."""
    chosen = _chosen.get()
    if not chosen:
        chosen = (negotiate(None, _signed_in_doctor_locale(), request.accept_languages)
                  if has_request_context() else DEFAULT)
    return _PARSED[chosen]


def _signed_in_doctor_locale() -> str | None:
    hub = current_app.extensions.get("curbside")
    cookie = request.cookies.get(hub.sessions.cookie_name) if hub is not None else None
    if not cookie:
        return None
    try:
        sso = hub.sessions.load(cookie)
        doctor = hub.accounts.get(sso.doctor_id) if sso is not None else None
    except Exception:  # noqa: BLE001 - an outage page must still render, in the browser's language
        return None
    return doctor.locale if doctor is not None else None


# -- catalogues ---------------------------------------------------------------------------------
def compile_catalogues(directory: Path = TRANSLATIONS) -> list[Path]:
    """Compile each .po whose .mo is missing or older (babel's own reader and writer);
    returns the .mo files written. Written to a temporary file and renamed, so workers
    starting together never read half a catalogue."""
    written = []
    for po in sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as f:
            catalog = read_po(f, locale=po.parent.parent.name)
        try:
            fd, tmp = tempfile.mkstemp(dir=po.parent, suffix=".mo.tmp")
            with os.fdopen(fd, "wb") as out:
                write_mo(out, catalog)  # fuzzy entries stay out, as with pybabel compile
            os.replace(tmp, mo)
        except OSError as e:  # a read-only install: the build compiled them (setup.py)
            log.warning("cannot compile %s: %s", po, e)
            continue
        written.append(mo)
    return written


def install(app: Flask) -> Babel:
    """Flask-Babel on the app, its catalogues compiled, and what the templates use."""
    compile_catalogues()
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "UTC")
    babel = Babel(app, locale_selector=select_locale)

    @app.before_request
    def _no_earlier_choice() -> None:
        # A choice the authorization flow made in an earlier Flask request on this thread
        # (a brokered sign-in's second step) is not this request's.
        _chosen.set(None)

    # {% trans %} blocks are extracted trimmed too (babel.cfg), so the ids match.
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.globals["page_locale"] = current
    app.jinja_env.globals["locales"] = LOCALES
    app.context_processor(template_context)
    return babel


def template_context() -> dict[str, Any]:
    """What a page's gettext calls use, resolved once per page: Flask-Babel's catalogue for
    the request's locale. Flask-Babel's own Jinja callables look the locale and catalogue up
    again on every string (about 25 µs each here, five times the rest of the sign-in page);
    these, in the render context, shadow them. New-style gettext as jinja2.ext installs it:
    the translation is markup, the variables are escaped and substituted. Made once per
    locale per app: Flask-Babel's catalogues do not change while it runs."""
    locale = current()
    known = _TEMPLATE_CONTEXTS.get(locale)
    if known is None:
        known = _TEMPLATE_CONTEXTS[locale] = _callables(get_translations(), locale)
    return known


_TEMPLATE_CONTEXTS: dict[str, dict[str, Any]] = {}


def _callables(translations: Any, locale: str) -> dict[str, Any]:

    @pass_context
    def gettext(context: Context, text: str, **variables: Any) -> str:
        rv = translations.ugettext(text)
        if context.eval_ctx.autoescape:
            rv = Markup(rv)  # noqa: S704 (our catalogues are markup, as jinja2.ext treats them)
        return rv % variables  # type: ignore[no-any-return]

    @pass_context
    def ngettext(context: Context, singular: str, plural: str, num: int, **variables: Any) -> str:
        variables.setdefault("num", num)
        rv = translations.ungettext(singular, plural, num)
        if context.eval_ctx.autoescape:
            rv = Markup(rv)  # noqa: S704 (our catalogues are markup, as jinja2.ext treats them)
        return rv % variables  # type: ignore[no-any-return]

    return {"gettext": gettext, "_": gettext, "ngettext": ngettext, "page_locale": lambda: locale}


def N_(text: str) -> str:  # noqa: N802 (gettext's name for it)
    """Marks ``text`` for the catalogues and returns it untranslated: for tables other code
    reads as English, translated with ``gettext`` where a page shows them."""
    return text


def language_names() -> dict[str, str]:
    """Each language named in itself, as a language menu shows them."""
    return {"en": "English", "nl": "Nederlands", "da": "Dansk"}

