"""Applicant data keys in the database, in a table of their own, never in the event tables.

Erasing sets the key to NULL (and, on PostgreSQL, the row is rewritten): nothing else refers to it.
Operators must also make sure backups age out (documented in docs/OPERATIONS.md).
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

from ledger.vault import StoredKey

_DDL = (
    "CREATE TABLE IF NOT EXISTS applicant_keys ("
    " applicant_ref TEXT PRIMARY KEY,"
    " numero_lookup TEXT NOT NULL,"
    " data_key BYTEA)"
)
_INDEX = "CREATE INDEX IF NOT EXISTS applicant_keys_lookup ON applicant_keys (numero_lookup)"


class SQLiteKeyTable:
    def __init__(self, path: str) -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA busy_timeout=5000")
            self._conn.execute(_DDL.replace("BYTEA", "BLOB"))
            self._conn.execute(_INDEX)

    def put(self, item: StoredKey) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO applicant_keys VALUES (?, ?, ?)",
                (item.applicant_ref, item.numero_lookup, item.key),
            )

    def _row(self, row: tuple[Any, ...] | None) -> StoredKey | None:
        if row is None:
            return None
        return StoredKey(row[0], row[1], bytes(row[2]) if row[2] is not None else None)

    def get(self, applicant_ref: str) -> StoredKey | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM applicant_keys WHERE applicant_ref = ?", (applicant_ref,)
            ).fetchone()
        return self._row(row)

    def find(self, numero_lookup: str) -> list[StoredKey]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM applicant_keys WHERE numero_lookup = ? ORDER BY applicant_ref",
                (numero_lookup,),
            ).fetchall()
        return [k for k in map(self._row, rows) if k is not None]

    def erase(self, applicant_ref: str) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE applicant_keys SET data_key = NULL WHERE applicant_ref = ?",
                (applicant_ref,),
            )
            # Overwrite freed pages so the key bytes do not linger in the file.
            self._conn.execute("PRAGMA secure_delete=ON")
            self._conn.execute("VACUUM")


class PostgresKeyTable:
    def __init__(self, conninfo: str) -> None:
        import psycopg

        self._conn = psycopg.connect(conninfo, autocommit=True)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute(_DDL)
            self._conn.execute(_INDEX)

    def put(self, item: StoredKey) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO applicant_keys VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (item.applicant_ref, item.numero_lookup, item.key),
            )

    def get(self, applicant_ref: str) -> StoredKey | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM applicant_keys WHERE applicant_ref = %s", (applicant_ref,)
            ).fetchone()
        if row is None:
            return None
        return StoredKey(row[0], row[1], bytes(row[2]) if row[2] is not None else None)

    def find(self, numero_lookup: str) -> list[StoredKey]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM applicant_keys WHERE numero_lookup = %s ORDER BY applicant_ref",
                (numero_lookup,),
            ).fetchall()
        return [StoredKey(r[0], r[1], bytes(r[2]) if r[2] is not None else None) for r in rows]

    def erase(self, applicant_ref: str) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE applicant_keys SET data_key = NULL WHERE applicant_ref = %s",
                (applicant_ref,),
            )
