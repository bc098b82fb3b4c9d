"""Fixtures for the ledger storage tests.

PostgreSQL tests (marked ``postgres``) use one database per xdist worker,
``caleol_test_ledger_<worker>``, on 127.0.0.1:5432 as user postgres (trust auth); tables are
dropped before each test. When the server is unreachable they are skipped, except with
``CI=true`` where they fail.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator

import psycopg
import pytest

PG_HOST = os.environ.get("CALEOL_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CALEOL_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("CALEOL_TEST_PG_USER", "postgres")


def _connect(dbname: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname, autocommit=True, connect_timeout=3
    )


def _postgres_or_skip() -> None:
    try:
        with _connect("postgres"):
            pass
    except psycopg.OperationalError as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required when CI=true and is unreachable: {e}")
        pytest.skip(f"PostgreSQL unreachable: {e}")


def reset_tables(dbname: str) -> None:
    """Drop every table of the (test-only) database's public schema."""
    with _connect(dbname) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        names = [str(row[0]) for row in rows.fetchall()]
        if names:
            conn.execute("DROP TABLE IF EXISTS " + ", ".join(f'"{n}"' for n in names) + " CASCADE")


def worker_dbname() -> str:
    """This run's and this worker's database: two test runs on one machine never share one."""
    run = os.environ.get("CALEOL_TEST_RUN", str(os.getppid()))
    return f"caleol_test_ledger_{run}_" + os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def pg_dbname() -> Iterator[str]:
    """Name of this worker's test database, created for the session and dropped after it."""
    _postgres_or_skip()
    name = worker_dbname()
    with _connect("postgres") as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname=%s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with _connect("postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_dbname: str) -> str:
    """URL of this worker's test database, with the ledger tables dropped."""
    reset_tables(pg_dbname)
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{pg_dbname}"


@pytest.fixture(scope="class")
def pg_unittest(request: pytest.FixtureRequest, pg_dbname: str) -> Iterator[None]:
    """For unittest classes: ``self.pg_dbname``, ``self.pg_url``, ``self.reset_pg()``."""
    assert request.cls is not None
    request.cls.pg_dbname = pg_dbname
    request.cls.pg_url = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{pg_dbname}"
    reset: Callable[[], None] = lambda: reset_tables(pg_dbname)  # noqa: E731
    request.cls.reset_pg = staticmethod(reset)
    yield


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty ledger store URL, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('ledger')}/ledger.db"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def fresh_store() -> Iterator[Callable[[str], str]]:
    """``fresh(backend) -> url`` of an empty store, callable many times in one test
    (hypothesis examples). The postgres backend needs the ``pg_dbname`` fixture too."""
    made: list[str] = []

    def fresh(backend: str) -> str:
        if backend == "sqlite":
            made.append(tempfile.mkdtemp(prefix="caleol-prop-"))
            return f"sqlite:///{made[-1]}/ledger.db"
        dbname = worker_dbname()
        reset_tables(dbname)
        return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{dbname}"

    yield fresh
    for path in made:
        shutil.rmtree(path, ignore_errors=True)
