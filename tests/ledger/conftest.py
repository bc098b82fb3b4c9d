"""Fixtures for the ledger storage tests.

PostgreSQL tests (marked ``postgres``) use one database per xdist worker,
``caleol_test_ledger_<worker>``, on 127.0.0.1:5432 as user postgres (trust auth); tables are
dropped before each test. When the server is unreachable they are skipped, except with
``CI=true`` where they fail.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator

import pytest

from tests import pg


def worker_dbname() -> str:
    return pg.scratch_name("caleol_test_ledger")


@pytest.fixture(scope="session")
def pg_dbname() -> Iterator[str]:
    """Name of this worker's test database, created for the session and dropped after it."""
    with pg.scratch_database("caleol_test_ledger") as name:
        yield name


@pytest.fixture
def pg_url(pg_dbname: str) -> str:
    """URL of this worker's test database, with the ledger tables dropped."""
    pg.drop_tables(pg_dbname)
    return pg.url(pg_dbname)


@pytest.fixture(scope="class")
def pg_unittest(request: pytest.FixtureRequest, pg_dbname: str) -> Iterator[None]:
    """For unittest classes: ``self.pg_dbname``, ``self.pg_url``, ``self.reset_pg()``."""
    assert request.cls is not None
    request.cls.pg_dbname = pg_dbname
    request.cls.pg_url = pg.url(pg_dbname)
    reset: Callable[[], None] = lambda: pg.drop_tables(pg_dbname)  # noqa: E731
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
        pg.drop_tables(dbname)
        return pg.url(dbname)

    yield fresh
    for path in made:
        shutil.rmtree(path, ignore_errors=True)
