"""Tampering with stored rows by plain SQL is detected by verify, naming the event.

Runs on SQLite and PostgreSQL (``store_url`` fixture). Also: key rotation, and rollback of
the whole insert when signing fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.persistence import Tracking
from test_ledger_support import STAFF, Note, NotesApp, Store, make_app, seed_signer, write_notes

from ledger.config import open_recorder
from ledger.keys import KEY_LOG_ID, KeyStore, Signer, StaticSigners
from ledger.records import KEY_LOG_STREAM, LedgerKeyError
from ledger.verify import VerifyResult, verify_ledger


@pytest.fixture
def signers() -> StaticSigners:
    return StaticSigners(seed_signer(1))


@pytest.fixture
def ledger(store_url: str, signers: StaticSigners) -> Iterator[tuple[NotesApp, Store]]:
    """A store with a key registration and 3 notes x 4 versions (13 entries)."""
    app = make_app(store_url, signers)
    write_notes(app, streams=3, edits=3)
    yield app, Store(store_url)
    app.close()


def verify(url: str, **kwargs: Any) -> VerifyResult:
    factory, recorder = open_recorder(url, create=False)
    try:
        return verify_ledger(recorder, **kwargs)
    finally:
        factory.close()


def test_intact_ledger_verifies(ledger: tuple[NotesApp, Store], signers: StaticSigners) -> None:
    _, store = ledger
    result = verify(store.url)
    assert result.ok, result.message
    assert result.entries_checked == 13
    assert result.key_ids == (signers.active.key_id,)
    assert not result.anchored
    anchored = verify(store.url, anchor=signers.active.public_bytes)
    assert anchored.ok and anchored.anchored
    assert verify(store.url, anchor=signers.active.key_id).anchored
    stranger = verify(store.url, anchor=seed_signer(99).public_bytes.hex())
    assert not stranger.ok and stranger.kind == "unknown_key"


def test_leaf_zero_is_the_self_signed_key_registration(ledger: tuple[NotesApp, Store]) -> None:
    _, store = ledger
    leaf, nid, stream, version = store.entries()[0]
    assert (leaf, nid, stream, version) == (0, None, KEY_LOG_STREAM, 1)
    assert [e[0] for e in store.entries()] == list(range(13))


def test_one_byte_changed_in_a_payload(ledger: tuple[NotesApp, Store]) -> None:
    _, store = ledger
    leaf, nid, stream, version = store.event_entries()[5]
    store.flip_payload_byte(nid)
    result = verify(store.url)
    assert not result.ok
    assert (result.kind, result.leaf, result.stream, result.version) == (
        "payload",
        leaf,
        stream,
        version,
    )


def test_event_deleted_from_the_middle_of_both_tables(ledger: tuple[NotesApp, Store]) -> None:
    _, store = ledger
    leaf, nid, stream, version = store.event_entries()[4]
    store.delete_event(nid, ledger_too=True)
    result = verify(store.url)
    assert not result.ok
    assert (result.kind, result.leaf, result.stream, result.version) == (
        "gap",
        leaf,
        stream,
        version,
    )


def test_event_deleted_from_stored_events_only(ledger: tuple[NotesApp, Store]) -> None:
    _, store = ledger
    leaf, nid, stream, version = store.event_entries()[6]
    store.delete_event(nid, ledger_too=False)
    result = verify(store.url)
    assert (result.ok, result.kind, result.leaf, result.stream, result.version) == (
        False,
        "missing",
        leaf,
        stream,
        version,
    )


def test_ledger_entry_deleted_leaves_a_gap(ledger: tuple[NotesApp, Store]) -> None:
    _, store = ledger
    leaf, _, stream, version = store.event_entries()[3]
    store.delete_entry(leaf)
    result = verify(store.url)
    assert (result.kind, result.leaf, result.stream, result.version) == (
        "gap",
        leaf,
        stream,
        version,
    )


def test_last_ledger_entry_deleted_leaves_an_orphan_event(ledger: tuple[NotesApp, Store]) -> None:
    _, store = ledger
    leaf, _, stream, version = store.event_entries()[-1]
    store.delete_entry(leaf)
    result = verify(store.url)
    assert (result.kind, result.stream, result.version) == ("orphan_event", stream, version)


def test_two_events_swapped(ledger: tuple[NotesApp, Store]) -> None:
    _, store = ledger
    entries = store.event_entries()
    leaf_a, nid_a, stream_a, version_a = entries[2]
    _, nid_b, _, _ = entries[8]
    store.swap_events(nid_a, nid_b)
    result = verify(store.url)
    assert (result.kind, result.leaf, result.stream, result.version) == (
        "reordered",
        leaf_a,
        stream_a,
        version_a,
    )


def test_payload_moved_to_another_row(ledger: tuple[NotesApp, Store]) -> None:
    _, store = ledger
    entries = store.event_entries()
    _, nid_src, _, _ = entries[1]
    leaf, nid_dst, stream, version = entries[7]
    store.move_payload(nid_src, nid_dst)
    result = verify(store.url)
    assert (result.kind, result.leaf, result.stream, result.version) == (
        "payload",
        leaf,
        stream,
        version,
    )


def test_event_inserted_and_signed_with_an_unregistered_key(
    ledger: tuple[NotesApp, Store],
) -> None:
    _, store = ledger
    leaf = store.append_signed(seed_signer(66))
    result = verify(store.url)
    assert (result.ok, result.kind, result.leaf, result.version) == (
        False,
        "unknown_key",
        leaf,
        1,
    )


def test_inserted_event_without_entry_is_an_orphan(ledger: tuple[NotesApp, Store]) -> None:
    _, store = ledger
    store.append_signed(seed_signer(1))
    store.delete_entry(store.entries()[-1][0])
    assert verify(store.url).kind == "orphan_event"


def test_record_field_edited_in_the_ledger_row(ledger: tuple[NotesApp, Store]) -> None:
    _, store = ledger
    leaf, _, stream, version = store.event_entries()[2]
    store.edit_entry(leaf, "recorded_at", "2020-01-01T00:00:00.000000Z")
    result = verify(store.url)
    assert (result.kind, result.leaf, result.stream, result.version) == (
        "signature",
        leaf,
        stream,
        version,
    )


def test_signature_bytes_changed(ledger: tuple[NotesApp, Store]) -> None:
    _, store = ledger
    leaf, _, stream, version = store.event_entries()[9]
    store.edit_entry(leaf, "signature", bytes(64))
    result = verify(store.url)
    assert (result.kind, result.leaf, result.stream, result.version) == (
        "signature",
        leaf,
        stream,
        version,
    )


def test_undecodable_topic(ledger: tuple[NotesApp, Store]) -> None:
    _, store = ledger
    topic = "nowhere_module:Gone"
    leaf = store.append_signed(seed_signer(1), topic=topic)
    assert verify(store.url).kind == "decode"
    assert verify(store.url, check_decode=False).ok
    assert leaf == 13


# -- rotation ------------------------------------------------------------------------------


def test_rotation_with_a_key_store(
    store_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    key_dir = tmp_path_factory.mktemp("keys")
    keys = KeyStore(key_dir, "s3cret")
    app = make_app(store_url, None, CALEOL_KEY_DIR=str(key_dir), CALEOL_KEY_PASSPHRASE="s3cret")
    try:
        notes = write_notes(app, streams=2, edits=2)
        first = keys.active_key_id()
        second = keys.rotate()
        for note in notes:
            note.edit(line="after rotation", actor=STAFF)
        app.save(*notes)
        key_log = app.repository.get(KEY_LOG_ID)
        assert [k.key_id for k in key_log.keys] == [first, second.key_id]
        assert key_log.keys[1].previous_key_id == first
        # Reconstructing the notes still works, and the notification log has no key events.
        assert app.repository.get(notes[0].id).lines[-1] == "after rotation"
        assert all(n.originator_id != KEY_LOG_ID for n in app.recorder.select_notifications(1, 100))
    finally:
        app.close()
    store = Store(store_url)
    rotation = next(e for e in store.entries() if e[2] == KEY_LOG_STREAM and e[3] == 2)
    rows = store.sql("SELECT key_id FROM ledger_entries WHERE leaf_index=?", (rotation[0],))
    assert rows[0][0] == first  # the rotation is signed by the previous key
    result = verify(store_url, anchor=second.public_bytes)
    assert result.ok and result.anchored, result.message
    assert result.key_ids == (first, second.key_id)

    # After the rotation, an entry signed by the retired key fails.
    old = keys.signer_for(first)
    assert old is not None
    leaf = store.append_signed(old)
    result = verify(store_url)
    assert (result.kind, result.leaf) == ("key_not_valid", leaf)


def test_recorder_refuses_a_retired_key(store_url: str) -> None:
    first, second = seed_signer(1), seed_signer(2)
    signers = StaticSigners(first)
    app = make_app(store_url, signers)
    try:
        write_notes(app, streams=1, edits=1)
        signers.add(second)
        write_notes(app, streams=1, edits=1)
        signers.active = first
        with pytest.raises(LedgerKeyError, match="retired"):
            app.save(Note(title="x", actor=STAFF))
    finally:
        app.close()
    assert verify(store_url).ok


def test_rotation_needs_the_previous_private_key(store_url: str) -> None:
    app = make_app(store_url, StaticSigners(seed_signer(1)))
    try:
        write_notes(app, streams=1, edits=0)
        app.recorder.signers = StaticSigners(seed_signer(2))  # old key unknown
        with pytest.raises(LedgerKeyError, match="not in the key store"):
            app.save(Note(title="x", actor=STAFF))
    finally:
        app.close()
    assert verify(store_url).ok


# -- rollback ------------------------------------------------------------------------------


class ExplodingSigner(Signer):
    def sign(self, data: bytes) -> bytes:
        raise RuntimeError("HSM unplugged")


def exploding(seed: int) -> Signer:
    good = seed_signer(seed)
    return ExplodingSigner(good.key_id, good.public_bytes, good._private_key)


@pytest.mark.parametrize("ledger_empty", [True, False])
def test_exception_while_signing_rolls_back_everything(store_url: str, ledger_empty: bool) -> None:
    signers = StaticSigners(seed_signer(1))
    app = make_app(store_url, signers)
    store = Store(store_url)
    try:
        if not ledger_empty:
            write_notes(app, streams=2, edits=1)
        before = (store.count_events(), store.count_entries(), store.entries())
        signers.active = exploding(1)
        with pytest.raises(RuntimeError, match="HSM unplugged"):
            write_notes(app, streams=3, edits=0)
        assert (store.count_events(), store.count_entries(), store.entries()) == before
        signers.active = seed_signer(1)
        write_notes(app, streams=1, edits=1)
    finally:
        app.close()
    result = verify(store_url)
    assert result.ok, result.message


def test_exception_in_process_recorder_rolls_back_tracking_too(store_url: str) -> None:
    factory, recorder = open_recorder(store_url, signers=StaticSigners(exploding(3)))
    try:
        process_recorder = factory.process_recorder()
        process_recorder.signers = StaticSigners(exploding(3))  # type: ignore[attr-defined]
        note = Note(title="x", actor=STAFF)
        stored = [factory.mapper().to_stored_event(e) for e in note.collect_events()]
        with pytest.raises(RuntimeError):
            process_recorder.insert_events(stored, tracking=Tracking("upstream", 5))
        assert process_recorder.max_tracking_id("upstream") is None
        assert Store(store_url).count_events() == 0
        assert recorder.count_entries() == 0
    finally:
        factory.close()


def test_register_signing_key_explicitly(store_url: str) -> None:
    """`keys rotate` registers the new key at once, before any other event."""
    signers = StaticSigners(seed_signer(1))
    app = make_app(store_url, signers)
    recorder: Any = app.recorder
    try:
        assert recorder.registered_key_ids() == []
        assert recorder.register_signing_key() == seed_signer(1).key_id  # genesis, alone
        assert recorder.register_signing_key() == seed_signer(1).key_id  # no-op
        signers.add(seed_signer(2))
        assert recorder.register_signing_key() == seed_signer(2).key_id  # rotation, alone
        assert recorder.registered_key_ids() == [seed_signer(1).key_id, seed_signer(2).key_id]
        write_notes(app, streams=1, edits=1)  # signed by key 2, no new registration
        assert len(recorder.registered_key_ids()) == 2
    finally:
        app.close()
    store = Store(store_url)
    assert [e[2] == KEY_LOG_STREAM for e in store.entries()] == [True, True, False, False]
    result = verify(store_url)
    assert result.ok, result.message
    assert result.key_ids == (seed_signer(1).key_id, seed_signer(2).key_id)
