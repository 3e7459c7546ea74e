"""The authorization request's check tables (hub/protocol/authorize_checks.py)."""

from __future__ import annotations

from authlib.oauth2.base import invalid_error_characters

from hub.protocol.authorize_checks import CONSENT_CHECKS, LOGIN_CHECKS, REQUEST_CHECKS, UNQUOTABLE


def test_unquotable_values_are_exactly_those_rfc_6749_forbids_in_errors() -> None:
    """The fast check refuses the same characters as Authlib's definition (RFC 6749
    §4.1.2.1), so a redirect URI Authlib would fail to quote never reaches it."""
    for code in range(0x3000):
        char = chr(code)
        assert bool(UNQUOTABLE.search(char)) == bool(invalid_error_characters(char)), hex(code)
    assert UNQUOTABLE.search("https://network.example/cb?a=1") is None
    assert UNQUOTABLE.search('https://network.example/"cb') is not None


def test_every_check_has_its_own_name() -> None:
    """Names are what an operator reads in a log and a reviewer in the table."""
    names = [c.__name__ for c in REQUEST_CHECKS] + [c.name for c in LOGIN_CHECKS + CONSENT_CHECKS]
    assert len(names) == len(set(names))
