"""Running the read models: catch-up, live followers, full rebuild, read-your-writes.

- `catch_up` reads the notification log after the view's tracking position in pages
  (``select_notifications``) and hands each page to `ReadModelView.process` (exactly once).
- `PollingFollower` (SQLite, which has no subscription) runs `catch_up` in a thread and polls.
- `LibraryFollower` (PostgreSQL) catches up in pages, then follows with the eventsourcing
  library's own machinery: a `ProjectionRunner` whose subscription LISTENs for new events and
  calls `ReadModelsProjection.process_event` for each, with its `Tracking`.
- `rebuild` folds the whole log in memory and swaps the result in (`ReadModelView.replace_all`).

Writers never wait for any of this. A reader that has just written can wait until the read
models include a notification id: ``models.wait(notification_id, timeout)``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import (
    ApplicationRecorder,
    InfrastructureFactory,
    Mapper,
    Tracking,
    WaitInterruptedError,
)
from eventsourcing.postgres import PostgresFactory
from eventsourcing.projection import Projection, ProjectionRunner
from eventsourcing.utils import Environment

from ledger.application import CaleolApplication
from ledger.config import database_url, environment_for, parse_database_url
from projections.fold import FoldState, fold
from projections.store import (
    PROJECTION_NAME,
    Item,
    PostgresReadModelView,
    ProjectionConflict,
    ReadModelView,
    SQLiteReadModelView,
)

__all__ = [
    "LibraryFollower",
    "PollingFollower",
    "ReadModels",
    "ReadModelsProjection",
    "RebuildResult",
    "Upstream",
    "catch_up",
    "fold_all",
    "open_view",
]

BATCH = 1000


@dataclass
class Upstream:
    """The application whose notification log the read models follow."""

    recorder: ApplicationRecorder
    mapper: Mapper[Any]
    name: str = CaleolApplication.name

    @classmethod
    def of(cls, app: Any) -> Upstream:
        return cls(app.recorder, app.mapper, app.name)

    def page(self, after: int | None, limit: int, upto: int | None = None) -> list[Item]:
        notifications = self.recorder.select_notifications(
            start=after or 0, limit=limit, stop=upto, inclusive_of_start=False
        )
        to_event = self.mapper.to_domain_event
        return [(to_event(n), n.id) for n in notifications]

    def read_after(self, after: int, upto: int) -> list[Item]:
        items: list[Item] = []
        while True:
            page = self.page(after, 2000, upto)
            items.extend(page)
            if len(page) < 2000:
                return items
            after = page[-1][1]

    def head(self) -> int | None:
        return self.recorder.max_notification_id()


def view_class_for(factory: InfrastructureFactory[Any]) -> type[ReadModelView]:
    return PostgresReadModelView if isinstance(factory, PostgresFactory) else SQLiteReadModelView


def open_view(
    env: dict[str, str],
) -> tuple[InfrastructureFactory[Any], ReadModelView]:
    """(factory, view) on the database of ``env`` (an `environment_for` result); the view's
    tables are created if missing. Close the factory when done."""
    environment = dict(env)
    environment["CREATE_TABLE"] = "y"
    factory = InfrastructureFactory.construct(Environment(PROJECTION_NAME, environment))
    try:
        view = factory.tracking_recorder(view_class_for(factory))
    except BaseException:
        factory.close()
        raise
    assert isinstance(view, ReadModelView)
    return factory, view


# ------------------------------------------------------------------------------ catch-up


def catch_up(
    view: ReadModelView,
    upstream: Upstream,
    *,
    batch_size: int = BATCH,
    max_events: int | None = None,
) -> int:
    """Processes everything recorded after the view's position; returns the events applied."""
    applied = 0
    while max_events is None or applied < max_events:
        position = view.max_tracking_id(upstream.name)
        limit = batch_size if max_events is None else min(batch_size, max_events - applied)
        items = upstream.page(position, limit)
        if not items:
            break
        try:
            applied += view.process(items, upstream.name, expected_after=position)
        except ProjectionConflict:
            continue  # the position moved (another writer): read it again
        if len(items) < limit:
            break
    return applied


def fold_all(upstream: Upstream, page_size: int = 2000) -> tuple[FoldState, int | None, int]:
    """(state, last notification id, events read): the whole log folded in memory."""
    state = FoldState()
    position: int | None = None
    count = 0
    while True:
        notifications = upstream.recorder.select_notifications(
            start=position or 0, limit=page_size, inclusive_of_start=False
        )
        if not notifications:
            return state, position, count
        to_event = upstream.mapper.to_domain_event
        for n in notifications:
            fold(state, to_event(n))
        count += len(notifications)
        position = notifications[-1].id


@dataclass(frozen=True)
class RebuildResult:
    events: int
    documents: int
    position: int | None
    seconds: float


def rebuild(view: ReadModelView, upstream: Upstream) -> RebuildResult:
    started = time.perf_counter()
    state, position, count = fold_all(upstream)
    final = view.replace_all(state, position, upstream.name, upstream.read_after)
    return RebuildResult(count, len(state.docs), final, time.perf_counter() - started)


# ------------------------------------------------------------------------------ followers


class PollingFollower:
    """Follows the log by polling ``select_notifications`` (SQLite); `catch_up` in a thread."""

    def __init__(
        self,
        view: ReadModelView,
        upstream: Upstream,
        *,
        poll_interval: float = 0.1,
        batch_size: int = BATCH,
    ) -> None:
        self.view = view
        self.upstream = upstream
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self._stopping = threading.Event()
        self._stopped_by_call = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="caleol-projections", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        try:
            while not self._stopping.is_set():
                if catch_up(self.view, self.upstream, batch_size=self.batch_size) == 0:
                    self._stopping.wait(self.poll_interval)
        except BaseException as e:
            self._error = e
            self._stopping.set()

    def wait(self, notification_id: int | None, timeout: float = 1.0) -> None:
        """Blocks until the read models include ``notification_id`` (TimeoutError after
        ``timeout`` seconds); re-raises the follower's error if it failed."""
        try:
            self.view.wait(
                self.upstream.name, notification_id, timeout=timeout, interrupt=self._stopping
            )
        except WaitInterruptedError:
            self._raise_error()
            if not self._stopped_by_call:
                raise

    def run_forever(self, timeout: float | None = None) -> None:
        self._stopping.wait(timeout)
        self._raise_error()

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def stop(self) -> None:
        self._stopped_by_call = True
        self._stopping.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
        self._raise_error()

    def __enter__(self) -> PollingFollower:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ReadModelsProjection(Projection[PostgresReadModelView]):
    """The read models as an eventsourcing `Projection`, run by the library's runner."""

    name = PROJECTION_NAME

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.process([(domain_event, tracking.notification_id)], tracking.application_name)


class LibraryFollower:
    """PostgreSQL: catch up in pages, then the library's `ProjectionRunner` (LISTEN/NOTIFY
    subscription, one transaction per event with its tracking record)."""

    def __init__(self, env: dict[str, str], view: ReadModelView, upstream: Upstream) -> None:
        self.view = view
        self.upstream = upstream
        catch_up(view, upstream)
        self.runner: ProjectionRunner[CaleolApplication, PostgresReadModelView] = ProjectionRunner(
            application_class=CaleolApplication,
            projection_class=ReadModelsProjection,
            view_class=PostgresReadModelView,
            env=env,
        )
        self.runner.__enter__()
        self._closed = False

    def wait(self, notification_id: int | None, timeout: float = 1.0) -> None:
        self.runner.wait(notification_id, timeout)

    def run_forever(self, timeout: float | None = None) -> None:
        self.runner.run_forever(timeout)

    def stop(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self.runner.__exit__(None, None, None)
            finally:
                self.runner.view.datastore.close()  # the runner made its own view

    def __enter__(self) -> LibraryFollower:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


Follower = PollingFollower | LibraryFollower


# ------------------------------------------------------------------------------ handle


class ReadModels:
    """The read models of the ledger at ``url``: query them, catch up, follow, rebuild, wait.

    ``app``: the application to read the log from (default: one opened on ``url``, read-only).
    """

    def __init__(
        self, url: str | None = None, *, app: CaleolApplication | None = None, create: bool = False
    ) -> None:
        self.url = database_url(url)
        self.env = environment_for(self.url, create=create)
        # A follower needs few connections (PostgreSQL): one, a few more on demand.
        self.env.setdefault("POSTGRES_POOL_SIZE", "1")
        self.env.setdefault("POSTGRES_MAX_OVERFLOW", "4")
        self.kind = parse_database_url(self.url).kind
        self._app = app
        self._own_app: CaleolApplication | None = None
        self.factory, self.view = open_view(self.env)

    @property
    def app(self) -> CaleolApplication:
        if self._app is None:
            self._own_app = self._app = CaleolApplication(env=self.env)
        return self._app

    @property
    def upstream(self) -> Upstream:
        return Upstream.of(self.app)

    def position(self) -> int | None:
        return self.view.max_tracking_id(self.upstream.name)

    def head(self) -> int | None:
        return self.upstream.head()

    def catch_up(self, *, batch_size: int = BATCH, max_events: int | None = None) -> int:
        return catch_up(self.view, self.upstream, batch_size=batch_size, max_events=max_events)

    def rebuild(self) -> RebuildResult:
        return rebuild(self.view, self.upstream)

    def follow(self, *, poll_interval: float = 0.1) -> Follower:
        """A live follower: the library's runner on PostgreSQL, polling on SQLite."""
        if self.kind == "postgresql":
            return LibraryFollower(self.env, self.view, self.upstream)
        return PollingFollower(self.view, self.upstream, poll_interval=poll_interval)

    def wait(self, notification_id: int | None, timeout: float = 1.0) -> None:
        """Read-your-writes: blocks until a follower has processed ``notification_id``."""
        self.view.wait(self.upstream.name, notification_id, timeout=timeout)

    def close(self) -> None:
        self.factory.close()
        if self._own_app is not None:
            self._own_app.close()

    def __enter__(self) -> ReadModels:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
