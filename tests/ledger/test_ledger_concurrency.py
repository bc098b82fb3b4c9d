"""Concurrent writers (separate applications, so separate connections) lose nothing, leaf
indexes stay dense and in notification order, and the ledger verifies."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from test_ledger_support import STAFF, Note, Store, make_app, seed_signer

from ledger.config import open_recorder
from ledger.keys import StaticSigners
from ledger.records import KEY_LOG_STREAM
from ledger.verify import verify_ledger


def run_writers(url: str, writers: int, saves: int) -> int:
    signers = StaticSigners(seed_signer(1))
    apps = [make_app(url, signers) for _ in range(writers)]
    start = threading.Barrier(writers)
    errors: list[BaseException] = []
    written = [0] * writers

    def write(n: int) -> None:
        try:
            start.wait()
            for i in range(saves):
                notes = [Note(title=f"w{n} s{i} #{k}", actor=STAFF) for k in range(1 + i % 3)]
                notes[0].edit(line="x", actor=STAFF)
                apps[n].save(*notes)
                written[n] += len(notes) + 1
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for app in apps:
        app.close()
    if errors:
        raise errors[0]
    return sum(written)


def check_store(url: str, expected_events: int) -> None:
    store = Store(url)
    entries = store.entries()
    assert store.count_events() == expected_events
    assert [e[0] for e in entries] == list(range(expected_events + 1))  # dense from 0
    assert [e[2] for e in entries].count(KEY_LOG_STREAM) == 1  # one genesis, no duplicate
    nids = [e[1] for e in entries if e[1] is not None]
    assert nids == sorted(nids)  # leaf order is commit order
    factory, recorder = open_recorder(url, create=False)
    try:
        result = verify_ledger(recorder)
    finally:
        factory.close()
    assert result.ok, result.message
    assert result.entries_checked == expected_events + 1


@pytest.mark.postgres
def test_ledger_postgres_eight_concurrent_writers(pg_url: str) -> None:
    expected = run_writers(pg_url, writers=8, saves=40)
    check_store(pg_url, expected)


def test_ledger_sqlite_concurrent_writers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    expected = run_writers(url, writers=4, saves=25)
    check_store(url, expected)
