"""The ledger's Merkle tree in the ledger's own database (SQLite or PostgreSQL).

Two tables beside ``ledger_entries`` (names from :func:`audit_table_names`)::

    merkle_nodes        (level, idx, hash)      PRIMARY KEY (level, idx)
    ledger_checkpoints  (id, size, root, note, reason, commission_id, issued_at)

``merkle_nodes`` holds every perfect subtree of the RFC 9162 tree over the ledger's records in
leaf order (see `ledger.merkle`: node ``(level, idx)`` covers leaves ``[idx·2^level,
(idx+1)·2^level)``; level 0 holds the leaf hashes ``SHA-256(0x00 ‖ record bytes)``). Nodes are
immutable: once written they never change, so the root of any size ``<=`` the stored size and
any inclusion or consistency proof reads O(log n) rows, never the leaves as a whole. The stored
tree size is ``max(idx) + 1`` at level 0 (nodes of a batch are written in one transaction).

The tree is *not* written in the append hot path: `ledger.checkpoints.Checkpointer` catches up
from the ledger entries when asked (at checkpoints). ``ledger_checkpoints`` holds the signed
checkpoints (`ledger.checkpoints`).

:class:`AuditDB` is the small SQL layer both use: it reaches the database through the ledger
recorder's own datastore (its connection pool), so it works on a shared in-memory SQLite too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ledger.merkle import MerkleStoreError, MerkleTree, Node, NodeId
from ledger.postgres_recorder import LedgerPostgresApplicationRecorder
from ledger.records import DEFAULT_EVENTS_TABLE
from ledger.sqlite_recorder import LedgerSQLiteApplicationRecorder

__all__ = [
    "AuditDB",
    "DBNodeStore",
    "StoredMerkleTree",
    "audit_table_names",
]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Key of the PostgreSQL advisory lock that serialises writers of the audit tables.
_PG_LOCK_KEY = 0x6361_6C65_6F6C_3035  # "caleol05"
_MAX_IDS_PER_QUERY = 400


def audit_table_names(events_table_name: str) -> tuple[str, str]:
    """(Merkle nodes table, checkpoints table) beside an events table."""
    if events_table_name == DEFAULT_EVENTS_TABLE:
        return "merkle_nodes", "ledger_checkpoints"
    return f"{events_table_name}_merkle", f"{events_table_name}_checkpoints"


def _quoted(*parts: str) -> str:
    for part in parts:
        if not _IDENTIFIER.fullmatch(part):
            raise ValueError(f"unexpected SQL identifier {part!r}")
    return ".".join(f'"{part}"' for part in parts)


class AuditDB:
    """SQL access to the audit tables (and read access to the ledger tables) of a recorder."""

    def __init__(self, recorder: Any) -> None:
        if isinstance(recorder, LedgerSQLiteApplicationRecorder):
            self.kind = "sqlite"
            schema: tuple[str, ...] = ()
        elif isinstance(recorder, LedgerPostgresApplicationRecorder):
            self.kind = "postgres"
            schema = (recorder.datastore.schema,)
        else:
            raise TypeError(f"{type(recorder).__name__} is not a ledger recorder")
        self.recorder = recorder
        self.datastore = recorder.datastore
        nodes, checkpoints = audit_table_names(recorder.events_table_name)
        self.names = {
            "nodes": _quoted(*schema, nodes),
            "checkpoints": _quoted(*schema, checkpoints),
            "ledger": _quoted(*schema, recorder.ledger_table),
            "keys": _quoted(*schema, recorder.key_table),
        }
        self.bare = {"nodes": nodes, "checkpoints": checkpoints}
        self._tables_ready = False

    # -- SQL text ---------------------------------------------------------------------------

    def sql(self, text: str) -> str:
        """``{nodes}``, ``{checkpoints}``, ``{ledger}``, ``{keys}`` and ``?`` placeholders."""
        statement = text.format(**self.names)
        return statement.replace("?", "%s") if self.kind == "postgres" else statement

    # -- transactions -----------------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[Any]:
        """A cursor for reading (rows support ``row["column"]``)."""
        if self.kind == "sqlite":
            with self.datastore.transaction(commit=False) as cursor:
                yield cursor
        else:
            with self.datastore.get_connection() as conn, conn.cursor() as cursor:
                yield cursor

    @contextmanager
    def write(self) -> Iterator[Any]:
        """A cursor in a write transaction that excludes other writers of the audit tables."""
        if self.kind == "sqlite":
            with self.datastore.get_connection(commit=True) as conn:
                cursor = conn.cursor()
                cursor.execute("BEGIN IMMEDIATE")  # the database write lock, taken now
                try:
                    yield cursor
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
        else:
            with (
                self.datastore.get_connection() as conn,
                conn.transaction(),
                conn.cursor() as cursor,
            ):
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_KEY,))
                yield cursor

    # -- tables -----------------------------------------------------------------------------

    def create_tables(self) -> None:
        if self._tables_ready:
            return
        if self.kind == "sqlite":
            statements = [
                "CREATE TABLE IF NOT EXISTS {nodes} (level INTEGER NOT NULL, "
                "idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) "
                "WITHOUT ROWID",
                "CREATE TABLE IF NOT EXISTS {checkpoints} (id INTEGER PRIMARY KEY, "
                "size INTEGER NOT NULL, root BLOB NOT NULL, note TEXT NOT NULL, "
                "reason TEXT NOT NULL, commission_id TEXT, issued_at TEXT NOT NULL)",
            ]
        else:
            statements = [
                "CREATE TABLE IF NOT EXISTS {nodes} (level smallint NOT NULL, "
                "idx bigint NOT NULL, hash bytea NOT NULL, PRIMARY KEY (level, idx))",
                "CREATE TABLE IF NOT EXISTS {checkpoints} (id bigserial PRIMARY KEY, "
                "size bigint NOT NULL, root bytea NOT NULL, note text NOT NULL, "
                "reason text NOT NULL, commission_id text, issued_at text NOT NULL)",
            ]
        statements.append(
            "CREATE INDEX IF NOT EXISTS {index} ON {checkpoints} (commission_id, size)"
        )
        index = _quoted(self.bare["checkpoints"] + "_commission")
        with self.write() as cursor:
            for statement in statements:
                cursor.execute(self.sql(statement.replace("{index}", index)))
        self._tables_ready = True

    def tables_exist(self) -> bool:
        if self._tables_ready:
            return True
        with self.read() as cursor:
            if self.kind == "sqlite":
                cursor.execute(
                    "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' "
                    "AND name IN (?, ?)",
                    (self.bare["nodes"], self.bare["checkpoints"]),
                )
            else:
                cursor.execute(
                    "SELECT count(*) AS n FROM information_schema.tables "
                    "WHERE table_schema = %s AND table_name IN (%s, %s)",
                    (self.datastore.schema, self.bare["nodes"], self.bare["checkpoints"]),
                )
            row = cursor.fetchone()
        self._tables_ready = int(row["n"]) == 2
        return self._tables_ready

    # -- tree size --------------------------------------------------------------------------

    def tree_size(self, cursor: Any | None = None) -> int:
        """Number of leaves in ``merkle_nodes`` (0 when the table does not exist yet)."""
        if cursor is None:
            if not self.tables_exist():
                return 0
            with self.read() as own:
                return self.tree_size(own)
        cursor.execute(self.sql("SELECT max(idx) AS m FROM {nodes} WHERE level = 0"))
        row = cursor.fetchone()
        return 0 if row is None or row["m"] is None else int(row["m"]) + 1

    # -- ledger lookups ---------------------------------------------------------------------

    def leaves_of_streams(self, streams: Sequence[str]) -> list[tuple[int, str, int]]:
        """(leaf, stream, version) of every ledger entry of ``streams``, in leaf order."""
        found: list[tuple[int, str, int]] = []
        with self.read() as cursor:
            for start in range(0, len(streams), _MAX_IDS_PER_QUERY):
                chunk = list(streams[start : start + _MAX_IDS_PER_QUERY])
                marks = ",".join("?" * len(chunk))
                cursor.execute(
                    self.sql(
                        "SELECT leaf_index, stream, version FROM {ledger} "
                        f"WHERE stream IN ({marks})"
                    ),
                    chunk,
                )
                found.extend(
                    (int(r["leaf_index"]), str(r["stream"]), int(r["version"]))
                    for r in cursor.fetchall()
                )
        found.sort()
        return found

    def leaf_of(self, stream: str, version: int) -> int | None:
        with self.read() as cursor:
            cursor.execute(
                self.sql("SELECT leaf_index FROM {ledger} WHERE stream = ? AND version = ?"),
                (stream, version),
            )
            row = cursor.fetchone()
        return None if row is None else int(row["leaf_index"])


class DBNodeStore:
    """`ledger.merkle.NodeStore` over ``merkle_nodes``.

    With a ``cursor`` (inside an `AuditDB.write` transaction) every call uses it; without
    one, reads open a read transaction and ``put_many`` its own write transaction.
    """

    def __init__(self, db: AuditDB, cursor: Any | None = None) -> None:
        self.db = db
        self.cursor = cursor

    @contextmanager
    def _reading(self) -> Iterator[Any]:
        if self.cursor is not None:
            yield self.cursor
        else:
            with self.db.read() as cursor:
                yield cursor

    def get(self, level: int, index: int) -> bytes | None:
        return self.get_many([(level, index)]).get((level, index))

    def get_many(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        """The stored hashes among ``ids`` (missing ones are absent from the result)."""
        found: dict[NodeId, bytes] = {}
        unique = list(dict.fromkeys(ids))
        with self._reading() as cursor:
            for start in range(0, len(unique), _MAX_IDS_PER_QUERY):
                chunk = unique[start : start + _MAX_IDS_PER_QUERY]
                # OR of point lookups: both databases use the primary key for each term
                # (a row-value IN (VALUES ...) makes SQLite scan the table).
                where = " OR ".join(["(level = ? AND idx = ?)"] * len(chunk))
                params = [value for node_id in chunk for value in node_id]
                cursor.execute(
                    self.db.sql(f"SELECT level, idx, hash FROM {{nodes}} WHERE {where}"), params
                )
                for row in cursor.fetchall():
                    found[(int(row["level"]), int(row["idx"]))] = bytes(row["hash"])
        return found

    def put_many(self, nodes: Iterable[Node]) -> None:
        batch = [(level, index, bytes(value)) for level, index, value in nodes]
        if not batch:
            return
        if self.cursor is None:
            with self.db.write() as cursor:
                DBNodeStore(self.db, cursor).put_many(batch)
            return
        cursor = self.cursor
        if self.db.kind == "sqlite":
            cursor.executemany(
                self.db.sql(
                    "INSERT INTO {nodes} (level, idx, hash) VALUES (?,?,?) "
                    "ON CONFLICT (level, idx) DO NOTHING"
                ),
                batch,
            )
            inserted = cursor.sqlite_cursor.rowcount
        else:
            cursor.execute(
                self.db.sql(
                    "INSERT INTO {nodes} (level, idx, hash) "
                    "SELECT * FROM unnest(?::smallint[], ?::bigint[], ?::bytea[]) "
                    "ON CONFLICT (level, idx) DO NOTHING"
                ),
                ([n[0] for n in batch], [n[1] for n in batch], [n[2] for n in batch]),
            )
            inserted = cursor.rowcount
        if inserted != len(batch):  # some were there already: they must be identical
            stored = self.get_many([(level, index) for level, index, _ in batch])
            for level, index, value in batch:
                if stored.get((level, index)) != value:
                    raise MerkleStoreError(
                        f"refusing to overwrite stored node ({level}, {index}) with a new hash"
                    )


class StoredMerkleTree(MerkleTree):
    """`MerkleTree` reading the O(log n) nodes of a root or proof in one query."""

    def __init__(self, store: DBNodeStore, size: int = 0) -> None:
        self._db_store = store
        super().__init__(store, size)

    def _fetch(self, ids: Sequence[NodeId]) -> list[bytes]:
        found = self._db_store.get_many(ids)
        hashes: list[bytes] = []
        for node_id in ids:
            value = found.get(node_id)
            if value is None:
                raise MerkleStoreError(
                    f"node (level={node_id[0]}, index={node_id[1]}) missing from store"
                )
            hashes.append(value)
        return hashes
