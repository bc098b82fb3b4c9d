"""PostgreSQL recorders that sign every stored event into ``ledger_entries``, same transaction.

Use through the eventsourcing environment: ``PERSISTENCE_MODULE=ledger.postgres_recorder``
and ``POSTGRES_*`` (see `ledger.config.environment_for`).

The library locks the stored events table (EXCLUSIVE) before inserting, so inserts commit
in notification-id order; the ledger rows are written after that insert, under the same
lock, so ``max(leaf_index) + 1`` is race-free and leaves are dense even though notification
ids (a sequence) may have gaps. ``insert_events`` is re-implemented here because the
library's version catches exceptions raised after the insert and re-raises them only after
its transaction block has exited (i.e. after COMMIT): a failure while signing must roll the
stored events back too.

An insert takes two round trips (the library's takes five): in pipeline mode, (1) BEGIN,
lock, NOTIFY, the events' INSERT and the ledger's tail (highest leaf, and each stream's
previous record hash, read after the lock), then a sync; the entries are signed; (2) their
INSERT and COMMIT. Statements are rendered to bytes once and prepared.

Table names are fixed (``stored_events``, ``ledger_entries``, ``ledger_key_events``), not
prefixed with the application name, so that ``verify --db URL`` finds the ledger alone.
"""

from __future__ import annotations

import contextlib
import re
from binascii import unhexlify
from collections.abc import Iterator, Sequence
from typing import Any, cast
from uuid import UUID

import eventsourcing.postgres as es_pg
import psycopg
from eventsourcing.persistence import (
    ApplicationRecorder,
    InterfaceError,
    Mapper,
    OperationalError,
    ProcessRecorder,
    StoredEvent,
    Transcoder,
)
from eventsourcing.utils import Environment, EnvType, resolve_topic, retry
from psycopg import Connection, Cursor, Pipeline
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from ledger.keys import KEY_LOG_ID, SignerProvider
from ledger.records import (
    DEFAULT_EVENTS_TABLE,
    KEY_LOG_STREAM,
    ActiveKeyCache,
    LastEntry,
    LedgerEntry,
    NewEntry,
    OrphanEvent,
    Tail,
    append_ledger_entries,
    default_mapper_class,
    default_transcoder,
    iter_entries,
    ledger_table_names,
    register_signing_key,
    registered_key_ids,
    signers_from_env,
    tail_request,
)

# Keeps {schema} and {ledger} placeholders through a str.format() of the other fields.
_BRACES = {"schema": "{schema}", "ledger": "{ledger}"}

__all__ = [
    "Factory",
    "LedgerPostgresApplicationRecorder",
    "LedgerPostgresFactory",
    "LedgerPostgresProcessRecorder",
]


class _PostgresLedgerTxn:
    """`ledger.records.LedgerTxn` over a psycopg cursor inside the insert transaction.

    `send_tail` queues the tail query (pipeline mode) so that it travels with the insert;
    `tail` then reads its result."""

    def __init__(self, recorder: LedgerPostgresApplicationRecorder, curs: Cursor[DictRow]):
        self.r = recorder
        self.c = curs
        self._sent: list[tuple[str, int]] | None = None

    def last_entry(self) -> LastEntry | None:
        self.c.execute(self.r.sql_last_entry, prepare=True)
        row = self.c.fetchone()
        if row is None:
            return None
        return LastEntry(row["leaf_index"], row["key_id"], row["stream"], row["version"])

    def send_tail(self, wanted: list[tuple[str, int]]) -> None:
        if len(wanted) == 1:
            self.c.execute(self.r.sql_tail_one, wanted[0], prepare=True)
        else:
            streams = [stream for stream, _ in wanted]
            below = [version for _, version in wanted]
            self.c.execute(self.r.sql_tail_many, (streams, below), prepare=True)
        self._sent = wanted

    def tail(self, wanted: Sequence[tuple[str, int]]) -> Tail:
        if self._sent is None or self._sent != list(wanted):
            self.send_tail(list(wanted))
        self._sent = None
        rows = self.c.fetchall()
        if not rows or rows[0]["leaf_index"] is None:  # empty ledger
            return None, {stream: None for stream, _ in wanted}
        first = rows[0]
        last = LastEntry(first["leaf_index"], first["key_id"], first["stream"], first["version"])
        if len(wanted) == 1:
            prev = first["prev"]
            return last, {wanted[0][0]: None if prev is None else bytes(prev)}
        return last, {
            row["w_stream"]: None if row["prev"] is None else bytes(row["prev"]) for row in rows
        }

    def prev_hash(self, stream: str, below_version: int) -> bytes | None:
        self.c.execute(self.r.sql_prev_hash, (stream, below_version), prepare=True)
        row = self.c.fetchone()
        return None if row is None else bytes(row["record_hash"])

    def key_event_states(self) -> list[tuple[int, bytes]]:
        self.c.execute(self.r.sql_key_states)
        return [(row["originator_version"], bytes(row["state"])) for row in self.c.fetchall()]

    def insert_key_event(self, version: int, topic: str, state: bytes) -> None:
        self.c.execute(self.r.sql_insert_key_event, (version, topic, state))

    def insert_entries(self, rows: Sequence[NewEntry]) -> None:
        if len(rows) == 1:
            self.c.execute(self.r.sql_insert_entry, rows[0], prepare=True)
        else:
            # One statement whatever the batch size: column arrays, unnested.
            columns = [list(column) for column in zip(*rows, strict=True)]
            self.c.execute(self.r.sql_insert_entries, columns, prepare=True)


def _rollback(conn: Connection[DictRow]) -> None:
    """End a failed insert transaction (an explicit BEGIN) before the pool gets the connection
    back; a broken connection is left to the pool, which discards it."""
    if conn.pgconn.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
        with contextlib.suppress(psycopg.Error):
            conn.execute(b"ROLLBACK")


def _as_bytes(query: Any) -> bytes:
    """A library statement (a Composed, in 9.5.6) rendered once."""
    if isinstance(query, bytes):
        return query
    if isinstance(query, str):
        return query.encode()
    rendered: bytes = query.as_bytes()
    return rendered


class LedgerPostgresApplicationRecorder(es_pg.PostgresApplicationRecorder):
    """Application recorder writing a signed, hash-chained ledger entry per stored event."""

    def __init__(
        self,
        datastore: es_pg.PostgresDatastore,
        *,
        events_table_name: str = DEFAULT_EVENTS_TABLE,
        signers: SignerProvider | None = None,
    ):
        super().__init__(datastore, events_table_name=events_table_name)
        self.signers = signers
        self._active_key_cache = ActiveKeyCache()
        self.ledger_table, self.key_table = ledger_table_names(events_table_name)
        for name in (self.ledger_table, self.key_table):
            self.check_identifier_length(name)
        schema = Identifier(self.datastore.schema)
        ledger = Identifier(self.ledger_table)
        keys = Identifier(self.key_table)
        events = Identifier(self.events_table_name)

        def fmt(text: str) -> Composed:
            return SQL(text).format(schema=schema, ledger=ledger, keys=keys, events=events)

        self.sql_create_statements.append(
            fmt(
                "CREATE TABLE IF NOT EXISTS {schema}.{ledger} ("
                "leaf_index bigint PRIMARY KEY, "
                "notification_id bigint UNIQUE, "
                "stream text NOT NULL, "
                "version bigint NOT NULL, "
                "topic text NOT NULL, "
                "recorded_at text, "
                "actor text, "
                "payload_sha256 bytea NOT NULL, "
                "prev_hash bytea, "
                "key_id text NOT NULL, "
                "record_hash bytea NOT NULL, "
                "signature bytea NOT NULL, "
                "UNIQUE (stream, version))"
            )
        )
        self.sql_create_statements.append(
            fmt(
                "CREATE TABLE IF NOT EXISTS {schema}.{keys} ("
                "originator_version bigint PRIMARY KEY, "
                "topic text NOT NULL, "
                "state bytea NOT NULL)"
            )
        )

        # Statements of the insert path, rendered to bytes once (psycopg renders a Composed
        # on every execute, escaping each identifier).
        def render(text: str) -> bytes:
            return fmt(text).as_bytes()

        last_entry = (
            "SELECT leaf_index, key_id, stream, version FROM {schema}.{ledger} "
            "ORDER BY leaf_index DESC LIMIT 1"
        )
        self.sql_last_entry = render(last_entry)
        prev_hash = (
            "SELECT record_hash FROM {schema}.{ledger} p WHERE p.stream = {stream} "
            "AND p.version < {below} ORDER BY p.version DESC LIMIT 1"
        )
        self.sql_prev_hash = render(prev_hash.format(stream="%s", below="%s", **_BRACES))
        # The tail: the highest leaf, and each stream's previous record hash (by the unique
        # (stream, version) index), in one statement.
        self.sql_tail_one = render(
            "SELECT leaf_index, key_id, stream, version, ("
            + prev_hash.format(stream="%s", below="%s", **_BRACES)
            + ") AS prev FROM {schema}.{ledger} ORDER BY leaf_index DESC LIMIT 1"
        )
        self.sql_tail_many = render(
            "SELECT l.leaf_index, l.key_id, l.stream, l.version, w.stream AS w_stream, ("
            + prev_hash.format(stream="w.stream", below="w.below", **_BRACES)
            + ") AS prev FROM unnest(%s::text[], %s::bigint[]) AS w(stream, below) "
            "LEFT JOIN (" + last_entry + ") l ON TRUE"
        )
        self.sql_key_states = fmt(
            "SELECT originator_version, state FROM {schema}.{keys} ORDER BY originator_version"
        )
        self.sql_insert_key_event = fmt("INSERT INTO {schema}.{keys} VALUES (%s, %s, %s)")
        self.sql_insert_entry = render(
            "INSERT INTO {schema}.{ledger} VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
        )
        self.sql_insert_entries = render(
            # Arrays sent in binary (%b): no quoting or escaping of each element.
            "INSERT INTO {schema}.{ledger} SELECT * FROM unnest(%b::bigint[], %b::bigint[], "
            "%b::text[], %b::bigint[], %b::text[], %b::text[], %b::text[], %b::bytea[], "
            "%b::bytea[], %b::text[], %b::bytea[], %b::bytea[])"
        )
        # The library's statements of the same path.
        self.sql_lock_table = [_as_bytes(statement) for statement in self.lock_table_statements]
        self.sql_notify = SQL("NOTIFY {0}").format(Identifier(self.channel_name)).as_bytes()
        self.sql_insert_events = self.insert_events_statement.as_bytes()
        # Ledger rows with their stored events joined, through COPY (text format): one libpq
        # call per row instead of one per value (which dominates reading with psycopg's
        # pure-Python libpq wrapper), hashes and bytes as hex; parsed by `_copied_entries`.
        self.sql_copy_entries = render(
            "COPY (SELECT l.leaf_index, l.notification_id, l.stream, l.version, l.topic, "
            "l.recorded_at, l.actor, encode(l.payload_sha256, 'hex'), encode(l.prev_hash, 'hex'), "
            "l.key_id, encode(l.record_hash, 'hex'), encode(l.signature, 'hex'), "
            "s.originator_id::text, s.originator_version, s.topic, encode(s.state, 'hex'), "
            "k.originator_version, k.topic, encode(k.state, 'hex') "
            "FROM {schema}.{ledger} l "
            "LEFT JOIN {schema}.{events} s ON s.notification_id = l.notification_id "
            "LEFT JOIN {schema}.{keys} k ON l.notification_id IS NULL AND l.stream = %s "
            "AND k.originator_version = l.version "
            "WHERE l.leaf_index >= %s ORDER BY l.leaf_index LIMIT %s) TO STDOUT"
        )
        self.sql_count_entries = fmt("SELECT count(*) AS n FROM {schema}.{ledger}")
        self.sql_orphan_event = fmt(
            "SELECT s.notification_id, s.originator_id, s.originator_version "
            "FROM {schema}.{events} s WHERE NOT EXISTS (SELECT 1 FROM {schema}.{ledger} l "
            "WHERE l.notification_id = s.notification_id) ORDER BY s.notification_id LIMIT 1"
        )
        self.sql_orphan_key_event = fmt(
            "SELECT k.originator_version FROM {schema}.{keys} k WHERE NOT EXISTS ("
            "SELECT 1 FROM {schema}.{ledger} l WHERE l.notification_id IS NULL "
            "AND l.stream = %s AND l.version = k.originator_version) "
            "ORDER BY k.originator_version LIMIT 1"
        )
        self.sql_select_key_events = fmt("SELECT * FROM {schema}.{keys} WHERE TRUE")

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        notification_ids: list[int] | None = None
        with self.datastore.get_connection() as conn:  # (translates psycopg's errors)
            exc: Exception | None = None
            try:
                # BEGIN and COMMIT are statements of the pipeline (conn.transaction() nests
                # pipelines, which costs three more round trips).
                with (
                    conn.pipeline() as pipeline,
                    conn.cursor() as curs,
                    conn.cursor() as tail_curs,
                ):
                    try:
                        curs.execute(b"BEGIN")
                        self._insert_events(curs, stored_events, **kwargs)  # tracking, if any
                        if stored_events:
                            notification_ids = self._insert_signed(
                                pipeline, curs, tail_curs, stored_events
                            )
                        curs.execute(b"COMMIT")
                    except Exception as e:
                        # Raised once the pipeline is closed, as the library does (so that
                        # psycopg does not log a warning); no COMMIT was sent.
                        exc = e
                # Pipeline closed: its last sync sent the entries' INSERT and COMMIT.
                if exc is not None:
                    raise exc
            except BaseException:
                _rollback(conn)  # the events too: nothing is committed without its entry
                raise
        return notification_ids

    def _insert_signed(
        self,
        pipeline: Pipeline,
        curs: Cursor[DictRow],
        tail_curs: Cursor[DictRow],
        stored_events: Sequence[StoredEvent],
    ) -> list[int]:
        """Insert the events and queue their signed ledger entries' INSERT."""
        for statement in self.sql_lock_table:  # insert order = commit order
            curs.execute(statement, prepare=True)
        curs.execute(self.sql_notify)
        events = [
            self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state)
            for e in stored_events
        ]
        curs.execute(self.sql_insert_events, (events,), prepare=True)
        txn = _PostgresLedgerTxn(self, tail_curs)
        txn.send_tail(tail_request(stored_events))  # runs after the lock
        pipeline.sync()  # round trip 1 (a conflict raises IntegrityError here)
        notification_ids = [row["notification_id"] for row in curs.fetchall()]
        # Signs, and queues the INSERT: sent with COMMIT (round trip 2).
        append_ledger_entries(
            txn, stored_events, notification_ids, self.signers, self._active_key_cache
        )
        return notification_ids

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        if str(originator_id) != KEY_LOG_STREAM:
            events: Sequence[StoredEvent] = super().select_events(
                originator_id, gt=gt, lte=lte, desc=desc, limit=limit
            )
            return events
        key_events: Sequence[StoredEvent] = self._select_key_events(
            gt=gt, lte=lte, desc=desc, limit=limit
        )
        return key_events

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _select_key_events(
        self, *, gt: int | None, lte: int | None, desc: bool, limit: int | None
    ) -> Sequence[StoredEvent]:
        # The key log lives in its own table (outside the notification log).
        statement = self.sql_select_key_events
        params: list[Any] = []
        if gt is not None:
            statement += SQL(" AND originator_version > %s")
            params.append(gt)
        if lte is not None:
            statement += SQL(" AND originator_version <= %s")
            params.append(lte)
        statement += SQL(" ORDER BY originator_version") + SQL(" DESC" if desc else " ASC")
        if limit is not None:
            statement += SQL(" LIMIT %s")
            params.append(limit)
        key_log_id: UUID | str = (
            KEY_LOG_ID if self.datastore.originator_id_type == "uuid" else KEY_LOG_STREAM
        )
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params)
            return [
                StoredEvent(
                    key_log_id, row["originator_version"], row["topic"], bytes(row["state"])
                )
                for row in curs.fetchall()
            ]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def register_signing_key(self) -> str:
        """Register the signers' current key in the ledger now (no-op if already active)."""
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor() as curs,
        ):
            self._lock_table(curs)  # the same lock that orders inserts
            return register_signing_key(
                _PostgresLedgerTxn(self, curs), self.signers, self._active_key_cache
            )

    def registered_key_ids(self) -> list[str]:
        """Key ids registered in the ledger, oldest first (the last one is active)."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            return registered_key_ids(_PostgresLedgerTxn(self, curs).key_event_states())

    # -- LedgerReader ---------------------------------------------------------------------

    def iter_entries(
        self, start_leaf: int = 0, limit: int | None = None, page_size: int = 2000
    ) -> Iterator[LedgerEntry]:
        """Ledger entries (stored events joined) in leaf order, read in pages."""
        return iter_entries(self, start_leaf, limit, page_size)

    def stream_entries(self, start_leaf: int = 0, batch: int = 5000) -> Iterator[LedgerEntry]:
        """All entries from ``start_leaf`` (as `select_entries`) through one streamed COPY: one
        query, one snapshot, and the server sends rows while the caller checks the previous
        ones. Holds a pooled connection until exhausted or closed (close it when stopping
        early)."""
        params = (KEY_LOG_STREAM, start_leaf, None)  # LIMIT NULL: no limit
        with (
            self.datastore.get_connection() as conn,
            conn.cursor() as curs,
            curs.copy(self.sql_copy_entries, params) as copy,
        ):
            rows: list[Any] = []
            for row in copy:
                rows.append(row)
                if len(rows) >= batch:
                    yield from _copied_entries(b"".join(rows))
                    rows.clear()
            if rows:
                yield from _copied_entries(b"".join(rows))

    def select_entries(self, start_leaf: int, limit: int) -> list[LedgerEntry]:
        """Ledger rows from ``start_leaf`` in leaf order, with their stored events joined."""
        params = (KEY_LOG_STREAM, start_leaf, limit)
        with (
            self.datastore.get_connection() as conn,
            conn.cursor() as curs,
            curs.copy(self.sql_copy_entries, params) as copy,
        ):
            data = b"".join(copy)
        return _copied_entries(data)

    def count_entries(self) -> int:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.sql_count_entries)
            row = curs.fetchone()
            assert row is not None
            return cast(int, row["n"])

    def find_orphan_event(self) -> OrphanEvent | None:
        """First stored event (or key-log event) that no ledger entry points to."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.sql_orphan_event)
            row = curs.fetchone()
            if row is not None:
                return OrphanEvent(
                    str(row["originator_id"]), row["originator_version"], row["notification_id"]
                )
            curs.execute(self.sql_orphan_key_event, (KEY_LOG_STREAM,))
            row = curs.fetchone()
            if row is None:
                return None
            return OrphanEvent(KEY_LOG_STREAM, row["originator_version"], None)


_NULL = b"\\N"
_COPY_ESCAPE = re.compile(rb"\\(.)", re.DOTALL)
_COPY_ESCAPES = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}


def _copy_text(field: bytes) -> str | None:
    """A text value of COPY's text format (the slow path: with a backslash)."""
    if field == _NULL:
        return None
    return _COPY_ESCAPE.sub(lambda m: _COPY_ESCAPES.get(m[1], m[1]), field).decode()


def _copied_entries(data: bytes) -> list[LedgerEntry]:
    """Entries from the output of ``sql_copy_entries`` (rows end with a newline; a newline,
    tab or backslash inside a value is escaped by COPY)."""
    entries: list[LedgerEntry] = []
    append = entries.append
    for line in data.split(b"\n")[:-1]:
        (
            leaf,
            nid,
            stream,
            version,
            topic,
            recorded_at,
            actor,
            payload,
            prev,
            key_id,
            record,
            signature,
            ev_id,
            ev_version,
            ev_topic,
            ev_state,
            k_version,
            k_topic,
            k_state,
        ) = line.split(b"\t")
        if ev_id != _NULL:
            event_stream = ev_id.decode() if b"\\" not in ev_id else _copy_text(ev_id)
            event_version: int | None = int(ev_version)
            event_topic = ev_topic.decode() if b"\\" not in ev_topic else _copy_text(ev_topic)
            state: bytes | None = unhexlify(ev_state)
        elif k_version != _NULL:
            event_stream, event_version = KEY_LOG_STREAM, int(k_version)
            event_topic = k_topic.decode() if b"\\" not in k_topic else _copy_text(k_topic)
            state = unhexlify(k_state)
        else:
            event_stream = event_version = event_topic = state = None
        append(
            LedgerEntry(
                leaf_index=int(leaf),
                notification_id=None if nid == _NULL else int(nid),
                stream=stream.decode() if b"\\" not in stream else cast(str, _copy_text(stream)),
                version=int(version),
                topic=topic.decode() if b"\\" not in topic else cast(str, _copy_text(topic)),
                recorded_at=(
                    recorded_at.decode() if b"\\" not in recorded_at else _copy_text(recorded_at)
                ),
                actor=actor.decode() if b"\\" not in actor else _copy_text(actor),
                payload_sha256=unhexlify(payload),
                prev_hash=None if prev == _NULL else unhexlify(prev),
                key_id=key_id.decode() if b"\\" not in key_id else cast(str, _copy_text(key_id)),
                record_hash=unhexlify(record),
                signature=unhexlify(signature),
                event_stream=event_stream,
                event_version=event_version,
                event_topic=event_topic,
                state=state,
            )
        )
    return entries


class LedgerPostgresProcessRecorder(
    es_pg.PostgresProcessRecorder, LedgerPostgresApplicationRecorder
):
    """Process recorder (tracking + events) with the same signed ledger."""


class LedgerPostgresFactory(es_pg.PostgresFactory):
    """PostgreSQL infrastructure factory: canonical transcoder, signing mapper, ledger
    recorders, fixed table names. Signers as for `ledger.sqlite_recorder.LedgerSQLiteFactory`.
    """

    application_recorder_class = LedgerPostgresApplicationRecorder
    process_recorder_class = LedgerPostgresProcessRecorder

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        self.signers: SignerProvider | None = None

    def transcoder(self) -> Transcoder:
        return default_transcoder(self.env) or super().transcoder()

    def mapper(
        self,
        transcoder: Transcoder | None = None,
        mapper_class: type[Mapper[Any]] | None = None,
    ) -> Mapper[Any]:
        return super().mapper(transcoder, mapper_class or default_mapper_class(self.env))

    def application_recorder(self) -> ApplicationRecorder:
        topic = self.env.get(self.APPLICATION_RECORDER_TOPIC)
        recorder_class: type[LedgerPostgresApplicationRecorder] = (
            resolve_topic(topic) if topic else type(self).application_recorder_class
        )
        recorder = recorder_class(datastore=self.datastore, events_table_name=DEFAULT_EVENTS_TABLE)
        self._configure(recorder)
        if self.env_create_table():
            recorder.create_table()
        return recorder

    def process_recorder(self) -> ProcessRecorder:
        topic = self.env.get(self.PROCESS_RECORDER_TOPIC)
        recorder_class: type[LedgerPostgresProcessRecorder] = (
            resolve_topic(topic) if topic else type(self).process_recorder_class
        )
        tracking_table_name = (self.env.name.lower() or "notification") + "_tracking"
        recorder = recorder_class(
            datastore=self.datastore,
            events_table_name=DEFAULT_EVENTS_TABLE,
            tracking_table_name=tracking_table_name,
        )
        self._configure(recorder)
        if self.env_create_table():
            recorder.create_table()
        return recorder

    def _configure(self, recorder: object) -> None:
        if isinstance(recorder, LedgerPostgresApplicationRecorder) and recorder.signers is None:
            recorder.signers = self.signers or signers_from_env(self.env)


Factory = LedgerPostgresFactory
