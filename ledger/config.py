"""Database URL -> eventsourcing environment, and opening the ledger store from a URL.

URLs: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``, ``sqlite:///:memory:``
(a fresh shared in-memory database), ``postgresql://user[:password]@host[:port]/dbname``
(``?schema=name`` optional). Default: ``CALEOL_DATABASE_URL``, else
``sqlite:///./var/caleol.db``.

Building an application on the ledger infrastructure::

    env = environment_for(url, key_dir="./var/keys")   # or rely on CALEOL_KEY_DIR
    app = MyApplication(env=env)                       # recorder = ledger recorder
    app.recorder.signers = StaticSigners(signer)       # optional: explicit signers
"""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import psycopg
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment
from psycopg import sql

from ledger.keys import KEY_DIR_ENV, SignerProvider
from ledger.postgres_recorder import LedgerPostgresApplicationRecorder
from ledger.sqlite_recorder import LedgerSQLiteApplicationRecorder

__all__ = [
    "DATABASE_URL_ENV",
    "DEFAULT_DATABASE_URL",
    "POSTGRES_MODULE",
    "SQLITE_MODULE",
    "DatabaseURL",
    "LedgerConfigError",
    "LedgerRecorder",
    "database_url",
    "ensure_postgres_database",
    "environment_for",
    "open_recorder",
    "parse_database_url",
]

DATABASE_URL_ENV = "CALEOL_DATABASE_URL"
DEFAULT_DATABASE_URL = "sqlite:///./var/caleol.db"
SQLITE_MODULE = "ledger.sqlite_recorder"
POSTGRES_MODULE = "ledger.postgres_recorder"

LedgerRecorder = LedgerSQLiteApplicationRecorder | LedgerPostgresApplicationRecorder


class LedgerConfigError(ValueError):
    """Unusable database URL, or the database is missing when it must exist."""


@dataclass(frozen=True)
class DatabaseURL:
    kind: str  # "sqlite" | "postgresql"
    path: str = ""  # sqlite: file path or "file:...?mode=memory" URI
    host: str = ""
    port: int = 5432
    user: str = ""
    password: str = ""
    dbname: str = ""
    schema: str = ""

    @property
    def is_memory(self) -> bool:
        return self.kind == "sqlite" and "mode=memory" in self.path


def database_url(url: str | None = None) -> str:
    return url or os.environ.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL


def parse_database_url(url: str) -> DatabaseURL:
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        if parsed.netloc:
            raise LedgerConfigError(f"SQLite URLs have no host: use sqlite:///path ({url!r})")
        path = unquote(parsed.path)[1:]  # "sqlite:///x" -> "x", "sqlite:////abs" -> "/abs"
        if not path:
            raise LedgerConfigError(f"no database path in {url!r}")
        if path == ":memory:":
            path = f"file:caleol-{uuid.uuid4().hex}?mode=memory&cache=shared"
        return DatabaseURL(kind="sqlite", path=path)
    if parsed.scheme in ("postgresql", "postgres"):
        dbname = unquote(parsed.path.lstrip("/"))
        if not dbname:
            raise LedgerConfigError(f"no database name in {url!r}")
        query = parse_qs(parsed.query)
        return DatabaseURL(
            kind="postgresql",
            host=parsed.hostname or "localhost",
            port=parsed.port or 5432,
            user=unquote(parsed.username or "postgres"),
            password=unquote(parsed.password or ""),
            dbname=dbname,
            schema=query.get("schema", [""])[0],
        )
    raise LedgerConfigError(f"unsupported database URL {url!r} (sqlite:/// or postgresql://)")


def ensure_postgres_database(db: DatabaseURL) -> None:
    """Create the PostgreSQL database if it does not exist (connects to ``postgres``)."""
    with psycopg.connect(
        host=db.host,
        port=db.port,
        user=db.user,
        password=db.password or None,
        dbname="postgres",
        autocommit=True,
        connect_timeout=10,
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db.dbname,))
        if exists.fetchone() is None:
            # DuplicateDatabase: created meanwhile by another process.
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db.dbname)))


def environment_for(
    url: str | None = None,
    *,
    key_dir: str | os.PathLike[str] | None = None,
    create: bool = True,
) -> dict[str, str]:
    """Eventsourcing environment variables for the ledger infrastructure at ``url``.

    With ``create`` (default), missing SQLite parent directories and PostgreSQL databases
    are created, and tables are created on first use; without it, tables are not created.
    """
    db = parse_database_url(database_url(url))
    env: dict[str, str] = {"CREATE_TABLE": "y" if create else "n"}
    if key_dir is not None:
        env[KEY_DIR_ENV] = os.fspath(key_dir)
    if db.kind == "sqlite":
        if not db.is_memory:
            parent = Path(db.path).parent
            if create:
                parent.mkdir(parents=True, exist_ok=True)
            elif not Path(db.path).exists():
                raise LedgerConfigError(f"SQLite database {db.path} does not exist")
        env.update(PERSISTENCE_MODULE=SQLITE_MODULE, SQLITE_DBNAME=db.path)
        return env
    if create:
        ensure_postgres_database(db)
    env.update(
        PERSISTENCE_MODULE=POSTGRES_MODULE,
        POSTGRES_DBNAME=db.dbname,
        POSTGRES_HOST=db.host,
        POSTGRES_PORT=str(db.port),
        POSTGRES_USER=db.user,
        POSTGRES_PASSWORD=db.password,
    )
    if db.schema:
        env["POSTGRES_SCHEMA"] = db.schema
    return env


def open_recorder(
    url: str | None = None,
    *,
    create: bool = True,
    signers: SignerProvider | None = None,
    env: dict[str, str] | None = None,
    name: str = "caleol",
) -> tuple[InfrastructureFactory[Any], LedgerRecorder]:
    """(factory, ledger application recorder) for ``url``; close the factory when done.

    For reading/verifying pass ``create=False`` (no database, directory or table created).
    """
    environment = environment_for(url, create=create)
    environment.update(env or {})
    factory = InfrastructureFactory.construct(Environment(name, environment))
    try:
        if signers is not None:
            factory.signers = signers  # type: ignore[attr-defined]
        recorder = factory.application_recorder()
    except BaseException:
        factory.close()
        raise
    if not isinstance(
        recorder, LedgerSQLiteApplicationRecorder | LedgerPostgresApplicationRecorder
    ):
        factory.close()
        raise LedgerConfigError(f"{type(recorder).__name__} is not a ledger recorder")
    return factory, recorder
