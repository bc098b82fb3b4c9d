"""Shared helpers for the ledger storage tests (no tests here).

A tiny aggregate whose events carry an ``actor``, an application builder on the ledger
infrastructure, and `Store`: plain-SQL access to a store's rows for tamper tests.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from ledger.canonical import canonical_bytes, iso_utc
from ledger.config import environment_for, parse_database_url
from ledger.keys import Signer, SignerProvider, signer_from_seed
from ledger.records import payload_sha256, record_bytes, record_hash

STAFF: dict[str, Any] = {"id": "staff:1", "role": "staff", "on_behalf_of": None}
MEMBER: dict[str, Any] = {"id": "member:7", "role": "mayor", "on_behalf_of": "member:9"}


def seed_signer(n: int) -> Signer:
    return signer_from_seed(bytes([n]) * 32)


class Note(Aggregate):
    def __init__(self, title: str, actor: dict[str, Any]) -> None:
        self.title = title
        self.lines: list[str] = []

    @event("Edited")
    def edit(self, line: str, actor: dict[str, Any]) -> None:
        self.lines.append(line)


class NotesApp(Application[UUID]):
    name = "caleol"

    def __init__(self, env: dict[str, str], signers: SignerProvider | None) -> None:
        self._signers = signers
        super().__init__(env)

    def construct_recorder(self) -> Any:
        recorder = super().construct_recorder()
        if self._signers is not None:
            recorder.signers = self._signers
        return recorder


def make_app(url: str, signers: SignerProvider | None = None, **env: str) -> NotesApp:
    environment = environment_for(url)
    environment.update(env)
    return NotesApp(environment, signers)


def write_notes(
    app: NotesApp, streams: int, edits: int, actor: dict[str, Any] = STAFF
) -> list[Note]:
    notes = [Note(title=f"note {i}", actor=actor) for i in range(streams)]
    app.save(*notes)
    for j in range(edits):
        for note in notes:
            note.edit(line=f"line {j}", actor=actor)
        app.save(*notes)
    return notes


@dataclass
class Store:
    """Plain SQL on a store's tables, outside the recorders (as an attacker would)."""

    url: str

    def __post_init__(self) -> None:
        self.db = parse_database_url(self.url)
        self.is_sqlite = self.db.kind == "sqlite"
        self.nid = "rowid" if self.is_sqlite else "notification_id"

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.is_sqlite:
            conn = sqlite3.connect(self.db.path, isolation_level=None, timeout=10)
            try:
                cursor = conn.execute(statement, params)
                return cursor.fetchall()
            finally:
                conn.close()
        with psycopg.connect(
            host=self.db.host,
            port=self.db.port,
            user=self.db.user,
            dbname=self.db.dbname,
            autocommit=True,
        ) as pg:
            cur = pg.execute(statement.replace("?", "%s"), params)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    # -- reading ----------------------------------------------------------------------

    def entries(self) -> list[tuple[int, int | None, str, int]]:
        """(leaf, notification id, stream, version) of every ledger entry, leaf order."""
        rows = self.sql(
            "SELECT leaf_index, notification_id, stream, version FROM ledger_entries "
            "ORDER BY leaf_index"
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def event_entries(self) -> list[tuple[int, int, str, int]]:
        return [(leaf, n, s, v) for leaf, n, s, v in self.entries() if n is not None]

    def state(self, nid: int) -> bytes:
        return bytes(self.sql(f"SELECT state FROM stored_events WHERE {self.nid}=?", (nid,))[0][0])

    def count_events(self) -> int:
        return int(self.sql("SELECT COUNT(*) FROM stored_events")[0][0])

    def count_entries(self) -> int:
        return int(self.sql("SELECT COUNT(*) FROM ledger_entries")[0][0])

    # -- tampering ----------------------------------------------------------------------

    def flip_payload_byte(self, nid: int) -> None:
        state = bytearray(self.state(nid))
        state[len(state) // 2] ^= 0x01
        self.sql(f"UPDATE stored_events SET state=? WHERE {self.nid}=?", (bytes(state), nid))

    def delete_event(self, nid: int, *, ledger_too: bool) -> None:
        self.sql(f"DELETE FROM stored_events WHERE {self.nid}=?", (nid,))
        if ledger_too:
            self.sql("DELETE FROM ledger_entries WHERE notification_id=?", (nid,))

    def delete_entry(self, leaf: int) -> None:
        self.sql("DELETE FROM ledger_entries WHERE leaf_index=?", (leaf,))

    def swap_events(self, nid_a: int, nid_b: int) -> None:
        """Exchange two stored events' positions in the notification log."""
        cols = "originator_id, originator_version, topic, state"
        a = self.sql(f"SELECT {cols} FROM stored_events WHERE {self.nid}=?", (nid_a,))[0]
        b = self.sql(f"SELECT {cols} FROM stored_events WHERE {self.nid}=?", (nid_b,))[0]
        parking = uuid4().hex if self.is_sqlite else uuid4()
        update = (
            "UPDATE stored_events SET originator_id=?, originator_version=?, topic=?, state=? "
            f"WHERE {self.nid}=?"
        )
        self.sql(update, (parking, -1, "parking", b"", nid_a))
        self.sql(update, (*a, nid_b))
        self.sql(update, (*b, nid_a))

    def move_payload(self, src_nid: int, dst_nid: int) -> None:
        self.sql(
            f"UPDATE stored_events SET state=? WHERE {self.nid}=?", (self.state(src_nid), dst_nid)
        )

    def edit_entry(self, leaf: int, column: str, value: Any) -> None:
        self.sql(f"UPDATE ledger_entries SET {column}=? WHERE leaf_index=?", (value, leaf))

    def append_signed(self, signer: Signer, topic: str = "test_ledger_support:Note.Edited") -> int:
        """Insert a new stream's first event with a well-formed entry signed by ``signer``.

        Returns its leaf index."""
        stream = uuid4()
        state = canonical_bytes({"line": "forged", "actor": STAFF})
        if self.is_sqlite:
            self.sql("INSERT INTO stored_events VALUES (?,?,?,?)", (stream.hex, 1, topic, state))
            nid = int(self.sql("SELECT MAX(rowid) FROM stored_events")[0][0])
        else:
            nid = int(
                self.sql(
                    "INSERT INTO stored_events (originator_id, originator_version, topic, state) "
                    "VALUES (?,?,?,?) RETURNING notification_id",
                    (stream, 1, topic, state),
                )[0][0]
            )
        leaf = int(self.sql("SELECT MAX(leaf_index) FROM ledger_entries")[0][0]) + 1
        recorded_at = iso_utc(datetime.now(UTC))
        payload = payload_sha256(state)
        data = record_bytes(
            stream=str(stream),
            version=1,
            topic=topic,
            recorded_at=recorded_at,
            actor=STAFF,
            payload_sha256_hex=payload.hex(),
            prev_hex=None,
            leaf=leaf,
            key_id=signer.key_id,
        )
        digest = record_hash(data)
        self.sql(
            "INSERT INTO ledger_entries VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                leaf,
                nid,
                str(stream),
                1,
                topic,
                recorded_at,
                canonical_bytes(STAFF).decode(),
                payload,
                None,
                signer.key_id,
                digest,
                signer.sign(digest),
            ),
        )
        return leaf
