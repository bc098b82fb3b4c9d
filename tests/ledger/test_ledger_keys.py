"""The key store, signers and the key log aggregate."""

from __future__ import annotations

import logging
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ledger.keys import (
    KEY_LOG_ID,
    LEDGER_ACTOR,
    KeyLog,
    KeyStore,
    KeyStoreError,
    StaticSigners,
    key_id_for,
    signer_from_seed,
)


def test_ledger_key_generated_on_first_use_with_private_mode(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys")
    assert keys.active_key_id() is None and keys.list_keys() == []
    signer = keys.current()
    assert signer.key_id == key_id_for(signer.public_bytes)
    assert signer.key_id.startswith("ed25519:") and len(signer.key_id) == 8 + 16
    assert keys.current() is signer  # same key next time
    pem = tmp_path / "keys" / (signer.key_id.replace(":", "-") + ".pem")
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert b"BEGIN PRIVATE KEY" in pem.read_bytes()
    assert [k.key_id for k in keys.list_keys()] == [signer.key_id]


def test_ledger_encrypted_keys_and_passphrase_errors(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path, "correct horse")
    signer = keys.current()
    pem = (tmp_path / (signer.key_id.replace(":", "-") + ".pem")).read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in pem
    with pytest.raises(KeyStoreError, match="wrong CALEOL_KEY_PASSPHRASE") as wrong:
        KeyStore(tmp_path, "battery staple").current()
    assert "battery" not in str(wrong.value)
    with pytest.raises(KeyStoreError, match="encrypted: set CALEOL_KEY_PASSPHRASE"):
        KeyStore(tmp_path).current()
    assert KeyStore(tmp_path, "correct horse").current().public_bytes == signer.public_bytes


def test_ledger_passphrase_set_for_plain_keys_is_an_error(tmp_path: Path) -> None:
    KeyStore(tmp_path).current()
    with pytest.raises(KeyStoreError, match="not encrypted"):
        KeyStore(tmp_path, "late passphrase").current()


def test_ledger_rotate_and_list(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path)
    first = keys.current()
    second = keys.rotate()
    assert second.key_id != first.key_id
    assert keys.current().key_id == second.key_id
    # Another process (another KeyStore object) sees the rotation.
    other = KeyStore(tmp_path)
    assert other.active_key_id() == second.key_id
    third = other.rotate()
    assert keys.current().key_id == third.key_id
    listed = keys.list_keys()
    assert [k.key_id for k in listed] == [first.key_id, second.key_id, third.key_id]
    assert [k.active for k in listed] == [False, False, True]
    assert keys.signer_for(first.key_id) is not None
    assert keys.signer_for("ed25519:0000000000000000") is None


def test_ledger_deterministic_seed(tmp_path: Path) -> None:
    seed = bytes(range(32))
    assert signer_from_seed(seed).public_bytes == signer_from_seed(seed).public_bytes
    keys = KeyStore(tmp_path)
    imported = keys.import_seed(seed)
    assert imported.key_id == signer_from_seed(seed).key_id
    assert keys.import_seed(seed).key_id == imported.key_id  # idempotent
    assert keys.current().key_id == imported.key_id
    with pytest.raises(ValueError):
        signer_from_seed(b"short")


def test_ledger_secrets_never_in_reprs_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    keys = KeyStore(tmp_path, "topsecret")
    signer = keys.current()
    raw_private = signer._private_key.private_bytes_raw()
    for text in (repr(keys), repr(signer), str(signer), caplog.text):
        assert "topsecret" not in text
        assert raw_private.hex() not in text
    assert "_private_key" not in repr(signer)


def test_ledger_key_store_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALEOL_KEY_DIR", str(tmp_path / "envkeys"))
    monkeypatch.setenv("CALEOL_KEY_PASSPHRASE", "pw")
    keys = KeyStore.from_env()
    assert keys.directory == tmp_path / "envkeys"
    keys.current()
    assert any(p.suffix == ".pem" for p in (tmp_path / "envkeys").iterdir())
    monkeypatch.delenv("CALEOL_KEY_DIR")
    assert KeyStore.from_env().directory == Path("./var/keys")


def test_ledger_static_signers() -> None:
    a, b = signer_from_seed(b"a" * 32), signer_from_seed(b"b" * 32)
    signers = StaticSigners(a)
    assert signers.current() is a
    signers.add(b)
    assert signers.current() is b and signers.signer_for(a.key_id) is a


def test_ledger_key_log_aggregate_folds_registrations() -> None:
    a, b = signer_from_seed(b"a" * 32), signer_from_seed(b"b" * 32)
    now = datetime.now(UTC)
    genesis = KeyLog.KeyRegistered(  # type: ignore[call-arg]
        originator_id=KEY_LOG_ID,
        originator_version=1,
        timestamp=now,
        key_id=a.key_id,
        public_key=a.public_bytes.hex(),
        previous_key_id=None,
        actor=LEDGER_ACTOR,
    )
    rotation = KeyLog.KeyRegistered(  # type: ignore[call-arg]
        originator_id=KEY_LOG_ID,
        originator_version=2,
        timestamp=now,
        key_id=b.key_id,
        public_key=b.public_bytes.hex(),
        previous_key_id=a.key_id,
        actor=LEDGER_ACTOR,
    )
    log = rotation.mutate(genesis.mutate(None))
    assert isinstance(log, KeyLog)
    assert log.id == KEY_LOG_ID == KeyLog.create_id()
    assert [k.key_id for k in log.keys] == [a.key_id, b.key_id]
    assert log.active_key_id == b.key_id and log.version == 2


def test_ledger_key_files_are_not_world_readable_even_with_open_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        signer = KeyStore(tmp_path).current()
    finally:
        os.umask(old)
    pem = tmp_path / (signer.key_id.replace(":", "-") + ".pem")
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
