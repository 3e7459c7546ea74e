"""Normalisation is total: hostile values give clean values or None, never an exception.
Property-based (hypothesis) over arbitrary text, URLs and JSON."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.activitystreams.parse import to_item
from connectors.errors import InvalidUpstreamData
from connectors.feed.config import FeedConfig
from connectors.feed.connector import FeedConnector, _entry_item
from connectors.http import Response
from connectors.mapping import MAX_ITEMS, ItemMapping, lookup, map_items
from connectors.normalize import SUMMARY_MAX, TITLE_MAX, make_item, parse_datetime, plain_text, safe_url

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
    | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.sampled_from(["id", "title", "url", "data", "posts", "type",
                                       "object", "name", "content", "published", "x"]),
                      children, max_size=6),
    max_leaves=30,
)


@pytest.mark.parametrize(("raw", "expected"), [
    ("<b>Hi</b> &amp; <script>alert(1)</script>there", "Hi & there"),
    ("<style>p{}</style><p>one</p><p>two</p>", "onetwo"),
    ("a\u202eevil\u200b text\x00\x07", "aevil text"),
    ("  many   \n\t spaces ", "many spaces"),
    ("&lt;script&gt;", "<script>"),  # plain text: escaping is the renderer's job
    (None, ""), (42, ""), (["x"], ""),
])
def test_plain_text_examples(raw: Any, expected: str) -> None:
    assert plain_text(raw, 300) == expected


def test_length_caps() -> None:
    item = make_item(network="n", kind="post", title="t" * 1000, summary="s" * 5000, url=None,
                     published=None, actor=None, id="1")
    assert item is not None
    assert len(item.title) == TITLE_MAX and item.title.endswith("…")
    assert len(item.summary) == SUMMARY_MAX


@given(st.text(max_size=2000), st.integers(min_value=1, max_value=600))
def test_plain_text_bounded_and_clean(raw: str, limit: int) -> None:
    out = plain_text(raw, limit)
    assert len(out) <= limit and out == out.strip()
    assert not any(unicodedata.category(ch)[0] == "C" for ch in out)


@given(st.text(alphabet="abcdefghijklmnop", min_size=8, max_size=30))
def test_script_bodies_never_survive(payload: str) -> None:
    assert payload not in plain_text(f"<script>{payload}</script>ok", 300)
    assert payload not in plain_text(f"<style>{payload}</style>ok", 300)


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", " JAVASCRIPT:alert(1)", "java\tscript:alert(1)", "data:text/html,x",
    "vbscript:x", "file:///etc/passwd", "//evil.example/x", "https://user:pw@evil.example/",
    "https://good.example@evil.example/", "http://", "https://exa mple.com/", "https://x:99999/",
])
def test_unsafe_urls_dropped(url: str) -> None:
    assert safe_url(url) is None


@given(st.text(max_size=300), st.sampled_from([None, "https://base.example/dir/"]))
def test_safe_url_only_http_s(raw: str, base: str | None) -> None:
    out = safe_url(raw, base=base)
    assert out is None or out.startswith(("http://", "https://"))


@given(st.one_of(st.text(max_size=80), st.integers(), st.floats(), st.none(),
                 st.datetimes()))
def test_parse_datetime_total(raw: Any) -> None:
    out = parse_datetime(raw)
    assert out is None or (out.tzinfo == UTC and 1990 <= out.year <= 2200)


def test_parse_datetime_examples() -> None:
    assert parse_datetime("2024-04-20T08:30:00+02:00") == datetime(2024, 4, 20, 6, 30, tzinfo=UTC)
    assert parse_datetime(1714564800000) == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_datetime("2024-05-01") == datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_datetime(True) is None and parse_datetime("9999-01-01") is None


def test_lookup_paths() -> None:
    doc = {"data": {"posts": [{"links": {"self": "u"}}], "n": None}}
    assert lookup(doc, "data.posts.0.links.self") == "u"
    assert lookup(doc, "data.posts.7.links") is None
    assert lookup(doc, "data.n.x") is None and lookup("str", "a") is None
    assert lookup(doc, "") is doc


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_json_mapping_never_crashes(doc: Any) -> None:
    for mapping in (ItemMapping(), ItemMapping(items_path="data.posts", title="name")):
        try:
            items, skipped = map_items(doc, mapping, network="n")
        except InvalidUpstreamData:
            continue
        assert len(items) <= MAX_ITEMS and skipped >= 0


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_as2_items_never_crash(doc: Any) -> None:
    item = to_item(doc, network="n", base="https://n.example/")
    assert item is None or item.url is None or item.url.startswith(("http://", "https://"))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000) | st.text(max_size=3000).map(str.encode)
       | st.sampled_from([b"<rss><channel><item><title>x</title></item>",
                          b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id>'
                          b"<title>&nope;</title><link href='javascript:x'/></entry>"]))
def test_feed_parsing_only_typed_errors(body: bytes) -> None:
    connector = FeedConnector("n", FeedConfig())
    try:
        parsed = connector._parse(Response(200, "https://n.example/feed", {}, body))
    except InvalidUpstreamData:
        return
    for entry in parsed.get("entries") or []:
        item = _entry_item(entry, network="n", base="https://n.example/feed")
        assert item is None or item.url is None or item.url.startswith(("http://", "https://"))


def test_too_many_items_capped() -> None:
    doc = [{"id": str(i), "title": "t"} for i in range(MAX_ITEMS + 50)]
    items, skipped = map_items(doc, ItemMapping(), network="n")
    assert len(items) == MAX_ITEMS and skipped == 50


def test_duplicate_ids_collapsed() -> None:
    doc = [{"id": "1", "title": "a"}, {"id": "1", "title": "b"}, {"id": 1, "title": "c"}]
    items, skipped = map_items(doc, ItemMapping(), network="n")
    assert [i.title for i in items] == ["a"] and skipped == 2
