"""The verifier's fast paths, structurally (no timing): signature workers on libsodium, the
PostgreSQL COPY read (text-format escapes, one streamed query), SQLite's tuple rows, and the
parallel path on both backends with text that needs escaping."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from test_ledger_support import Note, Store, make_app, seed_signer, write_notes

from ledger.config import open_recorder
from ledger.keys import StaticSigners
from ledger.postgres_recorder import _copied_entries
from ledger.records import KEY_LOG_STREAM, iter_entries
from ledger.verify import _ITEM, _verify_chunk, _verify_chunk_openssl, verify_ledger

# Every character COPY's text format escapes, a quote (escaped by JSON) and non-ASCII text.
AWKWARD: dict[str, Any] = {
    "id": 'staff:\t"tab"\\back\nnew\rret\x08\x0c\x0b\\N',
    "role": "maire-adjointe é ☃",
    "on_behalf_of": None,
}


@pytest.mark.parametrize("verify_chunk", [_verify_chunk, _verify_chunk_openssl])
def test_verify_chunk_reports_exactly_the_failing_positions(verify_chunk: Any) -> None:
    a, b = seed_signer(1), seed_signer(2)
    digests = [hashlib.sha256(bytes([i])).digest() for i in range(6)]
    items = [
        (0, a.sign(digests[0])),  # good
        (0, bytes([a.sign(digests[1])[0] ^ 1]) + a.sign(digests[1])[1:]),  # altered
        (1, b.sign(digests[2])),  # good, another key
        (0, bytes(64)),  # a malformed signature (packed as zeros)
        (2, a.sign(digests[4])),  # a key that is not 32 bytes
        (1, a.sign(digests[5])),  # signed by the other key
    ]
    keys = (a.public_bytes, b.public_bytes, a.public_bytes[:31])
    packed = b"".join(sig + digest for (_, sig), digest in zip(items, digests, strict=True))
    assert len(packed) == _ITEM * len(items)
    bad = verify_chunk(keys, bytes(k for k, _ in items), packed)
    assert bad == [1, 3, 4, 5]


def test_copy_rows_are_unescaped_and_nulls_kept() -> None:
    signature = bytes(range(64))
    fields = [
        b"3",
        b"\\N",  # key-log entry: no notification id
        KEY_LOG_STREAM.encode(),
        b"2",
        b"t\\\\opic",
        b"\\N",
        b'{"id":"a\\tb\\nc\\\\d"}',
        (b"\x01" * 32).hex().encode(),
        b"\\N",
        b"ed25519:0011223344556677",
        (b"\x02" * 32).hex().encode(),
        signature.hex().encode(),
        b"\\N",
        b"\\N",
        b"\\N",
        b"\\N",
        b"2",
        b"k\\ttopic",
        b"7b7d",
    ]
    (entry,) = _copied_entries(b"\t".join(fields) + b"\n")
    assert (entry.leaf_index, entry.notification_id, entry.version) == (3, None, 2)
    assert entry.topic == "t\\opic"
    assert entry.recorded_at is None
    assert entry.actor == '{"id":"a\tb\nc\\d"}'
    assert entry.payload_sha256 == b"\x01" * 32 and entry.prev_hash is None
    assert entry.record_hash == b"\x02" * 32 and entry.signature == signature
    assert (entry.event_stream, entry.event_version, entry.event_topic, entry.state) == (
        KEY_LOG_STREAM,
        2,
        "k\ttopic",
        b"{}",
    )
    assert _copied_entries(b"") == []


@pytest.fixture
def awkward_ledger(store_url: str) -> Iterator[str]:
    app = make_app(store_url, StaticSigners(seed_signer(1)))
    write_notes(app, streams=3, edits=6, actor=AWKWARD)
    app.save(Note(title="plain", actor={"id": "staff:2", "role": "staff", "on_behalf_of": None}))
    app.close()
    yield store_url


def test_reads_agree_and_keep_awkward_text(awkward_ledger: str) -> None:
    factory, recorder = open_recorder(awkward_ledger, create=False)
    try:
        paged = list(iter_entries(recorder, 0, None, 5))
        assert len(paged) == recorder.count_entries() == 1 + 3 + 18 + 1
        assert [e.leaf_index for e in paged] == list(range(len(paged)))
        assert recorder.select_entries(0, 1000) == paged
        stream = getattr(recorder, "stream_entries", None)
        if stream is not None:
            assert list(stream(0, 4)) == paged
            assert list(stream(10, 4)) == paged[10:]
        actors = [orjson.loads(e.actor or "null") for e in paged if e.stream != KEY_LOG_STREAM]
        assert actors.count(AWKWARD) == 3 + 18
        assert all(e.state is not None and e.event_stream == e.stream for e in paged)
    finally:
        factory.close()


def _verify(url: str, **kwargs: Any) -> Any:
    factory, recorder = open_recorder(url, create=False)
    try:
        result = verify_ledger(
            recorder, workers=2, parallel_threshold=0, chunk_size=4, page_size=5, **kwargs
        )
        assert recorder.count_entries() > 0  # the recorder is still usable
        return result
    finally:
        factory.close()


def test_parallel_verify_on_both_backends(awkward_ledger: str) -> None:
    result = _verify(awkward_ledger)
    assert result.ok, result.message
    assert result.entries_checked == 23


def test_parallel_verify_reports_the_earliest_failure_on_both_backends(
    awkward_ledger: str,
) -> None:
    store = Store(awkward_ledger)
    store.edit_entry(17, "signature", bytes(64))
    store.edit_entry(20, "recorded_at", None)
    result = _verify(awkward_ledger)
    assert (result.kind, result.leaf) == ("signature", 17)
    store.edit_entry(9, "actor", orjson.dumps({**AWKWARD, "id": "intruder"}).decode())
    result = _verify(awkward_ledger)
    assert (result.kind, result.leaf) == ("signature", 9)  # record hash mismatch, stops early
    assert "record hash" in result.message
    # The stream stopped early released its connection: verifying again works.
    assert (_verify(awkward_ledger).kind, _verify(awkward_ledger).leaf) == ("signature", 9)
