"""Canonical bytes and the canonical transcoder."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, Transcoding, UUIDAsHex
from hypothesis import given
from hypothesis import strategies as st

from ledger.canonical import CanonicalError, CanonicalTranscoder, canonical_bytes, iso_utc

PARIS_WINTER = timezone(timedelta(hours=1))
U = UUID("6BA7B810-9DAD-11D1-80B4-00C04FD430C8")


class Color(StrEnum):
    RED = "red"


def test_ledger_canonical_bytes_rules() -> None:
    value = {
        "z": 1,
        "a": [True, None, "é\n"],
        "when": datetime(2025, 3, 4, 10, 0, tzinfo=PARIS_WINTER),
        "id": U,
        "amount": Decimal("12.50"),
        "day": date(2025, 3, 4),
        "pair": (1, 2),
        "color": Color.RED,
    }
    assert canonical_bytes(value) == (
        b'{"a":[true,null,"\xc3\xa9\\n"],"amount":"12.50","color":"red","day":"2025-03-04",'
        b'"id":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","pair":[1,2],'
        b'"when":"2025-03-04T09:00:00.000000Z","z":1}'
    )


def test_ledger_iso_utc_always_has_six_digits_and_z() -> None:
    assert iso_utc(datetime(2025, 1, 1, tzinfo=UTC)) == "2025-01-01T00:00:00.000000Z"
    assert iso_utc(datetime(1, 1, 1, 0, 0, 0, 5, tzinfo=UTC)) == "0001-01-01T00:00:00.000005Z"


@pytest.mark.parametrize(
    ("bad", "where"),
    [
        (1.5, "$"),
        ({"a": {"b": [1, 2.0]}}, "$.a.b[1]"),
        ({"a": ({"x": float("nan")},)}, "$.a[0].x"),
    ],
)
def test_ledger_floats_are_rejected_anywhere(bad: Any, where: str) -> None:
    with pytest.raises(
        CanonicalError, match=r"float at " + where.replace("$", r"\$").replace("[", r"\[")
    ):
        canonical_bytes(bad)
    with pytest.raises(CanonicalError, match="float"):
        CanonicalTranscoder().encode(bad)


def test_ledger_naive_datetimes_and_odd_values_are_rejected() -> None:
    for bad in (datetime(2025, 1, 1), {1: "int key"}, {"s": {1, 2}}, Decimal("NaN")):
        with pytest.raises(CanonicalError):
            canonical_bytes(bad)
    with pytest.raises(CanonicalError, match="naive"):
        CanonicalTranscoder().encode({"t": datetime(2025, 1, 1)})


def test_ledger_transcoder_round_trip_and_tags() -> None:
    transcoder = CanonicalTranscoder()
    state = {
        "id": U,
        "at": datetime(2025, 3, 4, 10, 0, 0, 1, tzinfo=PARIS_WINTER),
        "amount": Decimal("0.10"),
        "day": date(2025, 3, 4),
        "items": [1, "two", [U]],
        "tricky": {"_type_": "uuid", "_data_": "not a uuid"},
    }
    data = transcoder.encode(state)
    assert b'{"_data_":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","_type_":"uuid"}' in data
    assert b'"2025-03-04T09:00:00.000001Z"' in data
    decoded = transcoder.decode(data)
    assert decoded == state
    assert decoded["at"].tzinfo is not None
    assert isinstance(decoded["items"], list)


def test_ledger_transcoder_accepts_library_registrations_and_custom_types() -> None:
    class Money:
        def __init__(self, cents: int) -> None:
            self.cents = cents

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Money) and other.cents == self.cents

        __hash__ = None  # type: ignore[assignment]

    class MoneyAsCents(Transcoding):
        type = Money
        name = "money"

        def encode(self, obj: Money) -> int:
            return obj.cents

        def decode(self, data: int) -> Money:
            return Money(data)

    transcoder = CanonicalTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), MoneyAsCents()):
        transcoder.register(transcoding)
    state = {"id": U, "price": Money(1250)}
    data = transcoder.encode(state)
    assert b'"_type_":"uuid"' in data  # built-in tags win over the library's
    assert transcoder.decode(data) == state
    assert transcoder.decode(b'{"_type_":"uuid_hex","_data_":"' + U.hex.encode() + b'"}') == U
    with pytest.raises(TypeError, match="not serializable"):
        transcoder.encode({"x": object()})
    with pytest.raises(ValueError, match="reserved"):
        transcoder.register(type("Bad", (MoneyAsCents,), {"name": "uuid"})())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_ledger_same_state_same_bytes(value: Any) -> None:
    transcoder = CanonicalTranscoder()
    data = transcoder.encode(value)
    assert transcoder.decode(data) == value
    if isinstance(value, dict):  # key insertion order does not matter
        assert transcoder.encode(dict(reversed(list(value.items())))) == data
    assert canonical_bytes(value) == canonical_bytes(transcoder.decode(data))
