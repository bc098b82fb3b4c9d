"""Property: for random valid command sequences, on SQLite and on PostgreSQL,

- the live projection (materialised tables, followed event by event or page by page) equals a
  full rebuild (in memory, and the rebuilt tables) and the replay of the streams at the end;
- the replay at the instant of every command equals the live projection as it was then;
- the read models agree with the domain's own rules (whose ballot counts, which is late) and
  with the regulator's replay (`replay.state`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from projections.read_models import commission_state, participation
from projections.replay import commission_state_at, session_doc_at
from projections.runner import Follower, ReadModels, Upstream, fold_all
from projections.stats import flatten
from projections.store import ALL_TABLES
from replay.state import state_at
from tests.projections.projection_support import (
    Clock,
    dumps,
    fresh_url,
    key_dir,
    open_app,
    pg_scratch,
)
from tests.projections.scenario_ops import SCRIPTS, Run, domain_oracle

__all__ = ["fresh_url", "key_dir", "pg_scratch"]  # fixtures

SETTINGS: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}


def all_tables(models: ReadModels) -> dict[str, list[dict[str, Any]]]:
    return {table: models.view.table(table) for table in ALL_TABLES}


def check_run(url: str, key_dir: str, ops: list[tuple[Any, ...]], *, library: bool) -> None:
    clock = Clock()
    app = open_app(url, key_dir, clock)
    models = ReadModels(url, app=app)
    follower: Follower | None = models.follow(poll_interval=0.01) if library else None
    run = Run(app, clock)
    snapshots: list[tuple[Any, dict[str, Any]]] = []
    try:
        run.set_up()
        keys = [str(c) for c in run.commissions]

        def settle() -> None:
            if follower is not None:
                follower.wait(run.head(), timeout=20)
            else:
                models.catch_up(batch_size=7)  # small pages: batches cut through commands

        settle()
        for op in ops:
            if run.apply(op):
                settle()
                snapshots.append((run.clock(), {k: models.view.commission_state(k) for k in keys}))
        settle()
        if follower is not None:
            follower.stop()
            follower = None

        live = {k: models.view.commission_state(k) for k in keys}
        stored = models.view.fold_state()
        tables = all_tables(models)
        state, position, _ = fold_all(Upstream.of(app))
        assert position == run.head() == models.position()

        # live = rebuild (in memory) = replay at the end
        assert stored.docs == state.docs and stored.streams == state.streams
        rebuilt = {k: commission_state(state.docs[k]) for k in keys}
        replayed = {
            k: commission_state_at(app.events, c)
            for k, c in zip(keys, run.commissions, strict=True)
        }
        assert dumps(live) == dumps(rebuilt) == dumps(replayed)
        assert run.session is not None
        assert dumps(stored.docs[str(run.session)]) == dumps(
            session_doc_at(app.events, run.session)
        )

        # the participation rows materialised = computed from the documents
        sessions, members = flatten(participation(d) for d in state.docs.values())
        assert models.view.statistics_rows() == (sessions, members)

        # the rebuilt tables = the tables maintained incrementally
        result = models.rebuild()
        assert result.position == position
        assert all_tables(models) == tables

        # replay at each command's instant = the live projection as it was then
        for instant, seen in snapshots:
            then = {
                k: commission_state_at(app.events, c, instant)
                for k, c in zip(keys, run.commissions, strict=True)
            }
            assert dumps(then) == dumps(seen), f"at {instant.isoformat()}"

        for key, cid in zip(keys, run.commissions, strict=True):
            check_against_domain(app, cid, live[key])
    finally:
        if follower is not None:
            follower.stop()
        models.close()
        app.close()


def check_against_domain(app: Any, cid: Any, live: dict[str, Any]) -> None:
    oracle = domain_oracle(app, cid)
    assert live["status"] == oracle["status"]
    ballots_in = {
        (b["dwelling"], b["member"]) for b in live["ballots"] if b["in"] and b["right"] == "vote"
    }
    assert ballots_in == oracle["ballots_in"]
    assert {(b["member"], b["version"]) for b in live["late_ballots"]} == oracle["late"]
    regulator = state_at(app, cid)
    assert live["status"] == regulator["status"]
    assert [(p["from"], p["to"]) for p in live["proxies"]] == [
        (p["from"], p["to"]) for p in regulator["proxies"]
    ]
    assert [d["candidates"] for d in live["dwellings"]] == [
        d["candidates"] for d in regulator["dwellings"]
    ]
    assert (live["decisions"] or {"dwellings": []})["dwellings"] == regulator["decisions"]
    assert {m["id"]: m["logins"] for m in live["members"]} == {
        m["id"]: len(m["logins"]) for m in regulator["members"]
    }
    if live["decisions"]:
        quorum = {d["id"]: d["quorum"] for d in live["dwellings"]}
        for decided in live["decisions"]["dwellings"]:
            assert quorum[decided["dwelling"]]["cast"] == decided["quorum"]["cast"]


ops_lists = SCRIPTS


@settings(max_examples=25, **SETTINGS)
@given(ops=ops_lists)
def test_live_equals_rebuild_equals_replay_sqlite(
    ops: list[tuple[Any, ...]], fresh_url: Callable[[str], str], key_dir: str
) -> None:
    check_run(fresh_url("sqlite"), key_dir, ops, library=False)


@pytest.mark.postgres
@settings(max_examples=5, **SETTINGS)
@given(ops=ops_lists)
def test_live_equals_rebuild_equals_replay_postgres(
    ops: list[tuple[Any, ...]], fresh_url: Callable[[str], str], key_dir: str
) -> None:
    """PostgreSQL, live through the library's ProjectionRunner (one event per transaction)."""
    check_run(fresh_url("postgres"), key_dir, ops, library=True)


@pytest.mark.postgres
@settings(max_examples=3, **SETTINGS)
@given(ops=ops_lists)
def test_catch_up_pages_postgres(
    ops: list[tuple[Any, ...]], fresh_url: Callable[[str], str], key_dir: str
) -> None:
    """PostgreSQL, live by pages of notifications (the catch-up before the runner starts)."""
    check_run(fresh_url("postgres"), key_dir, ops, library=False)


def test_polling_follower_sqlite(fresh_url: Callable[[str], str], key_dir: str) -> None:
    """SQLite, live through the polling follower thread (the same equalities, one scenario)."""
    ops: list[tuple[Any, ...]] = [
        ("login", 0, "president"),
        ("ballot", 0, "president", "D1", [0, 1, 2], 3, None),
        ("proxy", 0, "prefecture", "tenants"),
        ("ballot", 0, "tenants", "D2", [2, 1, 0], 2, "prefecture"),
        ("opinion", 0, "action-logement", "D1", "favourable"),
        ("referral", 0, "mayor-pantin", "D3"),
        ("message", 0, "board2", False),
        ("message", 0, "board2", True),
        ("late", 0, "mayor-bobigny", "D1", [1, 0, 2]),
        ("approve", 0),
        ("attend", "president", "present", "president"),
    ]
    check_run(fresh_url("sqlite"), key_dir, ops, library=True)
