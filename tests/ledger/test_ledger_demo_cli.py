"""The demo, verify and erasure, run the way a user runs them: the real `caleol` command.

- the demo on SQLite and on PostgreSQL, with the same seed and the same key, gives the same
  events byte for byte (payloads, record hashes, signatures);
- running it again reports the commission already there and adds nothing;
- after `caleol erase-applicant`, no stored byte decrypts to the applicant's data anywhere, the
  erasure is itself an event, and `caleol verify` still passes.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger.keys import KeyStore
from ledger.runtime import open_application

SEED_KEY = bytes(range(32))


def caleol(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from api.cli import main; main()", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def user_env(tmp_path: Path) -> dict[str, str]:
    key_dir = tmp_path / "keys"
    KeyStore(key_dir).import_seed(SEED_KEY)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALEOL_")}
    env["CALEOL_KEY_DIR"] = str(key_dir)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return env


def _rows(url: str) -> list[tuple[Any, ...]]:
    query = (
        "SELECT leaf_index, stream, version, topic, recorded_at, actor, payload_sha256,"
        " prev_hash, key_id, record_hash, signature FROM ledger_entries ORDER BY leaf_index"
    )
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            rows = conn.execute(query).fetchall()
    else:
        with psycopg.connect(url.replace("postgresql://", "postgresql://", 1)) as conn:
            rows = conn.execute(query).fetchall()
    return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows]


@pytest.mark.postgres
def test_demo_is_byte_identical_on_sqlite_and_postgresql(
    user_env: dict[str, str], tmp_path: Path, pg_url: str
) -> None:
    sqlite_url = f"sqlite:///{tmp_path}/demo.db"
    first = caleol("demo", "--db", sqlite_url, "--seed", "7", env=user_env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    second = caleol("demo", "--db", pg_url, "--seed", "7", env=user_env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert first.stdout == second.stdout
    sqlite_rows, pg_rows = _rows(sqlite_url), _rows(pg_url)
    assert len(sqlite_rows) > 400
    assert sqlite_rows == pg_rows
    commission_id = first.stdout.split()[3]
    for fmt in ("md", "json", "pdf"):
        rendered = []
        for url in (sqlite_url, pg_url):
            out = tmp_path / f"minutes-{len(rendered)}.{fmt}"
            done = caleol(
                "minutes",
                commission_id,
                "--db",
                url,
                "--format",
                fmt,
                "--out",
                str(out),
                env=user_env,
                cwd=tmp_path,
            )
            assert done.returncode == 0, done.stderr
            rendered.append(out.read_bytes())
        assert rendered[0] == rendered[1], f"{fmt} minutes differ between SQLite and PostgreSQL"
    for url in (sqlite_url, pg_url):
        verified = caleol("verify", "--db", url, env=user_env, cwd=tmp_path)
        assert verified.returncode == 0, verified.stderr
        assert "not anchored" in verified.stdout


def test_demo_again_reports_the_existing_commission(
    user_env: dict[str, str], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/demo.db"
    created = caleol("demo", "--db", url, env=user_env, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    before = _rows(url)
    again = caleol("demo", "--db", url, env=user_env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "already present" in again.stdout
    assert _rows(url) == before


def test_default_database_and_keys_when_nothing_is_configured(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALEOL_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    assert caleol("demo", env=env, cwd=tmp_path).returncode == 0
    assert (tmp_path / "var" / "caleol.db").exists()
    pem = next((tmp_path / "var" / "keys").glob("*.pem"))
    assert pem.stat().st_mode & 0o777 == 0o600
    verified = caleol("verify", env=env, cwd=tmp_path)
    assert verified.returncode == 0, verified.stderr


def _an_applicant(url: str, env: dict[str, str]) -> tuple[str, str, str, list[str]]:
    """(numéro unique, last name, applicant_ref, sealed files) of the demo's first candidate."""
    os.environ["CALEOL_KEY_DIR"] = env["CALEOL_KEY_DIR"]
    try:
        app = open_application(url, create=False)
        try:
            commission_id = next(
                n.originator_id
                for n in app.recorder.select_notifications(start=1, limit=50)
                if n.topic.endswith("Commission.Scheduled")
            )
            commission = app.commission(commission_id)
            candidate = next(iter(commission.candidates.values()))
            ref = candidate["applicant_ref"]
            sealed = [
                c["sealed_file"]
                for c in commission.candidates.values()
                if c["applicant_ref"] == ref
            ]
            file = app.vault.open(ref, candidate["sealed_file"])
            assert file is not None
            return file.numero_unique, file.household[0].last_name, ref, sealed
        finally:
            app.close()
    finally:
        del os.environ["CALEOL_KEY_DIR"]


def test_erasure_leaves_the_ledger_verifiable_and_the_data_unreadable(
    user_env: dict[str, str], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/demo.db"
    assert caleol("demo", "--db", url, env=user_env, cwd=tmp_path).returncode == 0
    numero, last_name, ref, sealed = _an_applicant(url, user_env)
    rows_before = _rows(url)

    erased = caleol("erase-applicant", numero, "--db", url, env=user_env, cwd=tmp_path)
    assert erased.returncode == 0, erased.stderr
    # Nothing already recorded is altered; the erasure is one more signed event.
    rows_after = _rows(url)
    assert rows_after[: len(rows_before)] == rows_before
    assert rows_after[-1][3].endswith("ErasureRegister.ApplicantErased")

    verified = caleol("verify", "--db", url, env=user_env, cwd=tmp_path)
    assert verified.returncode == 0, verified.stderr

    # The data key is gone, so no sealed copy of the file opens any more ...
    os.environ["CALEOL_KEY_DIR"] = user_env["CALEOL_KEY_DIR"]
    try:
        app = open_application(url, create=False)
        try:
            stored = app.vault.table.get(ref)
            assert stored is not None and stored.key is None
            assert all(app.vault.open(ref, s) is None for s in sealed)
        finally:
            app.close()
    finally:
        del os.environ["CALEOL_KEY_DIR"]
    # ... and no byte of the database holds the clear numéro unique or name.
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("demo.db*"))
    assert numero.encode() not in raw
    assert last_name.encode() not in raw

    again = caleol("erase-applicant", numero, "--db", url, env=user_env, cwd=tmp_path)
    assert again.returncode == 2
    assert "already erased" in again.stderr
