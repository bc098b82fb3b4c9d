"""Read models: catch-up, full rebuild of a large generated log, replay of one commission at an
instant, beside the plain read-back rate of the same store.

The store is a scratch database: a SQLite file, or on PostgreSQL ``<name>_<pid>`` on the server
of ``$CALEOL_BENCH_PROJECTIONS_POSTGRES_URL`` or ``$CALEOL_BENCH_POSTGRES_URL`` (default
``caleol_projections_bench`` on 127.0.0.1:5432), dropped after. It is written by the **plain
eventsourcing recorder** (the library's ``SQLiteApplicationRecorder`` /
``PostgresApplicationRecorder``, not the signing one: signing a million events would take most
of the run, and is measured by ``bench.ledger_bench``), with the ledger's canonical transcoder so
that the events decode exactly as the ledger's do. It is generated fast: the demo commission
(``api.demo``, ~550 events) is recorded once through the application, then its stored events
are copied in bulk (5,000 per insert) under new commission ids, over 40 agencies, until the log
holds N events: SQLite 1,000,000 (20,000 with ``quick``), PostgreSQL 200,000 (5,000).

The read-model tables live in the same database. Keys: ``projections_<measure>`` (SQLite),
``projections_postgres_<measure>``; ``_per_s`` are events per second, ``_s`` seconds.
Usage: ``python -m bench.projections_bench [sqlite|postgresql] [N]``.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import psycopg
from eventsourcing.persistence import EventStore, StoredEvent
from psycopg import sql

from api.demo import (
    AGENCY_ID,
    CONVOCATION_FRIDAY,
    SeededIds,
    SimulatedClock,
    demo_lookup_secret,
    paris,
    run_demo,
    seeded_key_source,
)
from domain.participation import activity_id
from ledger.application import CaleolApplication
from ledger.config import environment_for, parse_database_url
from ledger.vault import ApplicantVault, MemoryKeyTable
from projections.replay import commission_state_at
from projections.runner import ReadModels, Upstream, catch_up
from replay.state import state_at

PLAIN_RECORDERS = {
    "sqlite": "eventsourcing.sqlite:SQLiteApplicationRecorder",
    "postgresql": "eventsourcing.postgres:PostgresApplicationRecorder",
}
AGENCIES = 40
INSERT_BATCH = 5000
SUITE_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/caleol_projections_bench"
#: The server to use (the database name gets ``_<pid>``); else the ledger bench's, else the suite's.
POSTGRES_URL_ENVS = ("CALEOL_BENCH_PROJECTIONS_POSTGRES_URL", "CALEOL_BENCH_POSTGRES_URL")


def postgres_base_url() -> str:
    return next(filter(None, map(os.environ.get, POSTGRES_URL_ENVS)), SUITE_POSTGRES_URL)


@contextmanager
def scratch_url(kind: str, directory: Path) -> Iterator[str]:
    """A new, empty database (SQLite file in ``directory``, or the PostgreSQL scratch database
    recreated, then dropped)."""
    if kind == "sqlite":
        yield f"sqlite:///{directory}/projections-bench.db"
        return
    base = parse_database_url(postgres_base_url())
    db = replace(base, dbname=f"{base.dbname}_{os.getpid()}")  # concurrent runs never collide
    password = f":{db.password}" if db.password else ""
    url = f"postgresql://{db.user}{password}@{db.host}:{db.port}/{db.dbname}"

    def recreate(create: bool) -> None:
        with psycopg.connect(
            host=db.host,
            port=db.port,
            user=db.user,
            password=db.password or None,
            dbname="postgres",
            autocommit=True,
        ) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db.dbname))
            )
            if create:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db.dbname)))

    recreate(True)
    try:
        yield url
    finally:
        recreate(False)


def postgres_reachable() -> bool:
    db = parse_database_url(postgres_base_url())
    try:
        with psycopg.connect(
            host=db.host, port=db.port, user=db.user, dbname="postgres", connect_timeout=3
        ):
            return True
    except psycopg.OperationalError:
        return False


@contextmanager
def scratch_store(url: str, directory: Path) -> Iterator[CaleolApplication]:
    """The application on ``url`` with the plain library recorder, holding the demo."""
    env = environment_for(url, key_dir=directory / "keys")
    env["APPLICATION_RECORDER_TOPIC"] = PLAIN_RECORDERS[parse_database_url(url).kind]
    clock = SimulatedClock(paris(CONVOCATION_FRIDAY, 14))
    vault = ApplicantVault(MemoryKeyTable(), demo_lookup_secret(1), seeded_key_source(1))
    app = CaleolApplication(env=env, clock=clock, ids=SeededIds(random.Random(1)), vault=vault)
    try:
        run_demo(app, clock, seed=1)
        yield app
    finally:
        app.close()


def generate(app: CaleolApplication, n: int) -> tuple[UUID, int, float]:
    """Copies the demo's stored events under new ids until the log holds ``n`` events.

    Returns (the demo commission id, events in the log, seconds spent copying)."""
    started = time.perf_counter()
    template = list(app.recorder.select_notifications(start=1, limit=100_000))
    (scheduled,) = [t for t in template if t.topic.endswith("Commission.Scheduled")]
    demo_id = scheduled.originator_id
    members = {
        m
        for t in template
        if t.topic.endswith("Commission.MemberConvened")
        for m in [json.loads(t.state)["member_id"]]
    }
    total = len(template)
    copy = 0
    pending: list[StoredEvent] = []
    while total < n:
        copy += 1
        new_id = uuid5(NAMESPACE_URL, f"caleol-bench:{copy}")
        ids = {demo_id: new_id} | {activity_id(demo_id, m): activity_id(new_id, m) for m in members}
        old_text, new_text = str(demo_id).encode(), str(new_id).encode()
        agency = f'"agence-{copy % AGENCIES:02d}"'.encode()
        for t in template:
            if t.originator_id not in ids or total >= n:
                continue
            state = t.state.replace(old_text, new_text).replace(f'"{AGENCY_ID}"'.encode(), agency)
            pending.append(StoredEvent(ids[t.originator_id], t.originator_version, t.topic, state))
            total += 1
            if len(pending) >= INSERT_BATCH:
                app.recorder.insert_events(pending)
                pending = []
    if pending:
        app.recorder.insert_events(pending)
    return demo_id, total, time.perf_counter() - started


def read_back(app: CaleolApplication, decode: bool) -> float:
    """Events per second reading the whole notification log in pages (decoded or not)."""
    started = time.perf_counter()
    position, count = 0, 0
    to_event = app.mapper.to_domain_event
    while True:
        page = app.recorder.select_notifications(
            start=position, limit=5000, inclusive_of_start=False
        )
        if not page:
            break
        if decode:
            for n in page:
                to_event(n)
        count += len(page)
        position = page[-1].id
    return count / (time.perf_counter() - started)


def run(kind: str, n: int, *, catch_up_events: int, live_events: int = 2000) -> dict[str, float]:
    """The measures on one backend ("sqlite" or "postgresql"), keys without prefix."""
    r: dict[str, float] = {}
    with (
        tempfile.TemporaryDirectory(prefix="caleol-projections-bench-") as tmp,
        scratch_url(kind, Path(tmp)) as url,
        scratch_store(url, Path(tmp)) as app,
    ):
        demo_id, total, seconds = generate(app, n)
        r["log_events"] = float(total)
        r["generate_per_s"] = total / seconds
        r["readback_raw_per_s"] = read_back(app, decode=False)
        r["readback_decoded_per_s"] = read_back(app, decode=True)

        with ReadModels(url, app=app) as models:
            result = models.rebuild()
            r["rebuild_s"] = result.seconds
            r["rebuild_per_s"] = result.events / result.seconds
            r["rebuild_documents"] = float(result.documents)

            # Replay of one commission at an instant (Tuesday 15:00, mid-window), from its
            # own streams; the regulator's replay (the aggregates' apply); the table read.
            middle = uuid5(NAMESPACE_URL, f"caleol-bench:{max(1, total // 1050)}")
            target = middle if total > 2 * 525 else demo_id
            at = paris(date(2026, 12, 8), 15)
            events = EventStore(app.mapper, app.recorder)
            r["replay_commission_at_s"] = _best(lambda: commission_state_at(events, target, at))
            r["regulator_replay_at_s"] = _best(lambda: state_at(app, target, at))
            r["query_commission_state_s"] = _best(lambda: models.view.commission_state(str(target)))

            # Catch-up from empty, in pages of 1,000 (a follower that is behind), then one
            # event per transaction (a follower keeping up event by event, as the library's
            # ProjectionRunner does on PostgreSQL).
            upstream = Upstream.of(app)
            models.view.clear(upstream.name)
            started = time.perf_counter()
            done = catch_up(models.view, upstream, max_events=catch_up_events)
            r["catchup_per_s"] = done / (time.perf_counter() - started)
            models.view.clear(upstream.name)
            started = time.perf_counter()
            done = catch_up(models.view, upstream, batch_size=1, max_events=live_events)
            r["live_1_per_txn_per_s"] = done / (time.perf_counter() - started)
    return r


def _best(action: Any, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def suite(quick: bool) -> dict[str, float]:
    """SQLite: 1,000,000 events (20,000 quick); PostgreSQL (when reachable): 200,000 (5,000
    quick); live, one event per transaction: 2,000 (200 quick). Keys ``projections_<measure>``
    (SQLite) and ``projections_postgres_<measure>``."""
    live = 200 if quick else 2000
    sqlite = run(
        "sqlite",
        20_000 if quick else 1_000_000,
        catch_up_events=20_000 if quick else 200_000,
        live_events=live,
    )
    results = {f"projections_{k}": v for k, v in sqlite.items()}
    if postgres_reachable():
        n = 5_000 if quick else 200_000
        pg = run("postgresql", n, catch_up_events=n if quick else 100_000, live_events=live)
        results.update({f"projections_postgres_{k}": v for k, v in pg.items()})
    else:
        print("projections_bench: PostgreSQL unreachable, skipped", file=sys.stderr)
    return results


if __name__ == "__main__":
    backend = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    results = run(backend, size, catch_up_events=min(size, 200_000))
    for key in sorted(results):
        print(f"{key:40} {results[key]:>16,.3f}")
