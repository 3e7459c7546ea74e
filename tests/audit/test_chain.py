"""The hash recipe in docs/audit.md, checked against the fast implementation."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hub.audit.chain import canonical_detail, format_time, record_hash
from hub.audit.detail import canonical_json

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip
times = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(9998, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
)


def reference_hash(**fields: Any) -> str:
    """sha256 over sorted-key compact ASCII JSON, exactly as documented."""
    body = {
        "actor": fields["actor"],
        "client_id": fields["client_id"],
        "detail": json.loads(fields["detail"]),
        "event": fields["event"],
        "personal": fields["personal"],
        "prev_hash": fields["prev_hash"],
        "seq": fields["seq"],
        "time": fields["occurred_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


@given(
    seq=st.integers(min_value=1, max_value=2**62),
    actor=st.none() | st.text(),
    client_id=st.none() | st.text(),
    event=st.text(),
    detail=st.dictionaries(st.text(), json_values, max_size=4),
    personal=st.none() | st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    when=times,
)
def test_fast_hash_equals_the_documented_recipe(
    seq: int,
    actor: str | None,
    client_id: str | None,
    event: str,
    detail: dict[str, Any],
    personal: str | None,
    when: datetime,
) -> None:
    fields: dict[str, Any] = {
        "seq": seq,
        "prev_hash": "ab" * 32,
        "occurred_at": when,
        "event": event,
        "actor": actor,
        "client_id": client_id,
        "detail": canonical_json(detail),
        "personal": personal,
    }
    assert record_hash(**fields) == reference_hash(**fields)


@given(times)
def test_time_format_is_fixed_width_utc(when: datetime) -> None:
    text = format_time(when)
    assert len(text) == 27 and text.endswith("Z")
    assert datetime.fromisoformat(text) == when


def test_reserialised_detail_has_a_canonical_form() -> None:
    assert canonical_detail('{ "b": 1, "a": [1, 2] }') == '{"a":[1,2],"b":1}'
    assert canonical_detail("[1]") is None and canonical_detail("{oops") is None
