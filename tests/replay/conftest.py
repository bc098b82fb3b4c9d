"""Fixtures for the regulator-toolkit tests: a closed commission on SQLite (and PostgreSQL).

PostgreSQL tests (marked ``postgres``) use their own scratch database per run and worker,
``caleol_t5_<run>_<worker>``, dropped after the session; skipped when the server is unreachable
(except with ``CI=true``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from audit_support import Closed, build_closed

PG_HOST = os.environ.get("CALEOL_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CALEOL_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("CALEOL_TEST_PG_USER", "postgres")


def _connect(dbname: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname, autocommit=True, connect_timeout=3
    )


@pytest.fixture(scope="session")
def audit_pg_url() -> Iterator[str]:
    try:
        with _connect("postgres"):
            pass
    except psycopg.OperationalError as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required when CI=true and is unreachable: {e}")
        pytest.skip(f"PostgreSQL unreachable: {e}")
    run = os.environ.get("CALEOL_TEST_RUN", str(os.getppid()))
    name = f"caleol_t5_{run}_" + os.environ.get("PYTEST_XDIST_WORKER", "main")
    with _connect("postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    with _connect("postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Closed]:
    """A closed commission with approved minutes, on a SQLite ledger (shared by a module)."""
    folder = tmp_path_factory.mktemp("closed")
    built = build_closed(f"sqlite:///{folder}/ledger.db", folder / "keys")
    yield built
    built.app.close()


@pytest.fixture
def fresh_closed(tmp_path: Path) -> Iterator[Closed]:
    built = build_closed(f"sqlite:///{tmp_path}/ledger.db", tmp_path / "keys")
    yield built
    built.app.close()
