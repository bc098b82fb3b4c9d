"""The recorders' fast signing path builds exactly the canonical record the verifier rebuilds.

`_sign_entry` encodes the record itself (the actor inserted as already-canonical JSON, the
texts computed once by `SigningMapper`); these properties tie it to `record_bytes`, whatever
the actor, stream and topic text (escapes, non-ASCII, nesting).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
from hypothesis import given
from hypothesis import strategies as st

from ledger.canonical import iso_utc
from ledger.keys import signer_from_seed
from ledger.records import (
    LedgerStoredEvent,
    _sign_entry,
    record_bytes,
    tail_request,
)

SIGNER = signer_from_seed(bytes(range(32)))

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.text())
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
actors = st.none() | st.dictionaries(st.text(), json_value, max_size=4)
instants = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


def rebuilt(entry: Any) -> bytes:
    """The record as `LedgerEntry.record_bytes` / verify rebuild it from the stored row."""
    return record_bytes(
        stream=entry.stream,
        version=entry.version,
        topic=entry.topic,
        recorded_at=entry.recorded_at,
        actor=None if entry.actor is None else orjson.loads(entry.actor),
        payload_sha256_hex=entry.payload_sha256.hex(),
        prev_hex=None if entry.prev_hash is None else entry.prev_hash.hex(),
        leaf=entry.leaf_index,
        key_id=entry.key_id,
    )


@given(
    actor=actors,
    stream=st.text(min_size=1),
    topic=st.text(min_size=1),
    at=st.none() | instants,
    prev=st.none() | st.binary(min_size=32, max_size=32),
    leaf=st.integers(0, 2**40),
    state=st.binary(max_size=64),
)
def test_signed_entry_is_the_canonical_record(
    actor: dict[str, Any] | None,
    stream: str,
    topic: str,
    at: datetime | None,
    prev: bytes | None,
    leaf: int,
    state: bytes,
) -> None:
    actor_json = None if actor is None else orjson.dumps(actor, option=orjson.OPT_SORT_KEYS)
    # As `SigningMapper` builds it (texts precomputed) and as another mapper would (not).
    precomputed = LedgerStoredEvent(
        originator_id=stream,
        originator_version=3,
        topic=topic,
        state=state,
        recorded_at=at,
        actor=actor,
        recorded_at_text=None if at is None else iso_utc(at),
        actor_json=None if actor_json is None else actor_json.decode(),
    )
    plain = LedgerStoredEvent(stream, 3, topic, state, recorded_at=at, actor=actor)
    entries = [_sign_entry(s, 7, stream, prev, leaf, SIGNER) for s in (precomputed, plain)]
    assert entries[0] == entries[1]
    entry = entries[0]
    data = rebuilt(entry)
    assert entry.record_hash == hashlib.sha256(data).digest()
    assert entry.payload_sha256 == hashlib.sha256(state).digest()
    SIGNER._private_key.public_key().verify(entry.signature, entry.record_hash)


def test_tail_request_asks_each_stream_once_for_its_lowest_version() -> None:
    a, b = UUID(int=1), UUID(int=2)
    events = [
        LedgerStoredEvent(a, 5, "t", b""),
        LedgerStoredEvent(b, 2, "t", b""),
        LedgerStoredEvent(a, 4, "t", b""),
        LedgerStoredEvent(a, 6, "t", b""),
    ]
    assert tail_request(events) == [(str(a), 4), (str(b), 2)]


@given(st.binary(max_size=64))
def test_signer_signs_as_openssl_does(message: bytes) -> None:
    """Whichever library `Signer.sign` uses (libsodium when PyNaCl is installed), the
    signature is the RFC 8032 one OpenSSL computes."""
    assert SIGNER.sign(message) == SIGNER._private_key.sign(message)
