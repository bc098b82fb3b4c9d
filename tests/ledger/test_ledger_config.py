"""Database URLs -> eventsourcing environments."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from eventsourcing.application import Application
from test_ledger_support import STAFF, Note, make_app, seed_signer

from ledger.config import (
    DEFAULT_DATABASE_URL,
    LedgerConfigError,
    environment_for,
    open_recorder,
    parse_database_url,
)
from ledger.keys import StaticSigners
from ledger.postgres_recorder import LedgerPostgresApplicationRecorder
from ledger.sqlite_recorder import LedgerSQLiteApplicationRecorder


def test_ledger_sqlite_urls(tmp_path: Path) -> None:
    assert parse_database_url("sqlite:///./var/caleol.db").path == "./var/caleol.db"
    assert parse_database_url("sqlite:////abs/x.db").path == "/abs/x.db"
    assert parse_database_url("sqlite:///:memory:").is_memory
    target = tmp_path / "deep" / "er" / "ledger.db"
    env = environment_for(f"sqlite:///{target}", key_dir=tmp_path / "keys")
    assert env["PERSISTENCE_MODULE"] == "ledger.sqlite_recorder"
    assert env["SQLITE_DBNAME"] == str(target)
    assert env["CALEOL_KEY_DIR"] == str(tmp_path / "keys")
    assert target.parent.is_dir()
    with pytest.raises(LedgerConfigError, match="does not exist"):
        environment_for(f"sqlite:///{tmp_path}/absent.db", create=False)


def test_ledger_postgres_url_parsing() -> None:
    db = parse_database_url("postgresql://alice:p%40ss@db.example:6543/caleol?schema=audit")
    assert (db.user, db.password, db.host, db.port, db.dbname, db.schema) == (
        "alice",
        "p@ss",
        "db.example",
        6543,
        "caleol",
        "audit",
    )
    assert parse_database_url("postgres://h/x").user == "postgres"
    for bad in ("mysql://h/x", "postgresql://h/", "sqlite://host/x.db"):
        with pytest.raises(LedgerConfigError):
            parse_database_url(bad)


def test_ledger_default_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CALEOL_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    assert DEFAULT_DATABASE_URL == "sqlite:///./var/caleol.db"
    assert environment_for()["SQLITE_DBNAME"] == "./var/caleol.db"
    assert (tmp_path / "var").is_dir()
    monkeypatch.setenv("CALEOL_DATABASE_URL", f"sqlite:///{tmp_path}/other.db")
    assert environment_for()["SQLITE_DBNAME"] == f"{tmp_path}/other.db"


def test_ledger_memory_database_application() -> None:
    app = make_app("sqlite:///:memory:", StaticSigners(seed_signer(1)))
    note = Note(title="x", actor=STAFF)
    app.save(note)
    assert isinstance(app.recorder, LedgerSQLiteApplicationRecorder)
    assert app.recorder.count_entries() == 2
    app.close()


def test_ledger_application_from_env_uses_ledger_infrastructure(tmp_path: Path) -> None:
    env = environment_for(f"sqlite:///{tmp_path}/app.db", key_dir=tmp_path / "keys")
    app = Application[object](env=env)  # type: ignore[type-var]
    try:
        assert isinstance(app.recorder, LedgerSQLiteApplicationRecorder)
        app.save(Note(title="x", actor=STAFF))  # key generated in tmp_path/keys
        assert any((tmp_path / "keys").glob("*.pem"))
    finally:
        app.close()


@pytest.mark.postgres
def test_ledger_postgres_database_created_on_demand(pg_dbname: str) -> None:
    name = pg_dbname + "_created"
    with psycopg.connect(
        host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
    ) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}"')
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    env = environment_for(url)
    assert env["PERSISTENCE_MODULE"] == "ledger.postgres_recorder"
    assert (env["POSTGRES_DBNAME"], env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == (
        name,
        "127.0.0.1",
        "5432",
    )
    factory, recorder = open_recorder(url, signers=StaticSigners(seed_signer(1)))
    try:
        assert isinstance(recorder, LedgerPostgresApplicationRecorder)
        assert recorder.count_entries() == 0
    finally:
        factory.close()
    with psycopg.connect(
        host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
    ) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}"')
