"""A projection stopped, crashed or raced resumes from its tracking position without missing or
double-counting an event; writers never wait for it; readers can wait for their own writes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from projections.fold import FoldState, fold
from projections.runner import ReadModels, Upstream, fold_all
from tests.projections.projection_support import (
    Clock,
    dumps,
    fresh_url,
    key_dir,
    open_app,
    pg_scratch,
)
from tests.projections.scenario_ops import Run

__all__ = ["fresh_url", "key_dir", "pg_scratch"]  # fixtures

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

SCRIPT: list[tuple[Any, ...]] = [
    ("login", 0, "president"),
    ("login", 0, "board2"),
    ("consult", 0, "board2", "D1", 0),
    ("consult", 0, "board2", "D1", 0),
    ("ballot", 0, "president", "D1", [0, 1, 2], 3),
    ("ballot", 0, "board2", "D1", [1, 0, 2], 2),
    ("proxy", 0, "prefecture", "tenants"),
    ("ballot", 0, "tenants", "D2", [2, 1, 0], 3, "prefecture"),
    ("open", 1),
    ("login", 1, "mayor-bobigny"),
    ("ballot", 1, "mayor-bobigny", "D1", [0, 2, 1], 1),
    ("message", 0, "board2", False),
    ("message", 0, "board2", True),
    ("opinion", 0, "action-logement", "D1", "reserved"),
    ("referral", 0, "mayor-pantin", "D3"),
    ("ballot", 0, "president", "D1", [2, 1, 0], 3),
    ("attend", "president", "present", "president"),
    ("attend", "prefecture", "represented", "tenants"),
    ("late", 0, "mayor-bobigny", "D2", [1, 0, 2]),
    ("approve", 0),
    ("login", 1, "president"),
    ("ballot", 1, "president", "D3", [0, 1, 2], 3),
]


def start(url: str, key_dir: str) -> Run:
    clock = Clock()
    run = Run(open_app(url, key_dir, clock), clock)
    run.set_up()
    return run


def routed_events(run: Run) -> int:
    """How many recorded events belong to a read-model document (not the erasure register…)."""
    state = FoldState()
    count = 0
    for n in run.app.recorder.select_notifications(start=1, limit=100_000):
        if fold(state, run.app.mapper.to_domain_event(n)) is not None:
            count += 1
    return count


def fold_upto(run: Run, position: int) -> FoldState:
    state = FoldState()
    for n in run.app.recorder.select_notifications(start=1, limit=100_000, stop=position):
        fold(state, run.app.mapper.to_domain_event(n))
    return state


def assert_exact(models: ReadModels, run: Run) -> None:
    """The stored documents are the fold of the whole log: nothing missed, nothing twice."""
    stored = models.view.fold_state()
    expected, position, _ = fold_all(Upstream.of(run.app))
    assert models.position() == position == run.head()
    assert dumps(stored.docs) == dumps(expected.docs)
    assert sum(d["events"] for d in stored.docs.values()) == routed_events(run)


@pytest.mark.parametrize("backend", BACKENDS)
def test_stopped_and_restarted_follower_resumes(
    backend: str, fresh_url: Callable[[str], str], key_dir: str
) -> None:
    url = fresh_url(backend)
    run = start(url, key_dir)
    first = ReadModels(url, app=run.app)
    follower = first.follow(poll_interval=0.01)
    for op in SCRIPT[:9]:
        run.apply(op)
    follower.wait(run.head(), timeout=20)
    follower.stop()
    stopped_at = first.position()
    first.close()
    for op in SCRIPT[9:]:
        run.apply(op)  # written while no projection runs: writers do not need it
    assert stopped_at is not None and stopped_at < run.head()

    second = ReadModels(url, app=run.app)
    assert second.position() == stopped_at
    with second.follow(poll_interval=0.01) as follower:
        follower.wait(run.head(), timeout=20)
    assert_exact(second, run)
    second.close()
    run.app.close()


def test_crash_between_processing_and_tracking_loses_the_whole_batch(
    fresh_url: Callable[[str], str], key_dir: str
) -> None:
    url = fresh_url("sqlite")
    run = start(url, key_dir)
    for op in SCRIPT:
        run.apply(op)
    models = ReadModels(url, app=run.app)
    calls = 0

    def crash() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("crash after processing, before tracking")

    models.view.before_tracking = crash
    with pytest.raises(RuntimeError, match="before tracking"):
        models.catch_up(batch_size=10)
    ids = [n.id for n in run.app.recorder.select_notifications(start=1, limit=100_000)]
    assert models.position() == ids[19]  # two batches of ten kept, the third rolled back
    assert dumps(models.view.fold_state().docs) == dumps(fold_upto(run, ids[19]).docs)
    models.view.before_tracking = None
    models.catch_up(batch_size=10)
    assert_exact(models, run)
    models.close()
    run.app.close()


CRASHING_FOLLOWER = """
import os, sys
from projections.runner import ReadModels
models = ReadModels(sys.argv[1])
calls = 0
def crash():
    global calls
    calls += 1
    if calls == 2:
        os._exit(7)  # the process dies inside the transaction: no rollback, no cleanup
models.view.before_tracking = crash
models.catch_up(batch_size=int(sys.argv[2]))
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_process_killed_between_processing_and_tracking_resumes_exactly(
    backend: str, fresh_url: Callable[[str], str], key_dir: str
) -> None:
    url = fresh_url(backend)
    run = start(url, key_dir)
    for op in SCRIPT:
        run.apply(op)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CALEOL_KEY_DIR": key_dir}
    done = subprocess.run(
        [sys.executable, "-c", CRASHING_FOLLOWER, url, "8"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 7, done.stderr
    models = ReadModels(url, app=run.app)
    ids = [n.id for n in run.app.recorder.select_notifications(start=1, limit=100_000)]
    assert models.position() == ids[7]  # the first batch only
    assert dumps(models.view.fold_state().docs) == dumps(fold_upto(run, ids[7]).docs)
    models.catch_up(batch_size=8)
    assert_exact(models, run)
    models.close()
    run.app.close()


@pytest.mark.postgres
def test_library_runner_error_then_restart(fresh_url: Callable[[str], str], key_dir: str) -> None:
    """The library's ProjectionRunner: an error while processing an event stops it (the
    event's transaction rolled back); a new runner resumes from the tracking position."""
    url = fresh_url("postgres")
    run = start(url, key_dir)
    models = ReadModels(url, app=run.app)
    follower = models.follow()
    from projections.store import PostgresReadModelView

    calls = 0

    def crash() -> None:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise RuntimeError("crash in the runner")

    PostgresReadModelView.before_tracking = staticmethod(crash)  # the runner builds its own view
    try:
        for op in SCRIPT:
            run.apply(op)
        with pytest.raises(RuntimeError, match="crash in the runner"):
            follower.wait(run.head(), timeout=20)
        follower.stop()
    finally:
        PostgresReadModelView.before_tracking = None
    assert (models.position() or 0) < run.head()
    with models.follow() as again:
        again.wait(run.head(), timeout=20)
    assert_exact(models, run)
    models.close()
    run.app.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_followers_racing_apply_each_event_once(
    backend: str, fresh_url: Callable[[str], str], key_dir: str
) -> None:
    url = fresh_url(backend)
    run = start(url, key_dir)
    for op in SCRIPT:
        run.apply(op)
    racers = [ReadModels(url) for _ in range(3)]
    errors: list[BaseException] = []

    def race(models: ReadModels) -> None:
        try:
            while models.catch_up(batch_size=3):
                pass
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=race, args=(m,)) for m in racers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert_exact(racers[0], run)
    for m in racers:
        m.close()
    run.app.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_read_your_writes_and_rebuild_while_following(
    backend: str, fresh_url: Callable[[str], str], key_dir: str
) -> None:
    url = fresh_url(backend)
    run = start(url, key_dir)
    models = ReadModels(url, app=run.app)
    cid = str(run.commissions[0])
    with models.follow(poll_interval=0.01) as follower:
        for op in SCRIPT[:6]:
            run.apply(op)
            follower.wait(run.head(), timeout=20)  # read-your-writes
            state = models.view.commission_state(cid)
            assert state is not None
        assert [b["member"] for b in state["ballots"] if b["dwelling"] == "D1" and b["in"]] == [
            "board2",
            "president",
        ]
        result = models.rebuild()  # swapped in while the follower runs and writers write
        for op in SCRIPT[6:]:
            run.apply(op)
        follower.wait(run.head(), timeout=20)
    assert result.position is not None
    assert_exact(models, run)
    models.close()
    run.app.close()


@pytest.mark.postgres
def test_writers_never_wait_for_a_slow_projection(
    fresh_url: Callable[[str], str], key_dir: str
) -> None:
    url = fresh_url("postgres")
    run = start(url, key_dir)
    models = ReadModels(url, app=run.app)
    inside, release = threading.Event(), threading.Event()

    def slow() -> None:  # the projection's transaction stays open until released
        inside.set()
        assert release.wait(30)

    models.view.before_tracking = slow
    worker = threading.Thread(target=models.catch_up)
    worker.start()
    assert inside.wait(10)
    for op in SCRIPT[:4]:
        assert run.apply(op)  # would block until `release` if writers waited for it
    assert worker.is_alive()
    release.set()
    worker.join()
    models.view.before_tracking = None
    models.catch_up()
    assert_exact(models, run)
    models.close()
    run.app.close()
