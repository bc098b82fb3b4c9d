"""Shared helpers for the read-model tests (no tests here; fixtures are imported by the tests).

PostgreSQL tests (marked ``postgres``) use one scratch database per test run and xdist worker,
``caleol_t4_<run>_<worker>``, on 127.0.0.1:5432 as user postgres (trust auth): its tables are
dropped before each use, the database after the session. When the server is unreachable they
are skipped, except with ``CI=true`` where they fail.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any
from uuid import UUID

import orjson
import pytest

from domain.actor import Actor
from domain.members import Member
from domain.rules import Rules
from ledger.application import CaleolApplication
from ledger.config import environment_for
from projections.read_models import commission_state
from projections.runner import ReadModels
from tests import pg
from tests.scenario import DWELLINGS, MEMBERS, STAFF, applicant

TUESDAY_0900 = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
WEDNESDAY_NOON = datetime(2026, 12, 9, 11, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def pg_scratch() -> Iterator[str]:
    """This worker's scratch database, created for the session and dropped after it."""
    with pg.scratch_database("caleol_t4") as name:
        yield name


def emptied(name: str) -> str:
    """The URL of the scratch database ``name``, its tables dropped."""
    pg.drop_tables(name)
    return pg.url(name)


@pytest.fixture
def fresh_url(request: pytest.FixtureRequest) -> Iterator[Callable[[str], str]]:
    """``fresh(backend) -> url`` of an empty store, callable many times in one test (the
    PostgreSQL one needs the ``pg_scratch`` fixture: import it beside this one)."""
    made: list[str] = []

    def fresh(backend: str) -> str:
        if backend == "sqlite":
            made.append(tempfile.mkdtemp(prefix="caleol-t4-"))
            return f"sqlite:///{made[-1]}/ledger.db"
        return emptied(request.getfixturevalue("pg_scratch"))

    yield fresh
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("keys"))


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)


@dataclass
class Clock:
    now: datetime = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 1) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@dataclass
class SeqIds:
    counter: count[int] = field(default_factory=lambda: count(1))

    def __call__(self, kind: str) -> str:
        return f"{kind}-{next(self.counter)}"


def open_app(url: str, key_dir: str, clock: Clock) -> CaleolApplication:
    env = environment_for(url, key_dir=key_dir)
    env.update(POSTGRES_POOL_SIZE="1", POSTGRES_MAX_OVERFLOW="4")  # the server is shared
    return CaleolApplication(env=env, clock=clock, ids=SeqIds())


def set_up_commission(
    app: CaleolApplication, clock: Clock, *, agency: str = "agence-93", title: str = "CALEOL"
) -> tuple[UUID, dict[str, list[str]]]:
    """The scenario's commission (tests.scenario), convened, not yet open."""
    cid = app.schedule_commission(
        actor=STAFF,
        agency_id=agency,
        title=title,
        rules=Rules(),
        opens_at=TUESDAY_0900,
        closes_at=WEDNESDAY_NOON,
    )
    for member in MEMBERS:
        clock.tick()
        app.convene_member(cid, actor=STAFF, member=member)
    candidates: dict[str, list[str]] = {}
    n = 0
    for dwelling_id, commune, contingent in DWELLINGS:
        clock.tick()
        app.list_dwelling(
            cid, actor=STAFF, dwelling_id=dwelling_id, commune=commune, contingent=contingent
        )
        for _ in range(3):
            n += 1
            clock.tick()
            candidates.setdefault(dwelling_id, []).append(
                app.present_candidate(
                    cid,
                    actor=STAFF,
                    dwelling_id=dwelling_id,
                    file=applicant(n),
                    candidate_id=f"{dwelling_id}-C{n}",
                )
            )
    clock.tick()
    app.send_convocations(cid, actor=STAFF)
    return cid, candidates


MEMBER_IDS = [m.id for m in MEMBERS]
BY_ID: dict[str, Member] = {m.id: m for m in MEMBERS}


def actor_of(member_id: str) -> Actor:
    return Actor(member_id, BY_ID[member_id].role.value)


def live_states(models: ReadModels, keys: list[str]) -> dict[str, Any]:
    """The live (materialised) commission states and the stored documents' read models."""
    return {k: models.view.commission_state(k) for k in keys}


def rebuilt_states(state_docs: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    return {k: commission_state(state_docs[k]) if k in state_docs else None for k in keys}
