"""The demo's BIG-register: a small copy imported the way operators load one, and a
stand-in for CIBG's ListHcpApprox4 webservice answering from the same file.

The stand-in plays the part CIBG's test environment plays before going live
(``CURBSIDE_BIG_ENDPOINT``): the demo must never ask the real register about invented
numbers, and a check must not depend on the internet. The copy keeps answering when the
stand-in is stopped, as the mirror does during a real outage.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import defusedxml.ElementTree as SafeET
from flask import Flask, Response, request

from hub.verification import nl_big, records, registry
from hub.verification.base import RegisterResult, RegistrationClaim

COPY = Path(str(files("hub.demo").joinpath("big-register-demo.xml")))
DEMO_BIG_NUMBER = "99000000101"  # the demo doctor's, in COPY
_NS = nl_big.NAMESPACE
_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


def import_copy(hub: Any) -> None:
    """``hub registers import nl-big big-register-demo.xml`` (a file read once is skipped)."""
    nl_big.import_full(hub.db, str(COPY))


def verify_doctor(hub: Any, doctor: Any) -> RegisterResult:
    """What the doctor's "Check my registration" does, so the demo starts verified."""
    claim = RegistrationClaim("NL", DEMO_BIG_NUMBER, "physician", doctor.given_name,
                              doctor.family_name, register=nl_big.NL_BIG)
    return records.verify(hub.db, registry.for_hub(hub), doctor.id, claim)


def _answer(number: str) -> bytes:
    ElementTree.register_namespace("", _NS)
    found = [person for person in SafeET.parse(COPY).getroot()
             if any(n.text == number for n in person.iter(f"{{{_NS}}}ArticleRegistrationNumber"))]
    listing = "".join(ElementTree.tostring(p, encoding="unicode") for p in found)
    return (f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{_SOAP}"><soap:Body>'
            f'<ListHcpApprox4Response xmlns="{_NS}"><ListHcpApprox4Result><ListHcpApprox>'
            f"{listing}</ListHcpApprox></ListHcpApprox4Result></ListHcpApprox4Response>"
            "</soap:Body></soap:Envelope>").encode()


def create_register_app() -> Flask:
    """POST a ``listHcpApproxRequest``; the answer lists the copy's matching persons."""
    app = Flask("demo-big-register")

    @app.post("/")
    def lookup() -> Response:
        try:
            body = SafeET.fromstring(request.get_data(cache=False)[:10_000])
        except (SafeET.ParseError, ValueError):
            return Response("not a SOAP request", 400, mimetype="text/plain")
        number = body.findtext(f".//{{{_NS}}}RegistrationNumber") or ""
        return Response(_answer(number.strip()), mimetype="text/xml")

    return app
