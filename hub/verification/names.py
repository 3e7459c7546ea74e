"""Careful matching of a doctor's names to a register entry.

Registers spell names their own way: upper case (NPPES), initials only (BIG), the Dutch
tussenvoegsel in a separate field ("van der" + "Berg"), double and hyphenated surnames,
partner names, several given names in any order. We compare *folded* tokens (case and
diacritics removed, ø→o, æ→ae, ß→ss...) and answer:

- MATCH: the names are the same person's names as far as the register can tell;
- PARTIAL: plausible but not certain (one-letter difference, extra given name, part of a
  double surname, a different name prefix) → manual review with the reason;
- NO_MATCH: different names.

Honorifics before a name (Dr., Prof., drs., dr., Mr., Mrs....) and generational suffixes
after it (Jr., Sr., II, III, IV) are not names: they are set aside from the doctor's names
before comparing (registers keep them out of their name fields; NPPES publishes them in
fields of their own, and a suffix left at the end of a registered surname is set aside
too). Only two *different* generational suffixes (Jr. against Sr.) count, as a partial
match: father and son may share every other name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import IntEnum

# Letters NFKD does not decompose into a base letter plus a combining mark.
_SPECIAL = str.maketrans(
    {
        "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ß": "ss",
        "ẞ": "SS", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D",
        "þ": "th", "Þ": "TH", "ı": "i", "ŀ": "l", "Ŀ": "L",
    }
)  # fmt: skip
# The other common transliteration: Müller → Mueller, Århus → Aarhus, Søren → Soeren.
_EXPAND = str.maketrans(
    {
        "ä": "ae", "Ä": "AE", "ö": "oe", "Ö": "OE", "ü": "ue", "Ü": "UE", "å": "aa",
        "Å": "AA", "ø": "oe", "Ø": "OE",
    }
)  # fmt: skip
_APOSTROPHES = re.compile(r"['’‘`´ʼ]")
_TOKEN = re.compile(r"[a-z0-9]+")

# Name particles: Dutch tussenvoegsels first, then common German, French, Italian,
# Spanish and Portuguese ones. They are compared separately from the core surname.
PARTICLES = frozenset(
    "van de der den ter ten te het t in op uit aan bij onder over voor vd v d "
    "von zu zum zur vom am im la le les du des di da dal dalla del della dello dos das do "
    "el".split()
)


# Titles written before a name (English, Dutch, German, Danish usage); compared folded
# and without dots, so "Prof.dr." and "prof. dr." are two of them.
HONORIFICS = frozenset("dr drs prof mr mrs ms miss mx sir dame ir ing lic".split())
# Generational suffixes written after a family name. Not "v": it abbreviates "van".
SUFFIXES = frozenset("jr jnr sr snr ii iii iv 2nd 3rd".split())
_SAME_GENERATION = {"jnr": "jr", "snr": "sr", "2nd": "ii", "3rd": "iii"}


class Outcome(IntEnum):
    NO_MATCH = 0
    PARTIAL = 1
    MATCH = 2


@dataclass(frozen=True, slots=True)
class NameMatch:
    outcome: Outcome
    reason: str
    # Every claimed given name was confirmed in full (not merely by an initial).
    given_confirmed: bool = False
    # The claimed family name equals the register's, particles included.
    family_exact: bool = False
    # The doctor's names without honorifics and suffixes: what a register can confirm.
    given_name: str = ""
    family_name: str = ""


def fold(text: str, *, expand: bool = False) -> str:
    """Case- and diacritic-insensitive form: 'Søren Æbelø-Straß' → 'soren aebelo-strass'
    (with ``expand``, umlauts and å/ø take their two-letter forms: 'soeren aebeloe-strass')."""
    text = unicodedata.normalize("NFKC", text)
    if expand:
        text = text.translate(_EXPAND)
    text = text.translate(_SPECIAL)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.casefold()


def tokens(text: str, *, expand: bool = False) -> list[str]:
    """Folded words; apostrophes vanish ("d'Ancona" → "dancona", "'t Hooft" → "t hooft"),
    hyphens, dots and spaces separate ("J.M." → ["j", "m"])."""
    return _TOKEN.findall(_APOSTROPHES.sub("", fold(text, expand=expand)))


def _one_edit(a: str, b: str) -> bool:
    """True when a and b differ by exactly one insertion, deletion or substitution."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1 :] == b[i + 1 :]
    return a[i:] == b[i + 1 :]


def _typo(a: str, b: str) -> bool:
    return min(len(a), len(b)) >= 5 and _one_edit(a, b)


# --- family names -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Family:
    words: tuple[str, ...]
    core: tuple[str, ...]
    particles: tuple[str, ...]

    @classmethod
    def parse(cls, text: str, expand: bool = False) -> _Family:
        words = tuple(tokens(text, expand=expand))
        core = tuple(w for w in words if w not in PARTICLES) or words
        particles = tuple(w for w in words if w in PARTICLES) if core != words else ()
        return cls(words, core, particles)


def _compare_family(claimed: _Family, reg: _Family) -> tuple[Outcome, str, bool]:
    if not claimed.words:
        return Outcome.NO_MATCH, "no family name given", False
    if claimed.words == reg.words or "".join(claimed.words) == "".join(reg.words):
        return Outcome.MATCH, "", True
    if sorted(claimed.core) == sorted(reg.core):
        if claimed.particles and reg.particles and claimed.particles != reg.particles:
            return Outcome.PARTIAL, "family name has a different name prefix", False
        return Outcome.MATCH, "", False
    cs, rs = set(claimed.core), set(reg.core)
    if cs < rs:
        return Outcome.PARTIAL, "family name is part of the registered double surname", False
    if rs < cs:
        return Outcome.PARTIAL, "registered surname is part of the given double surname", False
    if _typo("".join(claimed.core), "".join(reg.core)):
        return Outcome.PARTIAL, "family name differs by one letter from the register", False
    return Outcome.NO_MATCH, "family name does not match the register", False


_FORMS = ((False, False), (True, True), (False, True), (True, False))


def _best_family(claimed: str, variants: Sequence[str]) -> tuple[Outcome, str, bool]:
    best: tuple[Outcome, str, bool] = (Outcome.NO_MATCH, "family name does not match", False)
    for variant in variants:
        if not variant.strip():
            continue
        for c_expand, r_expand in _FORMS:
            got = _compare_family(_Family.parse(claimed, c_expand), _Family.parse(variant, r_expand))
            if (got[0], got[2]) > (best[0], best[2]):
                best = got
    return best


# --- given names --------------------------------------------------------------------

_FULL, _INITIAL, _TYPO = 3, 2, 1


def _pair_quality(c: str, r: str) -> int:
    if c == r:
        return _FULL if len(c) > 1 else _INITIAL
    if len(c) == 1 and r.startswith(c):
        return _INITIAL
    if len(r) == 1 and c.startswith(r):
        return _INITIAL
    if len(c) > 1 and len(r) > 1 and _typo(c, r):
        return _TYPO
    return 0


def _assign(claimed: list[str], reg: list[str]) -> list[tuple[str, int, int]]:
    """Best one-to-one pairing of claimed to register given names (any order): a list of
    (claimed word, register index or -1, quality). Names are few, so search exhaustively."""
    best: list[tuple[str, int, int]] = []
    best_score = (-1, -1)

    def walk(i: int, used: frozenset[int], acc: list[tuple[str, int, int]]) -> None:
        nonlocal best, best_score
        if i == len(claimed):
            score = (sum(1 for *_, q in acc if q), sum(q for *_, q in acc))
            if score > best_score:
                best, best_score = list(acc), score
            return
        options = [(j, _pair_quality(claimed[i], r)) for j, r in enumerate(reg) if j not in used]
        for j, q in options:
            if q:
                walk(i + 1, used | {j}, [*acc, (claimed[i], j, q)])
        walk(i + 1, used, [*acc, (claimed[i], -1, 0)])

    walk(0, frozenset(), [])
    return best


def _compare_given(claimed: str, register: str) -> tuple[Outcome, str, bool]:
    best = (Outcome.NO_MATCH, "given names do not match the register", False)
    for c_expand, r_expand in _FORMS:
        got = _compare_given_forms(tokens(claimed, expand=c_expand), tokens(register, expand=r_expand))
        if (got[0], got[2]) > (best[0], best[2]):
            best = got
        if got[0] is Outcome.MATCH and got[2]:
            break
    return best


def _compare_given_forms(c: list[str], r: list[str]) -> tuple[Outcome, str, bool]:
    if not c:
        return Outcome.PARTIAL, "no given name supplied", False
    if not r:
        return Outcome.PARTIAL, "the register has no given names to compare", False
    pairs = _assign(c[:8], r[:8])
    missing = [w for w, j, _ in pairs if j < 0]
    typos = [w for w, _, q in pairs if q == _TYPO]
    good = [w for w, _, q in pairs if q in (_FULL, _INITIAL)]
    if not good and not typos:
        if c[0][0] in {w[0] for w in r}:
            return Outcome.PARTIAL, "given name not on the register (initial matches)", False
        return Outcome.NO_MATCH, "given names do not match the register", False
    reasons = [f"given name '{w}' differs by one letter from the register" for w in typos]
    reasons += [f"given name '{w}' is not on the register" for w in missing]
    if reasons:
        return Outcome.PARTIAL, "; ".join(reasons), False
    confirmed = all(q == _FULL for *_, q in pairs)
    return Outcome.MATCH, "", confirmed


def strip_titles(text: str, *, suffixes: bool = True) -> tuple[str, str]:
    """``text`` without leading honorifics and (with ``suffixes``) trailing generational
    suffixes, and the suffix that was removed ("" if none): 'Dr. John Smith, Jr.' ->
    ('John Smith', 'jr'). The last word stays, whatever it is (someone may be called "Sir")."""
    words = text.split()
    start, end, suffix = 0, len(words), ""
    while suffixes and end > 1 and (t := tokens(words[end - 1])) and all(w in SUFFIXES for w in t):
        suffix = _SAME_GENERATION.get(t[-1], t[-1])
        end -= 1
    while start < end - 1 and (t := tokens(words[start])) and all(w in HONORIFICS for w in t):
        start += 1
    return " ".join(words[start:end]).rstrip(",").strip(), suffix


def match_names(
    given_name: str,
    family_name: str,
    *,
    register_given: str,
    register_family: str,
    register_prefix: str = "",
    register_alt_family: Sequence[str] = (),
    register_suffix: str = "",
) -> NameMatch:
    """Compare the doctor's names with a register entry's (see the module docstring).
    ``register_suffix`` is a generational suffix the register keeps apart (NPPES's
    "Provider Name Suffix Text")."""
    given, _ = strip_titles(given_name, suffixes=False)  # suffixes follow the family name
    family, claimed_suffix = strip_titles(family_name)
    # Registers keep titles out of their name fields (NPPES has fields for them); only a
    # generational suffix sometimes ends up in a registered surname ("SMITH JR").
    reg_family, reg_suffix = _strip_suffix(register_family)
    reg_suffix = reg_suffix or _suffix_of(register_suffix)
    # The names as written first: setting words aside may only ever help ("Le Jr." is
    # "Le", but someone's surname may also be what looks like a title).
    alt = register_alt_family
    best = _match(given_name, family_name, register_given, register_family, register_prefix, alt)
    if (given, family, reg_family) != (given_name, family_name, register_family):
        stripped = _match(given, family, register_given, reg_family, register_prefix, alt)
        conflict = claimed_suffix and reg_suffix and claimed_suffix != reg_suffix
        if conflict and stripped.outcome is Outcome.MATCH:
            # Father and son may share every name but this one.
            stripped = replace(
                stripped,
                outcome=Outcome.PARTIAL,
                reason=f"generational suffix differs ({claimed_suffix} / register {reg_suffix})",
            )
        if _rank(stripped) > _rank(best):
            best = stripped
    return best


def _rank(m: NameMatch) -> tuple[int, bool, bool]:
    return (m.outcome, m.given_confirmed, m.family_exact)


def _match(
    given_name: str,
    family_name: str,
    register_given: str,
    register_family: str,
    register_prefix: str,
    register_alt_family: Sequence[str],
) -> NameMatch:
    # The prefix is part of the registered surname; a doctor leaving it out still matches
    # on the core surname (see _compare_family), but then is not an exact match.
    variants = [f"{register_prefix} {register_family}", *register_alt_family]
    f_out, f_reason, f_exact = _best_family(family_name, variants)
    if f_out is Outcome.NO_MATCH:
        return NameMatch(Outcome.NO_MATCH, f_reason)
    g_out, g_reason, g_confirmed = _compare_given(given_name, register_given)
    if g_out is Outcome.NO_MATCH:
        return NameMatch(Outcome.NO_MATCH, g_reason)
    outcome = min(f_out, g_out)
    reason = "; ".join(r for r in (f_reason, g_reason) if r) or "names match"
    return NameMatch(outcome, reason, g_confirmed, f_exact, given_name.strip(), family_name.strip())


def _strip_suffix(text: str) -> tuple[str, str]:
    words = text.split()
    if len(words) > 1 and (suffix := _suffix_of(words[-1])):
        return " ".join(words[:-1]).rstrip(","), suffix
    return text, ""


def _suffix_of(text: str) -> str:
    t = tokens(text)
    if len(t) == 1 and t[0] in SUFFIXES:
        return _SAME_GENERATION.get(t[0], t[0])
    return ""
