"""The record format (a known-answer vector for the spec) and the verifier's parallel path."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from test_ledger_support import STAFF, Note, Store, make_app, seed_signer

from ledger.config import open_recorder
from ledger.keys import StaticSigners, key_id_for, signer_from_seed
from ledger.records import record_bytes, record_hash
from ledger.verify import verify_ledger

VECTOR_SEED = bytes(range(32))
VECTOR_PUBLIC = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
VECTOR_RECORD = (
    b'{"actor":{"id":"staff:1","on_behalf_of":null,"role":"staff"},'
    b'"key_id":"ed25519:56475aa75463474c","leaf":7,'
    b'"payload_sha256":"5041bf1f713df204784353e82f6a4a535931cb64f1f4b4a5aeaffcb720918b22",'
    b'"prev":null,"recorded_at":"2025-03-04T09:00:00.000000Z",'
    b'"stream":"6ba7b810-9dad-11d1-80b4-00c04fd430c8",'
    b'"topic":"domain.commission:Commission.Opened","v":1,"version":1}'
)
VECTOR_HASH = "95337d7fd4db03c2b26c32a1b248deb8aee604c900ed8b6e460f58a100333041"
VECTOR_SIGNATURE = (
    "633f804dd62b57fde3be12917b75302d7b3fce48fd8c0b6388ed60c68ec8049d"
    "a643562ca1a04c91e56d5df1e5cb1736dccdf733fd3a5b9ec48999a40d27ea01"
)


def test_ledger_record_known_answer_vector() -> None:
    signer = signer_from_seed(VECTOR_SEED)
    assert signer.public_bytes.hex() == VECTOR_PUBLIC
    assert signer.key_id == "ed25519:" + hashlib.sha256(signer.public_bytes).hexdigest()[:16]
    assert signer.key_id == key_id_for(bytes.fromhex(VECTOR_PUBLIC)) == "ed25519:56475aa75463474c"
    data = record_bytes(
        stream="6ba7b810-9dad-11d1-80b4-00c04fd430c8",
        version=1,
        topic="domain.commission:Commission.Opened",
        recorded_at="2025-03-04T09:00:00.000000Z",
        actor={"role": "staff", "on_behalf_of": None, "id": "staff:1"},
        payload_sha256_hex=hashlib.sha256(b'{"x":1}').hexdigest(),
        prev_hex=None,
        leaf=7,
        key_id=signer.key_id,
    )
    assert data == VECTOR_RECORD
    assert record_hash(data).hex() == hashlib.sha256(VECTOR_RECORD).hexdigest() == VECTOR_HASH
    assert signer.sign(record_hash(data)).hex() == VECTOR_SIGNATURE  # Ed25519 is deterministic
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(VECTOR_PUBLIC)).verify(
        bytes.fromhex(VECTOR_SIGNATURE), bytes.fromhex(VECTOR_HASH)
    )


@pytest.fixture(scope="module")
def big_ledger(tmp_path_factory: pytest.TempPathFactory) -> str:
    """~6,000 entries, saved 60 events per transaction."""
    url = f"sqlite:///{tmp_path_factory.mktemp('big')}/ledger.db"
    app = make_app(url, StaticSigners(seed_signer(1)))
    notes = [Note(title=f"n{i}", actor=STAFF) for i in range(60)]
    app.save(*notes)
    for j in range(99):
        for note in notes:
            note.edit(line=str(j), actor=STAFF)
        app.save(*notes)
    app.close()
    return url


def copy_of(url: str, tmp_path: Path) -> str:
    source = Path(url.removeprefix("sqlite:///"))
    target = tmp_path / "copy.db"
    target.write_bytes(source.read_bytes())
    for suffix in ("-wal", "-shm"):
        side = source.with_name(source.name + suffix)
        if side.exists():
            target.with_name(target.name + suffix).write_bytes(side.read_bytes())
    return f"sqlite:///{target}"


def run_verify(url: str, **kwargs: object) -> object:
    factory, recorder = open_recorder(url, create=False)
    try:
        return verify_ledger(recorder, **kwargs)  # type: ignore[arg-type]
    finally:
        factory.close()


def test_parallel_verify_passes_and_reports_progress(big_ledger: str) -> None:
    seen: list[tuple[int, int]] = []
    result = run_verify(
        big_ledger,
        workers=2,
        parallel_threshold=0,
        chunk_size=500,
        page_size=1000,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert result.ok, result.message  # type: ignore[attr-defined]
    assert result.entries_checked == 6001  # type: ignore[attr-defined]
    assert seen[-1] == (6001, 6001)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_parallel_verify_reports_the_earliest_bad_signature(
    big_ledger: str, tmp_path: Path
) -> None:
    url = copy_of(big_ledger, tmp_path)
    store = Store(url)
    store.edit_entry(4321, "signature", bytes(64))
    store.edit_entry(1234, "signature", b"\x01" * 64)
    result = run_verify(url, workers=2, parallel_threshold=0, chunk_size=300)
    assert (result.kind, result.leaf) == ("signature", 1234)  # type: ignore[attr-defined]
    entry = next(e for e in store.entries() if e[0] == 1234)
    assert (result.stream, result.version) == (entry[2], entry[3])  # type: ignore[attr-defined]


def test_sequential_failure_after_a_bad_signature_is_not_reported_first(
    big_ledger: str, tmp_path: Path
) -> None:
    url = copy_of(big_ledger, tmp_path)
    store = Store(url)
    store.edit_entry(2000, "signature", bytes(64))
    store.edit_entry(5000, "recorded_at", None)
    result = run_verify(url, workers=2, parallel_threshold=0, chunk_size=256)
    assert (result.kind, result.leaf) == ("signature", 2000)  # type: ignore[attr-defined]


def test_empty_ledger(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/empty.db"
    factory, recorder = open_recorder(url)
    try:
        result = verify_ledger(recorder)
        assert result.ok and result.entries_checked == 0
        assert "not anchored" in result.message
        anchored = verify_ledger(recorder, anchor=seed_signer(1).public_bytes)
        assert not anchored.ok and anchored.kind == "unknown_key"
    finally:
        factory.close()
