"""PostgreSQL for the tests: the real server on 127.0.0.1:5432 (trust auth, user postgres).

Each test run and xdist worker gets its own scratch databases, dropped after the session. When the
server is unreachable, tests that need it are skipped, except with ``CI=true`` where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

PG_HOST = os.environ.get("CALEOL_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CALEOL_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("CALEOL_TEST_PG_USER", "postgres")


def connect(dbname: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname, autocommit=True, connect_timeout=3
    )


def require_postgres() -> None:
    try:
        with connect("postgres"):
            pass
    except psycopg.OperationalError as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required when CI=true and is unreachable: {e}")
        pytest.skip(f"PostgreSQL unreachable: {e}")


def scratch_name(prefix: str) -> str:
    """This run's and this worker's database: two test runs on one machine never share one."""
    run = os.environ.get("CALEOL_TEST_RUN", str(os.getppid()))
    return f"{prefix}_{run}_" + os.environ.get("PYTEST_XDIST_WORKER", "main")


def url(dbname: str) -> str:
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{dbname}"


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A fresh scratch database (its name), dropped afterwards."""
    require_postgres()
    name = scratch_name(prefix)
    with connect("postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with connect("postgres") as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_tables(dbname: str) -> None:
    """Drop every table of the (test-only) database's public schema."""
    with connect(dbname) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        names = [str(row[0]) for row in rows.fetchall()]
        if names:
            conn.execute("DROP TABLE IF EXISTS " + ", ".join(f'"{n}"' for n in names) + " CASCADE")
