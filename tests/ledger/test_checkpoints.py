"""The database-backed Merkle tree, the checkpointer, and `verify` against checkpoints.

- proofs and roots served from ``merkle_nodes`` equal the in-memory tree's (property-based);
- the checkpointer catches up in leaf order, never re-reading an old leaf, and signs C2SP
  checkpoints with the ledger's active key (rotation included);
- against a published checkpoint, `verify` detects: a ledger truncated after it, a history
  rewritten and re-signed with a new key, a fork between two checkpoints, a forged checkpoint
  and altered Merkle tables, each with its own kind and message.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ledger_support import NotesApp, Store, make_app, seed_signer, write_notes

from ledger.checkpoint import open_checkpoint
from ledger.checkpoints import Checkpointer, CheckpointerError, note_verifier
from ledger.config import open_recorder
from ledger.keys import StaticSigners
from ledger.merkle import (
    DictNodeStore,
    MerkleStoreError,
    MerkleTree,
    hash_leaf,
    verify_consistency,
    verify_inclusion,
)
from ledger.merkle_store import AuditDB, DBNodeStore, StoredMerkleTree
from replay.anchor import parse_checkpoint_text, verify_database


def _leaf(i: int) -> bytes:
    return hash_leaf(b"leaf %d" % i)


# -- the node store -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sqlite_db(tmp_path_factory: pytest.TempPathFactory) -> Any:
    factory, recorder = open_recorder(f"sqlite:///{tmp_path_factory.mktemp('nodes')}/n.db")
    db = AuditDB(recorder)
    db.create_tables()
    yield db
    factory.close()


def _clear(db: AuditDB) -> None:
    with db.write() as cursor:
        cursor.execute(db.sql("DELETE FROM {nodes}"))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=st.lists(st.integers(min_value=1, max_value=23), min_size=1, max_size=6))
def test_db_store_proofs_equal_the_in_memory_tree(sqlite_db: AuditDB, batches: list[int]) -> None:
    _clear(sqlite_db)
    memory = MerkleTree(DictNodeStore())
    size = 0
    for batch in batches:
        leaves = [_leaf(size + i) for i in range(batch)]
        size += batch
        memory.extend(leaves)
        # Reopen the stored tree each time: it resumes from the border nodes in the database.
        stored = StoredMerkleTree(DBNodeStore(sqlite_db), size - batch)
        stored.extend(leaves)
        assert sqlite_db.tree_size() == size
    stored = StoredMerkleTree(DBNodeStore(sqlite_db), size)
    for n in range(1, size + 1):
        assert stored.root(n) == memory.root(n)
        for index in {0, n // 2, n - 1}:
            proof = stored.inclusion_proof(index, n)
            assert proof == memory.inclusion_proof(index, n)
            verify_inclusion(index, n, _leaf(index), proof, memory.root(n))
        for old in {1, n // 2 or 1, n}:
            proof = stored.consistency_proof(old, n)
            assert proof == memory.consistency_proof(old, n)
            verify_consistency(old, n, proof, memory.root(old), memory.root(n))


def test_db_store_nodes_are_immutable(sqlite_db: AuditDB) -> None:
    _clear(sqlite_db)
    store = DBNodeStore(sqlite_db)
    store.put_many([(0, 0, b"\x01" * 32), (0, 1, b"\x02" * 32)])
    store.put_many([(0, 0, b"\x01" * 32)])  # the same hash again: a no-op
    with pytest.raises(MerkleStoreError, match="overwrite"):
        store.put_many([(0, 1, b"\x03" * 32)])
    assert store.get_many([(0, 0), (0, 1), (5, 5)]) == {(0, 0): b"\x01" * 32, (0, 1): b"\x02" * 32}


# -- the checkpointer -----------------------------------------------------------------------


class CountingReader:
    """Wraps a recorder and records every leaf range read."""

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        self.reads: list[tuple[int, int]] = []

    def select_entries(self, start: int, limit: int) -> Any:
        page = self.recorder.select_entries(start, limit)
        self.reads.append((start, len(page)))
        return page


def _app(url: str, *signers: Any) -> NotesApp:
    return make_app(url, StaticSigners(*(signers or (seed_signer(1),))))


def test_checkpointer_catches_up_in_leaf_order_never_rereading(store_url: str) -> None:
    app = _app(store_url)
    notes = write_notes(app, streams=5, edits=3)
    reader = CountingReader(app.recorder)
    checkpointer = Checkpointer(app.recorder, reader=reader, page_size=7)
    first = checkpointer.issue("periodic")
    assert first.size == app.recorder.count_entries() == 21
    for note in notes:
        note.edit(line="more", actor={"id": "staff:1", "role": "staff", "on_behalf_of": None})
    app.save(*notes)
    reads_before = len(reader.reads)
    second = checkpointer.issue("periodic")
    assert second.size == 26
    # Catching up read only the new leaves (and the last leaf, once, for the signing key).
    new_reads = [r for r in reader.reads[reads_before:] if r[1] > 1]
    assert all(start >= first.size for start, _ in new_reads)
    memory = MerkleTree(DictNodeStore())
    memory.extend(hash_leaf(e.record_bytes()) for e in app.recorder.iter_entries())
    assert second.root == memory.root() and first.root == memory.root(first.size)
    # A fresh checkpointer (another process) resumes from the stored tree.
    again = Checkpointer(app.recorder).current()
    assert (again.id, again.size) == (second.id, 26)
    app.close()


def test_checkpoints_are_signed_by_the_active_ledger_key_under_the_origin(store_url: str) -> None:
    old, new = seed_signer(1), seed_signer(2)
    signers = StaticSigners(old)
    app = make_app(store_url, signers)
    write_notes(app, streams=2, edits=1)
    checkpointer = Checkpointer(app.recorder)
    before = checkpointer.issue("periodic")
    origin = before.origin
    assert origin == "caleol.example/ledger/" + old.key_id.split(":")[1]
    open_checkpoint(
        before.note, origin=origin, log_verifier=note_verifier(origin, old.public_bytes)
    )
    signers.add(new)
    app.recorder.register_signing_key()
    write_notes(app, streams=1, edits=0)
    after = checkpointer.issue("periodic")
    open_checkpoint(after.note, origin=origin, log_verifier=note_verifier(origin, new.public_bytes))
    assert [k.key_id for k in checkpointer.ledger_keys()] == [old.key_id, new.key_id]
    assert len(checkpointer.verifiers()) == 2
    report = verify_database(app.recorder, [parse_checkpoint_text(before.note, "before")])
    assert report.ok, report.message
    app.close()


def test_checkpointer_refuses_an_empty_ledger_and_an_altered_entry(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/l.db"
    app = _app(url)
    with pytest.raises(CheckpointerError, match="empty"):
        Checkpointer(app.recorder).issue()
    write_notes(app, streams=2, edits=2)
    Store(url).edit_entry(3, "topic", "altered")
    with pytest.raises(CheckpointerError, match="record hash"):
        Checkpointer(app.recorder).issue()
    app.close()


# -- verify against checkpoints -------------------------------------------------------------


def _wipe(url: str) -> None:
    store = Store(url)
    if store.is_sqlite:
        for suffix in ("", "-wal", "-shm"):
            path = Path(store.db.path + suffix)
            if path.exists():
                os.remove(path)
        return
    names = [r[0] for r in store.sql("SELECT tablename FROM pg_tables WHERE schemaname='public'")]
    store.sql("DROP TABLE IF EXISTS " + ", ".join(f'"{n}"' for n in names) + " CASCADE")


def _published(app: NotesApp) -> str:
    return Checkpointer(app.recorder).issue("periodic").note


def _verify(app: NotesApp, *notes: str) -> Any:
    anchors = [parse_checkpoint_text(n, f"anchor {i}") for i, n in enumerate(notes)]
    return verify_database(app.recorder, anchors, workers=1)


def _truncate(store: Store, keep: int) -> None:
    """Remove the entries from leaf ``keep`` on, and their stored events (a clean cut)."""
    doomed = store.sql("SELECT notification_id FROM ledger_entries WHERE leaf_index >= ?", (keep,))
    for (nid,) in doomed:
        store.sql(f"DELETE FROM stored_events WHERE {store.nid}=?", (nid,))
    store.sql("DELETE FROM ledger_entries WHERE leaf_index >= ?", (keep,))


def test_verify_against_checkpoint_accepts_an_extension(store_url: str) -> None:
    app = _app(store_url)
    notes = write_notes(app, streams=4, edits=2)
    published = _published(app)
    notes[0].edit(line="later", actor={"id": "staff:1", "role": "staff", "on_behalf_of": None})
    app.save(notes[0])
    Checkpointer(app.recorder).issue("periodic")
    report = _verify(app, published)
    assert report.ok and report.anchored, report.message
    assert any("consistency proof" in note for note in report.notes)
    app.close()


def test_truncation_after_a_published_checkpoint_is_detected(store_url: str) -> None:
    app = _app(store_url)
    write_notes(app, streams=4, edits=3)
    published = _published(app)  # 17 leaves
    store = Store(store_url)
    _truncate(store, 13)
    store.sql("DELETE FROM ledger_checkpoints")  # the landlord covers its tracks
    store.sql("DELETE FROM merkle_nodes")
    report = _verify(app, published)
    assert not report.ok and report.kind == "truncated"
    assert "covers 17 entries but the ledger has only 13" in report.message
    app.close()


def test_truncation_is_detected_by_the_ledgers_own_checkpoint(store_url: str) -> None:
    app = _app(store_url)
    write_notes(app, streams=3, edits=2)
    _published(app)
    _truncate(Store(store_url), 8)  # but the ledger's own checkpoint (size 10) is left
    report = _verify(app)
    assert not report.ok and report.kind == "truncated", report.message
    assert "the ledger's checkpoint #1" in report.message
    app.close()


def test_history_rewritten_and_resigned_with_a_new_key_is_detected(store_url: str) -> None:
    app = _app(store_url, seed_signer(1))
    write_notes(app, streams=3, edits=2)
    published = _published(app)
    app.close()
    _wipe(store_url)
    forged = _app(store_url, seed_signer(9))  # the landlord rebuilds with a fresh key
    write_notes(forged, streams=3, edits=2)
    _published(forged)
    report = _verify(forged, published)
    assert not report.ok and report.kind == "rewritten_new_key"
    assert "re-signed with another key" in report.message
    forged.close()


def test_fork_between_two_checkpoints_is_detected(store_url: str) -> None:
    app = _app(store_url)
    write_notes(app, streams=3, edits=2)
    first = _published(app)  # what the prefecture holds
    app.close()
    _wipe(store_url)
    forked = _app(store_url)  # same key, another history, checkpoints issued on it
    write_notes(forked, streams=3, edits=4)
    second = _published(forked)
    report = _verify(forked, first)
    assert not report.ok and report.kind == "fork", report.message
    assert "describe different histories" in report.message
    assert "consistency proof from size 10 to 16 fails" in report.message
    both = _verify(forked, first, second)
    assert not both.ok and both.kind == "fork"
    # Without the database's own checkpoints it is a plain rewrite before the checkpoint.
    Store(store_url).sql("DELETE FROM ledger_checkpoints")
    alone = _verify(forked, first)
    assert not alone.ok and alone.kind == "rewritten"
    assert "rewritten after the checkpoint was published" in alone.message
    forked.close()


def test_forged_checkpoint_and_altered_merkle_tables_are_detected(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/l.db"
    app = _app(url)
    write_notes(app, streams=3, edits=3)
    note = _published(app)
    lines = note.split("\n")
    lines[1] = "5"  # another size, same signature
    report = _verify(app, "\n".join(lines))
    assert not report.ok and report.kind == "forged_checkpoint"
    # Node (3, 0) covers leaves 0..7: part of the root of size 13.
    Store(url).sql("UPDATE merkle_nodes SET hash=? WHERE level=3 AND idx=0", (b"\x00" * 32,))
    report = _verify(app, note)
    assert not report.ok and report.kind == "merkle_store", report.message
    app.close()


def test_concurrent_checkpointers_build_one_consistent_tree(store_url: str) -> None:
    import threading

    app = _app(store_url)
    notes = write_notes(app, streams=4, edits=1)
    errors: list[BaseException] = []
    issued: list[Any] = []

    def checkpoint_loop() -> None:
        try:
            factory, recorder = open_recorder(
                store_url, create=False, signers=StaticSigners(seed_signer(1))
            )
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)
            return
        try:
            checkpointer = Checkpointer(recorder, page_size=3)
            for _ in range(4):
                issued.append(checkpointer.issue("periodic"))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            factory.close()

    threads = [threading.Thread(target=checkpoint_loop) for _ in range(3)]
    for thread in threads:
        thread.start()
    for j in range(5):  # the ledger keeps growing meanwhile
        for note in notes:
            note.edit(line=f"x{j}", actor={"id": "staff:1", "role": "staff", "on_behalf_of": None})
        app.save(*notes)
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(issued) == 12
    memory = MerkleTree(DictNodeStore())
    memory.extend(hash_leaf(e.record_bytes()) for e in app.recorder.iter_entries())
    for checkpoint in issued:
        assert checkpoint.root == memory.root(checkpoint.size)
    report = _verify(app, *(c.note for c in issued))
    assert report.ok, report.message
    app.close()


def test_cli_verify_anchor_exit_codes(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from api.cli import main

    url = f"sqlite:///{tmp_path}/l.db"
    app = _app(url)
    write_notes(app, streams=3, edits=3)
    anchor = tmp_path / "checkpoint.txt"
    anchor.write_text(_published(app))
    app.close()
    runner = CliRunner()
    ok = runner.invoke(main, ["verify", "--db", url, "--anchor", str(anchor)])
    assert ok.exit_code == 0 and "Anchored" in ok.output, ok.output
    _truncate(Store(url), 9)
    bad = runner.invoke(main, ["verify", "--db", url, "--anchor", str(anchor)])
    assert bad.exit_code == 1, bad.output
    assert "TAMPERED: truncated" in bad.output and "has only 9" in bad.output
    garbled = tmp_path / "garbled.txt"
    garbled.write_text(anchor.read_text().replace("\n", "\n\n", 1))
    unusable = runner.invoke(main, ["verify", "--db", url, "--anchor", str(garbled)])
    assert unusable.exit_code == 2, unusable.output
