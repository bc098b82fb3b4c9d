"""Fixtures for the regulator-toolkit tests: a closed commission on SQLite (and PostgreSQL).

PostgreSQL tests (marked ``postgres``) use their own scratch database per run and worker,
``caleol_t5_<run>_<worker>``, dropped after the session; skipped when the server is unreachable
(except with ``CI=true``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from audit_support import Closed, build_closed

from tests import pg


@pytest.fixture(scope="session")
def audit_pg_url() -> Iterator[str]:
    with pg.scratch_database("caleol_t5") as name:
        yield pg.url(name)


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
