"""The federation of tests/flows/federation_net.py, able to misbehave: a URL answered with
raw bytes (garbage, forged or oversized statements), or only after a delay."""

from __future__ import annotations

import time

from werkzeug.wrappers import Request, Response

from federation import ENTITY_STATEMENT_MEDIA_TYPE, fetch_request_url
from tests.flows.federation_net import Member, Network


class UnrulyNetwork(Network):
    """A federation whose endpoints can be told to answer a given URL with raw bytes, or
    only after a delay."""

    def __init__(self) -> None:
        super().__init__()
        self.raw: dict[str, bytes] = {}
        self.delay: dict[str, float] = {}

    def _answer(self, request: Request) -> Response:
        url = self.base + request.path
        if request.query_string:
            url += "?" + request.query_string.decode()
        if url in self.delay:
            time.sleep(self.delay[url])
        if url in self.raw:
            return Response(self.raw[url], mimetype=ENTITY_STATEMENT_MEDIA_TYPE)
        return super()._answer(request)

    def fetch_url(self, superior: Member, subject: Member) -> str:
        return fetch_request_url(superior.id + "/fetch", subject.id)
