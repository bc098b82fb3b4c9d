"""SQLite recorders that sign every stored event into ``ledger_entries``, same transaction.

Use through the eventsourcing environment: ``PERSISTENCE_MODULE=ledger.sqlite_recorder``
and ``SQLITE_DBNAME=<path>`` (see `ledger.config.environment_for`).

SQLite serialises writers on the whole database, and the library's insert transaction
starts with the stored events' INSERT, so the leaf index ``max + 1`` read afterwards in the
same transaction cannot race with another writer, even in another process.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, cast
from uuid import UUID

import eventsourcing.sqlite as es_sqlite
from eventsourcing.persistence import (
    ApplicationRecorder,
    InterfaceError,
    Mapper,
    ProcessRecorder,
    StoredEvent,
    Transcoder,
)
from eventsourcing.utils import Environment, EnvType

from ledger.keys import KEY_LOG_ID, SignerProvider
from ledger.records import (
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
)

__all__ = [
    "Factory",
    "LedgerSQLiteApplicationRecorder",
    "LedgerSQLiteFactory",
    "LedgerSQLiteProcessRecorder",
]


class _SQLiteLedgerTxn:
    """`ledger.records.LedgerTxn` over the library's SQLite cursor (its sqlite3 cursor)."""

    def __init__(self, recorder: LedgerSQLiteApplicationRecorder, cursor: es_sqlite.SQLiteCursor):
        self.r = recorder
        self.c: sqlite3.Cursor = cursor.sqlite_cursor

    def last_entry(self) -> LastEntry | None:
        row = self.c.execute(self.r.sql_last_entry).fetchone()
        return None if row is None else LastEntry(row[0], row[1], row[2], row[3])

    def tail(self, wanted: Sequence[tuple[str, int]]) -> Tail:
        if len(wanted) == 1:  # the usual batch: one statement for both
            stream, below = wanted[0]
            row = self.c.execute(self.r.sql_tail_one, (stream, below)).fetchone()
            if row is None:
                return None, {stream: None}
            prev = None if row[4] is None else bytes(row[4])
            return LastEntry(row[0], row[1], row[2], row[3]), {stream: prev}
        last = self.last_entry()
        if last is None:  # empty ledger: no previous entries
            return None, {stream: None for stream, _ in wanted}
        return last, {stream: self.prev_hash(stream, below) for stream, below in wanted}

    def prev_hash(self, stream: str, below_version: int) -> bytes | None:
        row = self.c.execute(self.r.sql_prev_hash, (stream, below_version)).fetchone()
        return None if row is None else bytes(row[0])

    def key_event_states(self) -> list[tuple[int, bytes]]:
        self.c.execute(
            f"SELECT originator_version, state FROM {self.r.key_table} ORDER BY originator_version"
        )
        return [(row[0], bytes(row[1])) for row in self.c.fetchall()]

    def insert_key_event(self, version: int, topic: str, state: bytes) -> None:
        self.c.execute(f"INSERT INTO {self.r.key_table} VALUES (?,?,?)", (version, topic, state))

    def insert_entries(self, rows: Sequence[NewEntry]) -> None:
        if len(rows) == 1:
            self.c.execute(self.r.sql_insert_entry, rows[0])
        else:
            self.c.executemany(self.r.sql_insert_entry, rows)


class LedgerSQLiteApplicationRecorder(es_sqlite.SQLiteApplicationRecorder):
    """Application recorder writing a signed, hash-chained ledger entry per stored event."""

    def __init__(
        self,
        datastore: es_sqlite.SQLiteDatastore,
        events_table_name: str = "stored_events",
        signers: SignerProvider | None = None,
    ):
        # Needed by construct_create_table_statements(), called by the base __init__.
        self.ledger_table, self.key_table = ledger_table_names(events_table_name)
        super().__init__(datastore, events_table_name)
        self.signers = signers
        self._active_key_cache = ActiveKeyCache()
        ledger = self.ledger_table
        self.sql_last_entry = (
            f"SELECT leaf_index, key_id, stream, version FROM {ledger} "
            "ORDER BY leaf_index DESC LIMIT 1"
        )
        # The stream's previous record hash by the (stream, version) index, with the last leaf.
        self.sql_prev_hash = (
            f"SELECT p.record_hash FROM {ledger} p WHERE p.stream=? AND p.version<? "
            "ORDER BY p.version DESC LIMIT 1"
        )
        self.sql_tail_one = (
            f"SELECT leaf_index, key_id, stream, version, ({self.sql_prev_hash}) "
            f"FROM {ledger} ORDER BY leaf_index DESC LIMIT 1"
        )
        self.sql_insert_entry = f"INSERT INTO {ledger} VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"

    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {self.ledger_table} ("
            "leaf_index INTEGER PRIMARY KEY, "
            "notification_id INTEGER UNIQUE, "
            "stream TEXT NOT NULL, "
            "version INTEGER NOT NULL, "
            "topic TEXT NOT NULL, "
            "recorded_at TEXT, "
            "actor TEXT, "
            "payload_sha256 BLOB NOT NULL, "
            "prev_hash BLOB, "
            "key_id TEXT NOT NULL, "
            "record_hash BLOB NOT NULL, "
            "signature BLOB NOT NULL, "
            "UNIQUE (stream, version))"
        )
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {self.key_table} ("
            "originator_version INTEGER PRIMARY KEY, "
            "topic TEXT NOT NULL, "
            "state BLOB NOT NULL)"
        )
        return statements

    def _insert_events(
        self,
        c: es_sqlite.SQLiteCursor,
        stored_events: Sequence[StoredEvent],
        **kwargs: Any,
    ) -> Sequence[int] | None:
        notification_ids = super()._insert_events(c, stored_events, **kwargs)
        # Any exception here propagates through the library's SQLiteTransaction: rollback.
        append_ledger_entries(
            _SQLiteLedgerTxn(self, c),
            stored_events,
            notification_ids,
            self.signers,
            self._active_key_cache,
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
            return super().select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        # The key log lives in its own table (outside the notification log).
        statement = f"SELECT * FROM {self.key_table} WHERE 1=1 "
        params: list[Any] = []
        if gt is not None:
            statement += "AND originator_version>? "
            params.append(gt)
        if lte is not None:
            statement += "AND originator_version<=? "
            params.append(lte)
        statement += "ORDER BY originator_version " + ("DESC " if desc else "ASC ")
        if limit is not None:
            statement += "LIMIT ?"
            params.append(limit)
        key_log_id = self.convert_originator_id(KEY_LOG_ID.hex)
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return [
                StoredEvent(key_log_id, row["originator_version"], row["topic"], row["state"])
                for row in c.fetchall()
            ]

    def register_signing_key(self) -> str:
        """Register the signers' current key in the ledger now (no-op if already active)."""
        with self.datastore.get_connection(commit=True) as conn:
            cursor = conn.cursor()
            # IMMEDIATE: take the write lock before reading the last leaf.
            cursor.execute("BEGIN IMMEDIATE")
            try:
                key_id = register_signing_key(
                    _SQLiteLedgerTxn(self, cursor), self.signers, self._active_key_cache
                )
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
            return key_id

    def registered_key_ids(self) -> list[str]:
        """Key ids registered in the ledger, oldest first (the last one is active)."""
        with self.datastore.transaction(commit=False) as c:
            return registered_key_ids(_SQLiteLedgerTxn(self, c).key_event_states())

    # -- LedgerReader ---------------------------------------------------------------------

    def iter_entries(
        self, start_leaf: int = 0, limit: int | None = None, page_size: int = 2000
    ) -> Iterator[LedgerEntry]:
        """Ledger entries (stored events joined) in leaf order, read in pages."""
        return iter_entries(self, start_leaf, limit, page_size)

    def select_entries(self, start_leaf: int, limit: int) -> list[LedgerEntry]:
        """Ledger rows from ``start_leaf`` in leaf order, with their stored events joined."""
        statement = (
            "SELECT l.leaf_index, l.notification_id, l.stream, l.version, l.topic, "
            "l.recorded_at, l.actor, l.payload_sha256, l.prev_hash, l.key_id, l.record_hash, "
            "l.signature, s.originator_id, s.originator_version, s.topic, s.state, "
            "k.originator_version, k.topic, k.state "
            f"FROM {self.ledger_table} l "
            f"LEFT JOIN {self.events_table_name} s "
            "ON l.notification_id IS NOT NULL AND s.rowid = l.notification_id "
            f"LEFT JOIN {self.key_table} k "
            "ON l.notification_id IS NULL AND l.stream = ? AND k.originator_version = l.version "
            "WHERE l.leaf_index >= ? ORDER BY l.leaf_index LIMIT ?"
        )
        with self.datastore.transaction(commit=False) as c:
            # Plain tuples (this cursor only; it is closed with the transaction): a page is
            # read in one go, and `sqlite3.Row` lookups by name are a hot spot of verify.
            c.sqlite_cursor.row_factory = None
            c.execute(statement, (KEY_LOG_STREAM, start_leaf, limit))
            rows = c.fetchall()
        entries: list[LedgerEntry] = []
        append = entries.append
        streams: dict[str, str] = {}  # stored originator id -> stream (few per page)
        for (
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
        ) in rows:
            if ev_id is not None:
                event_stream = streams.get(ev_id)
                if event_stream is None:
                    event_stream = streams[ev_id] = self._stream_of(ev_id)
                event_version, event_topic = ev_version, ev_topic
                state: bytes | None = bytes(ev_state)
            elif k_version is not None:
                event_stream, event_version, event_topic = KEY_LOG_STREAM, k_version, k_topic
                state = bytes(k_state)
            else:
                event_stream = event_version = event_topic = state = None
            append(
                LedgerEntry(
                    leaf,
                    nid,
                    stream,
                    version,
                    topic,
                    recorded_at,
                    actor,
                    bytes(payload),
                    None if prev is None else bytes(prev),
                    key_id,
                    bytes(record),
                    bytes(signature),
                    event_stream,
                    event_version,
                    event_topic,
                    state,
                )
            )
        return entries

    def _stream_of(self, stored_id: str) -> str:
        """str(originator id) from the stored column (UUIDs are stored as 32 hex digits)."""
        if self.datastore.originator_id_type == "uuid" and len(stored_id) == 32:
            h = stored_id.lower()  # formatted directly: UUID() per row is a hot spot in verify
            return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        return str(self.convert_originator_id(stored_id))

    def count_entries(self) -> int:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT COUNT(*) FROM {self.ledger_table}")
            return cast(int, c.fetchone()[0])

    def find_orphan_event(self) -> OrphanEvent | None:
        """First stored event (or key-log event) that no ledger entry points to."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT s.rowid AS nid, s.originator_id, s.originator_version "
                f"FROM {self.events_table_name} s WHERE NOT EXISTS ("
                f"SELECT 1 FROM {self.ledger_table} l WHERE l.notification_id = s.rowid) "
                "ORDER BY s.rowid LIMIT 1"
            )
            row = c.fetchone()
            if row is not None:
                stream = self._stream_of(row["originator_id"])
                return OrphanEvent(stream, row["originator_version"], row["nid"])
            c.execute(
                f"SELECT k.originator_version FROM {self.key_table} k WHERE NOT EXISTS ("
                f"SELECT 1 FROM {self.ledger_table} l WHERE l.notification_id IS NULL "
                "AND l.stream = ? AND l.version = k.originator_version) "
                "ORDER BY k.originator_version LIMIT 1",
                (KEY_LOG_STREAM,),
            )
            row = c.fetchone()
            return None if row is None else OrphanEvent(KEY_LOG_STREAM, row[0], None)


class LedgerSQLiteProcessRecorder(es_sqlite.SQLiteProcessRecorder, LedgerSQLiteApplicationRecorder):
    """Process recorder (tracking + events) with the same signed ledger."""


# Prepared statements kept per connection (the library opens its connections with
# ``cached_statements=True``, i.e. a cache of ONE statement: every statement of an insert
# transaction was parsed and planned again each time).
STATEMENT_CACHE_SIZE = 128


class _CachingSQLiteConnectionPool(es_sqlite.SQLiteConnectionPool):
    """The library's connection pool, whose connections keep `STATEMENT_CACHE_SIZE` prepared
    statements. Otherwise the same as ``SQLiteConnectionPool._create_connection`` (9.5.6)."""

    def _create_connection(self) -> es_sqlite.SQLiteConnection:
        try:
            c = sqlite3.connect(
                database=self.db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,  # Auto-commit mode.
                cached_statements=STATEMENT_CACHE_SIZE,
                timeout=self.lock_timeout or es_sqlite.SQLITE3_DEFAULT_LOCK_TIMEOUT,
            )
        except (sqlite3.Error, TypeError) as e:
            raise InterfaceError(e) from e
        if not self.is_sqlite_memory_mode and not self.is_journal_mode_wal:
            cursor = c.cursor()
            cursor.execute("PRAGMA journal_mode;")
            if cursor.fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL;")
                self.journal_mode_was_changed_to_wal = True
            self.is_journal_mode_wal = True
        c.row_factory = sqlite3.Row
        return es_sqlite.SQLiteConnection(sqlite_conn=c, max_age=self.max_age)


class LedgerSQLiteFactory(es_sqlite.SQLiteFactory):
    """SQLite infrastructure factory: canonical transcoder, signing mapper, ledger recorders.

    Signers: ``factory.signers`` if set, else the key store named by ``CALEOL_KEY_DIR`` /
    ``CALEOL_KEY_PASSPHRASE`` (opened lazily, on the first insert).
    """

    application_recorder_class = LedgerSQLiteApplicationRecorder
    process_recorder_class = LedgerSQLiteProcessRecorder

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        self.signers: SignerProvider | None = None
        # Same pool (it opens connections lazily, none is open yet), with a statement cache.
        self.datastore.pool.__class__ = _CachingSQLiteConnectionPool

    def transcoder(self) -> Transcoder:
        return default_transcoder(self.env) or super().transcoder()

    def mapper(
        self,
        transcoder: Transcoder | None = None,
        mapper_class: type[Mapper[Any]] | None = None,
    ) -> Mapper[Any]:
        return super().mapper(transcoder, mapper_class or default_mapper_class(self.env))

    def application_recorder(self) -> ApplicationRecorder:
        recorder = super().application_recorder()
        self._configure(recorder)
        return recorder

    def process_recorder(self) -> ProcessRecorder:
        recorder = super().process_recorder()
        self._configure(recorder)
        return recorder

    def _configure(self, recorder: object) -> None:
        if isinstance(recorder, LedgerSQLiteApplicationRecorder) and recorder.signers is None:
            recorder.signers = self.signers or signers_from_env(self.env)


Factory = LedgerSQLiteFactory
