"""Materialised read models in the ledger's own database (SQLite or PostgreSQL).

A view is the eventsourcing library's tracking recorder (`SQLiteTrackingRecorder`,
`PostgresTrackingRecorder`) extended with the read-model tables:

- ``proj_docs`` (the folded document of each commission or in-person session) and
  ``proj_streams`` (activity stream -> commission): the fold's state, so that a follower resumes;
- ``proj_commissions``, ``proj_members``, ``proj_dwellings``, ``proj_candidates``,
  ``proj_ballots``: the commission-state read model (the full JSON in ``proj_commissions.state``);
- ``proj_sessions``, ``proj_participation``: the participation statistics' facts;
- ``projections_tracking``: the position reached in the application's notification log.

`process` applies a batch of events **exactly once**: in one transaction it reads the tracking
position (skipping what is already processed), folds the events into the documents, writes the
changed rows and records the new position; if anything fails before the commit, nothing of the
batch is kept. Writers of the ledger never wait for it: the ledger's inserts and the view's
transactions are independent (on SQLite each view transaction is short; a rebuild writes into
shadow tables in small transactions and swaps them in at the end).

Between transactions the view keeps the documents it last wrote in memory, valid as long as the
stored position is the one it committed (the fold is deterministic: the same position means the
same documents).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from eventsourcing.persistence import Tracking, TrackingRecorder, WaitInterruptedError
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder
from psycopg.sql import SQL, Composed, Identifier

from projections.fold import FoldState, fold
from projections.read_models import INTEGER_COLUMNS, TABLES, Rows, table_rows

__all__ = [
    "PROJECTION_NAME",
    "TRACKING_TABLE",
    "PostgresReadModelView",
    "ProjectionConflict",
    "ReadModelView",
    "SQLiteReadModelView",
    "dumps",
]

PROJECTION_NAME = "projections"
TRACKING_TABLE = PROJECTION_NAME + "_tracking"
SHADOW = "__rebuild"
#: Serialises the writers of the read models on PostgreSQL (pg_advisory_xact_lock key).
PG_LOCK_KEY = 0x0CA1E01
CHUNK = 200

#: Every table of the view: name -> (primary-key columns, other columns).
ALL_TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "proj_docs": (("doc_key",), ("kind", "state")),
    "proj_streams": (("stream_id",), ("doc_key", "member_id")),
    **TABLES,
}

Item = tuple[Any, int]  # (domain event, notification id)
ReadAfter = Callable[[int, int], Sequence[Item]]


def dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


class _Unset:
    """No expectation about the stored position (per-event processing)."""


UNSET = _Unset()


class ProjectionConflict(RuntimeError):
    """The stored position moved behind this writer's back (another writer, or a reset)."""


class _Cache:
    """Documents and their rows as of ``position`` (valid while the stored position is it)."""

    MAX_DOCS = 512

    def __init__(self) -> None:
        self.valid = False
        self.position: int | None = None
        self.docs: dict[str, tuple[dict[str, Any], Rows]] = {}
        self.streams: dict[str, list[str]] = {}

    def reset(self) -> None:
        self.valid = False
        self.position = None
        self.docs.clear()
        self.streams.clear()


class ReadModelView(TrackingRecorder):
    """The read-model tables and their exactly-once processing (dialect-neutral part)."""

    placeholder = "?"
    integer_type = "INTEGER"
    text_type = "TEXT"
    #: Test hook: called inside the transaction after the rows are written, before the
    #: tracking position is recorded (a crash there must lose the whole batch).
    before_tracking: Callable[[], None] | None = None

    if TYPE_CHECKING:  # provided by the library's SQLite and PostgreSQL tracking recorders

        def _max_tracking_id(self, application_name: str, c: Any) -> int | None: ...

        def _insert_tracking(self, c: Any, tracking: Tracking) -> None: ...

    # dialect
    def _table(self, name: str) -> str:
        return f'"{name}"'

    def _write(self) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    def _read(self) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    def _tracking_table(self) -> str:
        raise NotImplementedError

    def _after_swap(self, c: Any, table: str) -> None:
        """Dialect clean-up after a shadow table was renamed to ``table``."""

    def wait(
        self,
        application_name: str,
        notification_id: int | None,
        timeout: float = 1.0,
        interrupt: threading.Event | None = None,
    ) -> None:
        """Blocks until the view has processed ``notification_id`` (read-your-writes).

        As the library's `TrackingRecorder.wait`, but polling from 2 ms (doubling up to 100 ms)
        rather than from 100 ms: a reader waiting for its own write is usually a few
        milliseconds behind. Raises TimeoutError, or WaitInterruptedError if ``interrupt``
        is set first.
        """
        deadline = time.monotonic() + timeout
        interval = 0.002
        while not self.has_tracking_id(application_name, notification_id):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"Timed out waiting for notification {notification_id} "
                    f"from application '{application_name}' to be processed"
                )
            pause = min(interval, remaining)
            if interrupt is not None:
                if interrupt.wait(pause):
                    raise WaitInterruptedError
            else:
                time.sleep(pause)
            interval = min(interval * 2, 0.1)

    def _init_view(self) -> None:
        self._cache = _Cache()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ DDL and SQL

    def _ddl(self, table: str, suffix: str = "") -> str:
        key, cols = ALL_TABLES[table]
        columns = ", ".join(
            f"{c} {self.integer_type if c in INTEGER_COLUMNS else self.text_type}"
            for c in (*key, *cols)
        )
        return (
            f"CREATE TABLE IF NOT EXISTS {self._table(table + suffix)} "
            f"({columns}, PRIMARY KEY ({', '.join(key)}))"
        )

    def _upsert_sql(self, table: str, suffix: str = "") -> str:
        key, cols = ALL_TABLES[table]
        names = (*key, *cols)
        marks = ", ".join(self.placeholder for _ in names)
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols)
        return (
            f"INSERT INTO {self._table(table + suffix)} ({', '.join(names)}) VALUES ({marks}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
        )

    def _delete_sql(self, table: str, suffix: str = "") -> str:
        key, _ = ALL_TABLES[table]
        where = " AND ".join(f"{c} = {self.placeholder}" for c in key)
        return f"DELETE FROM {self._table(table + suffix)} WHERE {where}"

    def _in(self, values: Sequence[Any]) -> str:
        return ", ".join(self.placeholder for _ in values)

    # ------------------------------------------------------------------ loading

    def _load_streams(self, c: Any, ids: Sequence[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            c.execute(
                f"SELECT stream_id, doc_key, member_id FROM {self._table('proj_streams')} "
                f"WHERE stream_id IN ({self._in(part)})",
                list(part),
            )
            for row in c.fetchall():
                found[row["stream_id"]] = [row["doc_key"], row["member_id"]]
        return found

    def _load_docs(self, c: Any, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(keys), 200):
            part = keys[i : i + 200]
            c.execute(
                f"SELECT doc_key, state FROM {self._table('proj_docs')} "
                f"WHERE doc_key IN ({self._in(part)})",
                list(part),
            )
            for row in c.fetchall():
                found[row["doc_key"]] = orjson.loads(row["state"])
        return found

    # ------------------------------------------------------------------ processing

    def process(
        self,
        items: Sequence[Item],
        application_name: str,
        *,
        expected_after: int | _Unset | None = UNSET,
    ) -> int:
        """Folds a batch of (event, notification id), in notification order, exactly once.

        Returns how many events were applied (those at or below the stored position are
        skipped). ``expected_after``: the position the caller read before selecting the batch;
        if the stored position is behind it, the batch would skip events: `ProjectionConflict`.
        """
        if not items:
            return 0
        with self._lock:
            try:
                return self._process(items, application_name, expected_after)
            except BaseException:
                self._cache.reset()
                raise

    def _process(
        self, items: Sequence[Item], application_name: str, expected_after: int | _Unset | None
    ) -> int:
        cache = self._cache
        with self._write() as c:
            position = self._max_tracking_id(application_name, c)
            if not isinstance(expected_after, _Unset) and (position or 0) < (expected_after or 0):
                raise ProjectionConflict(
                    f"stored position {position} is behind the batch's start {expected_after}"
                )
            todo = [(e, n) for e, n in items if position is None or n > position]
            if not todo:
                return 0
            if not (cache.valid and cache.position == position):
                cache.reset()
            state = FoldState()
            old: dict[str, Rows] = {}
            originators = sorted({str(e.originator_id) for e, _ in todo})
            unknown = [s for s in originators if s not in cache.streams]
            cache.streams.update(self._load_streams(c, unknown) if unknown else {})
            keys: set[str] = set()
            for event, _ in todo:
                stream = str(event.originator_id)
                keys.add(cache.streams[stream][0] if stream in cache.streams else stream)
                commission_id = getattr(event, "commission_id", None)
                if commission_id is not None:
                    keys.add(str(commission_id))
            state.streams = cache.streams
            missing = sorted(k for k in keys if k not in cache.docs)
            loaded = self._load_docs(c, missing) if missing else {}
            for key in sorted(keys):
                if key in cache.docs:
                    doc, rows = cache.docs[key]
                elif key in loaded:
                    doc = loaded[key]
                    rows = table_rows(doc)
                else:
                    continue
                state.docs[key] = doc
                old[key] = rows
            touched: set[str] = set()
            new_streams: list[tuple[str, str, str]] = []
            for event, _ in todo:
                changed = fold(state, event)
                if changed is None:
                    continue
                key, registered = changed
                touched.add(key)
                new_streams.extend((s, key, state.streams[s][1]) for s in registered)
            new: dict[str, Rows] = {}
            for key in sorted(touched):
                new[key] = table_rows(state.docs[key])
                self._write_doc_diff(c, key, state.docs[key], old.get(key), new[key])
            if new_streams:
                c.executemany(self._upsert_sql("proj_streams"), new_streams)
            hook = self.before_tracking
            if hook is not None:
                hook()
            last = todo[-1][1]
            self._insert_tracking(c, Tracking(application_name, last))
        # committed
        for key in touched:
            cache.docs[key] = (state.docs[key], new[key])
        if len(cache.docs) > cache.MAX_DOCS:
            cache.docs.clear()
        cache.position = last
        cache.valid = True
        return len(todo)

    def _write_doc_diff(
        self, c: Any, key: str, doc: dict[str, Any], old: Rows | None, new: Rows
    ) -> None:
        c.execute(self._upsert_sql("proj_docs"), (key, doc["kind"], dumps(doc)))
        for table in TABLES:
            before = old[table] if old else {}
            after = new[table]
            gone = [k for k in before if k not in after]
            if gone:
                c.executemany(self._delete_sql(table), gone)
            changed = [k + v for k, v in after.items() if before.get(k) != v]
            if changed:
                c.executemany(self._upsert_sql(table), changed)

    # ------------------------------------------------------------------ rebuild

    def replace_all(
        self,
        state: FoldState,
        position: int | None,
        application_name: str,
        read_after: ReadAfter | None = None,
    ) -> int | None:
        """Replaces every read model by ``state`` (folded up to ``position``) and returns the
        position recorded. Written into shadow tables in short transactions, then swapped in
        one; events a live follower processed meanwhile are folded in before the swap."""
        with self._lock:
            try:
                return self._replace_all(state, position, application_name, read_after)
            finally:
                self._cache.reset()

    def _replace_all(
        self,
        state: FoldState,
        position: int | None,
        application_name: str,
        read_after: ReadAfter | None,
    ) -> int | None:
        with self._write() as c:
            for table in ALL_TABLES:
                c.execute(f"DROP TABLE IF EXISTS {self._table(table + SHADOW)}")
                c.execute(self._ddl(table, SHADOW))
        keys = sorted(state.docs)
        for i in range(0, len(keys), CHUNK):
            with self._write() as c:
                self._insert_docs(c, state, keys[i : i + CHUNK])
        streams = sorted(state.streams.items())
        for i in range(0, len(streams), 5000):
            with self._write() as c:
                c.executemany(
                    self._upsert_sql("proj_streams", SHADOW),
                    [(s, k, m) for s, (k, m) in streams[i : i + 5000]],
                )
        with self._write() as c:
            stored = self._max_tracking_id(application_name, c)
            final = position
            if stored is not None and (position is None or stored > position):
                if read_after is None:
                    raise ProjectionConflict("the view moved on during the rebuild")
                touched: set[str] = set()
                for event, _ in read_after(position or 0, stored):
                    changed = fold(state, event)
                    if changed is not None:
                        touched.add(changed[0])
                        c.executemany(
                            self._upsert_sql("proj_streams", SHADOW),
                            [(s, changed[0], state.streams[s][1]) for s in changed[1]],
                        )
                for key in sorted(touched):
                    for table in ("proj_docs", *TABLES):
                        column = ALL_TABLES[table][0][0]
                        c.execute(
                            f"DELETE FROM {self._table(table + SHADOW)} "
                            f"WHERE {column} = {self.placeholder}",
                            (key,),
                        )
                self._insert_docs(c, state, sorted(touched))
                final = stored
            for table in ALL_TABLES:
                c.execute(f"DROP TABLE IF EXISTS {self._table(table)}")
                c.execute(f"ALTER TABLE {self._table(table + SHADOW)} RENAME TO {table}")
                self._after_swap(c, table)
            c.execute(
                f"DELETE FROM {self._tracking_table()} WHERE application_name = {self.placeholder}",
                (application_name,),
            )
            if final is not None:
                self._insert_tracking(c, Tracking(application_name, final))
        return final

    def clear(self, application_name: str) -> None:
        """Empties every read model and forgets the position (the next catch-up starts over)."""
        with self._lock:
            self._cache.reset()
            with self._write() as c:
                for table in ALL_TABLES:
                    c.execute(f"DELETE FROM {self._table(table)}")
                c.execute(
                    f"DELETE FROM {self._tracking_table()} WHERE application_name = "
                    f"{self.placeholder}",
                    (application_name,),
                )

    def _insert_docs(self, c: Any, state: FoldState, keys: Iterable[str]) -> None:
        batch: dict[str, list[tuple[Any, ...]]] = {t: [] for t in ("proj_docs", *TABLES)}
        for key in keys:
            doc = state.docs[key]
            batch["proj_docs"].append((key, doc["kind"], dumps(doc)))
            for table, rows in table_rows(doc).items():
                batch[table].extend(k + v for k, v in rows.items())
        for table, values in batch.items():
            if values:
                c.executemany(self._upsert_sql(table, SHADOW), values)

    # ------------------------------------------------------------------ queries

    def _select(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._read() as c:
            c.execute(sql, list(params))
            return [dict(row) for row in c.fetchall()]

    def commission_state(self, commission_id: str) -> dict[str, Any] | None:
        rows = self._select(
            f"SELECT state FROM {self._table('proj_commissions')} "
            f"WHERE commission_id = {self.placeholder}",
            (commission_id,),
        )
        return orjson.loads(rows[0]["state"]) if rows else None

    def commissions(self, agency: str | None = None) -> list[dict[str, Any]]:
        _, cols = ALL_TABLES["proj_commissions"]
        shown = ["commission_id", *(c for c in cols if c != "state")]
        sql = f"SELECT {', '.join(shown)} FROM {self._table('proj_commissions')}"
        params: list[Any] = []
        if agency is not None:
            sql += f" WHERE agency_id = {self.placeholder}"
            params.append(agency)
        return self._select(sql + " ORDER BY opens_at, commission_id", params)

    def table(self, table: str, where: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The rows of a read-model table, in primary-key order (``where``: column = value)."""
        key, _ = ALL_TABLES[table]
        params: list[Any] = []
        sql = f"SELECT * FROM {self._table(table)}"
        if where:
            sql += " WHERE " + " AND ".join(f"{k} = {self.placeholder}" for k in where)
            params.extend(where.values())
        return self._select(sql + f" ORDER BY {', '.join(key)}", params)

    def statistics_rows(
        self,
        agency: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(sessions, participation rows) held between the two days (ISO dates, inclusive)."""
        where: list[str] = []
        params: list[Any] = []
        for clause, value in (
            ("agency_id = ", agency),
            ("held_on >= ", date_from),
            ("held_on <= ", date_to),
        ):
            if value is not None:
                where.append(clause + self.placeholder)
                params.append(value)
        condition = (" WHERE " + " AND ".join(where)) if where else ""
        sessions = self._select(
            f"SELECT * FROM {self._table('proj_sessions')}{condition} "
            "ORDER BY held_on, session_key",
            params,
        )
        members = self._select(
            f"SELECT * FROM {self._table('proj_participation')}{condition} "
            "ORDER BY held_on, session_key, member_id",
            params,
        )
        return sessions, members

    def fold_state(self) -> FoldState:
        """The stored documents and stream index (what a follower resumes from)."""
        state = FoldState()
        for row in self._select(f"SELECT doc_key, state FROM {self._table('proj_docs')}"):
            state.docs[row["doc_key"]] = orjson.loads(row["state"])
        for row in self._select(f"SELECT * FROM {self._table('proj_streams')}"):
            state.streams[row["stream_id"]] = [row["doc_key"], row["member_id"]]
        return state


class SQLiteReadModelView(ReadModelView, SQLiteTrackingRecorder):
    """The view in the ledger's SQLite database (its own connections; WAL mode)."""

    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self._init_view()
        table = self._tracking_table()
        self.create_table_statements = self.construct_create_table_statements()
        if self.datastore.single_row_tracking:
            self.insert_tracking_statement = (
                f"INSERT INTO {table} VALUES (:application_name, :notification_id) "
                "ON CONFLICT (application_name) DO UPDATE "
                "SET notification_id = :notification_id "
                f"WHERE {table}.notification_id < :notification_id "
                "RETURNING notification_id"
            )
        else:
            self.insert_tracking_statement = (
                f"INSERT INTO {table} VALUES (:application_name, :notification_id)"
            )
        self.select_max_tracking_id_statement = (
            f"SELECT MAX(notification_id) FROM {table} WHERE application_name=?"
        )

    def _tracking_table(self) -> str:
        return f'"{TRACKING_TABLE}"'

    def construct_create_table_statements(self) -> list[str]:
        key = (
            "(application_name)"
            if self.datastore.single_row_tracking
            else ("(application_name, notification_id)")
        )
        return [
            *(self._ddl(table) for table in ALL_TABLES),
            f"CREATE TABLE IF NOT EXISTS {self._tracking_table()} ("
            f"application_name TEXT, notification_id INTEGER, PRIMARY KEY {key}) WITHOUT ROWID",
        ]

    @contextlib.contextmanager
    def _write(self) -> Iterator[Any]:
        with self.datastore.get_connection(commit=True) as conn:
            cursor = conn.cursor()
            # The read models can always be rebuilt: no fsync per transaction (WAL stays
            # consistent: a power cut loses whole transactions, rows and tracking together).
            cursor.execute("PRAGMA synchronous=NORMAL")
            # IMMEDIATE: take the write lock first, so that reading then writing never fails
            # on a snapshot made stale by the ledger's own writers.
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.rollback()
                raise
            conn.commit()

    @contextlib.contextmanager
    def _read(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=False) as c:
            yield c


class PostgresReadModelView(ReadModelView, PostgresTrackingRecorder):
    """The view in the ledger's PostgreSQL database (tables in the configured schema)."""

    placeholder = "%s"
    integer_type = "bigint"
    text_type = "text"

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        tracking_table_name: str = TRACKING_TABLE,
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, tracking_table_name=tracking_table_name, **kwargs)
        self._init_view()
        for table in ALL_TABLES:
            self.sql_create_statements.append(Composed([SQL(self._ddl(table))]))

    def _table(self, name: str) -> str:
        return f'"{self.datastore.schema}"."{name}"'

    def _tracking_table(self) -> str:
        return self._table(self.tracking_table_name)

    def _after_swap(self, c: Any, table: str) -> None:
        c.execute(
            SQL("ALTER INDEX IF EXISTS {}.{} RENAME TO {}").format(
                Identifier(self.datastore.schema),
                Identifier(f"{table}{SHADOW}_pkey"),
                Identifier(f"{table}_pkey"),
            )
        )

    @contextlib.contextmanager
    def _write(self) -> Iterator[Any]:
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor() as curs,
        ):
            curs.execute("SELECT pg_advisory_xact_lock(%s)", (PG_LOCK_KEY,))
            yield curs

    @contextlib.contextmanager
    def _read(self) -> Iterator[Any]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            yield curs
