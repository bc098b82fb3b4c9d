"""Signed checkpoints of the ledger: the Merkle tree caught up from the entries, then signed.

A :class:`Checkpointer` keeps ``merkle_nodes`` (`ledger.merkle_store`) up to date *outside* the
append hot path: when asked, it reads the ledger entries from its stored tree size to the
current end in leaf order, appends their leaf hashes ``SHA-256(0x00 ‖ record bytes)`` and
stores the new perfect-subtree nodes; it never re-reads an old leaf. It then signs a C2SP
checkpoint (`ledger.checkpoint`) of the new size and stores it in ``ledger_checkpoints`` with
a reason (``opened``, ``closed``, ``minutes_approved`` with the commission's id, or
``periodic``, ``export``) and the instant.

Signing key. A checkpoint of size ``n`` is signed with the ledger key that is active at leaf
``n`` (the key that signs the next entry: the key of entry ``n-1``, or the key entry ``n-1``
registers), as a C2SP signed-note Ed25519 key whose *name is the log origin*. Its note
verifier key is therefore ``<origin>+<4-byte id hex>+base64(0x01 ‖ public key)`` where the
public key is the one registered in the ledger's key log (`caleol keys list` shows it in hex;
`caleol checkpoint --verifier-keys` prints the encoded verifier keys, and
``caleol checkpoint --publish DIR`` writes them beside the checkpoint).

Origin. ``caleol.example/ledger/<instance>``: ``<instance>`` is ``$CALEOL_LEDGER_INSTANCE``
when set, else the 16-hex fingerprint of the ledger's genesis key (the key of leaf 0), which
names the ledger for good.

The application issues checkpoints through :func:`checkpoint_after` (called after the save of
an opening, a closing, a minutes approval); in-memory applications without a ledger recorder
are left alone.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from ledger.canonical import iso_utc
from ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    ledger_origin,
    sign_checkpoint,
)
from ledger.keys import Signer as LedgerSigner
from ledger.keys import SignerProvider
from ledger.merkle import CompactRange, hash_leaf
from ledger.merkle_store import AuditDB, DBNodeStore, StoredMerkleTree
from ledger.records import KEY_LOG_STREAM, LedgerEntry
from ledger.signed_note import Signer as NoteSigner
from ledger.signed_note import Verifier, parse_note

__all__ = [
    "INSTANCE_ENV",
    "REASONS",
    "Checkpointer",
    "CheckpointerError",
    "LedgerKey",
    "StoredCheckpoint",
    "checkpoint_after",
    "checkpointer_for",
    "leaf_hash_of",
    "note_signer",
    "note_verifier",
]

INSTANCE_ENV = "CALEOL_LEDGER_INSTANCE"
REASONS = ("opened", "closed", "minutes_approved", "periodic", "export")

log = logging.getLogger("caleol.checkpoints")


class CheckpointerError(CheckpointError):
    """The tree cannot be caught up or a checkpoint cannot be issued (empty ledger, no key...)."""


def leaf_hash_of(entry: LedgerEntry) -> bytes:
    """The Merkle leaf hash of a ledger entry: ``SHA-256(0x00 ‖ canonical record bytes)``."""
    return hash_leaf(entry.record_bytes())


class _LedgerKeyNoteSigner(NoteSigner):
    """A signed-note signer backed by a ledger signing key (the private key stays inside)."""

    def __init__(self, name: str, signer: LedgerSigner) -> None:
        # Not calling super().__init__: it wants the private key object, we only delegate.
        self.name = name
        self._ledger_signer = signer
        self._verifier = Verifier(name, signer.public_bytes)

    def sign(self, message: bytes) -> bytes:
        return self._ledger_signer.sign(message)


def note_signer(origin: str, signer: LedgerSigner) -> NoteSigner:
    """The C2SP note signer of ``origin`` for a ledger signing key."""
    return _LedgerKeyNoteSigner(origin, signer)


def note_verifier(origin: str, public_key: bytes) -> Verifier:
    """The C2SP note verifier of ``origin`` for a ledger public key."""
    return Verifier(origin, public_key)


@dataclass(frozen=True)
class LedgerKey:
    """A key registered in the ledger's key log, and the leaf of its registration."""

    key_id: str
    public_key: bytes
    previous_key_id: str | None
    leaf: int

    def verifier(self, origin: str) -> Verifier:
        return note_verifier(origin, self.public_key)


@dataclass(frozen=True)
class StoredCheckpoint:
    """A row of ``ledger_checkpoints``."""

    id: int
    size: int
    root: bytes
    note: str
    reason: str
    commission_id: str | None
    issued_at: str

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint.from_text(parse_note(self.note).text)

    @property
    def origin(self) -> str:
        return self.checkpoint.origin

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "size": self.size,
            "root_hash": self.root.hex(),
            "reason": self.reason,
            "commission_id": self.commission_id,
            "issued_at": self.issued_at,
            "note": self.note,
        }


def _row_checkpoint(row: Any) -> StoredCheckpoint:
    return StoredCheckpoint(
        id=int(row["id"]),
        size=int(row["size"]),
        root=bytes(row["root"]),
        note=str(row["note"]),
        reason=str(row["reason"]),
        commission_id=None if row["commission_id"] is None else str(row["commission_id"]),
        issued_at=str(row["issued_at"]),
    )


class Checkpointer:
    """Catches the ledger's Merkle tree up and issues signed checkpoints (module docstring).

    ``recorder``: a ledger recorder (SQLite or PostgreSQL). ``reader``: where entries are read
    (default: the recorder). ``signers``: where the private key of the active ledger key is
    found (default: the recorder's). ``origin``: overrides the default origin.
    """

    def __init__(
        self,
        recorder: Any,
        *,
        reader: Any | None = None,
        signers: SignerProvider | None = None,
        origin: str | None = None,
        page_size: int = 5000,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.db = AuditDB(recorder)
        self.recorder = recorder
        self.reader = reader if reader is not None else recorder
        self._signers = signers
        self._origin = origin
        self.page_size = page_size
        self.clock = clock or (lambda: datetime.now(UTC))
        self._compact: CompactRange | None = None  # border of the stored tree, when known

    # -- identity -----------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        if self._origin is None:
            instance = os.environ.get(INSTANCE_ENV)
            if not instance:
                first = self.reader.select_entries(0, 1)
                if not first:
                    raise CheckpointerError("the ledger is empty: it has no origin key yet")
                instance = first[0].key_id.split(":", 1)[-1]
            self._origin = ledger_origin(instance)
        return self._origin

    @property
    def signers(self) -> SignerProvider:
        signers = self._signers or getattr(self.recorder, "signers", None)
        if signers is None:
            raise CheckpointerError("no signing keys configured to sign checkpoints")
        return signers

    # -- the tree -----------------------------------------------------------------------------

    def tree_size(self) -> int:
        return self.db.tree_size()

    def tree(self, size: int | None = None) -> StoredMerkleTree:
        """A read view of the stored tree (at its stored size, or ``size`` leaves)."""
        stored = self.db.tree_size()
        if size is not None and size > stored:
            raise CheckpointerError(f"the stored tree has {stored} leaves, not {size}")
        return StoredMerkleTree(DBNodeStore(self.db), stored if size is None else size)

    def catch_up(self, limit: int | None = None) -> int:
        """Append the leaves of every entry after the stored tree; return the new size.

        Reads entries in pages from the stored size on, never an older one, and writes each
        page's nodes in one transaction (re-checking the stored size under the write lock:
        another process may have caught up meanwhile). ``limit``: stop after that many leaves.
        """
        self.db.create_tables()
        size = self.db.tree_size()
        compact = self._compact if self._compact and self._compact.size == size else None
        appended = 0
        while limit is None or appended < limit:
            count = self.page_size if limit is None else min(self.page_size, limit - appended)
            entries = self.reader.select_entries(size, count)
            if not entries:
                break
            if compact is None:
                compact = StoredMerkleTree(DBNodeStore(self.db), size).compact_range()
            new_compact, nodes = _append_entries(compact, entries)
            with self.db.write() as cursor:
                current = self.db.tree_size(cursor)
                if current == size:
                    DBNodeStore(self.db, cursor).put_many(nodes)
            if current != size:  # someone else advanced the tree: continue from there
                size, compact = current, None
                continue
            appended += new_compact.size - size
            size, compact = new_compact.size, new_compact
            if len(entries) < count:
                break
        self._compact = compact
        return size

    # -- keys ---------------------------------------------------------------------------------

    def ledger_keys(self) -> list[LedgerKey]:
        """Keys registered in the ledger, in registration order (as stored: not verified)."""
        with self.db.read() as cursor:
            cursor.execute(
                self.db.sql(
                    "SELECT l.leaf_index AS leaf, k.state AS state FROM {ledger} l "
                    "JOIN {keys} k ON k.originator_version = l.version "
                    "WHERE l.stream = ? ORDER BY l.leaf_index"
                ),
                (KEY_LOG_STREAM,),
            )
            rows = cursor.fetchall()
        keys = []
        for row in rows:
            state = orjson.loads(bytes(row["state"]))
            keys.append(
                LedgerKey(
                    key_id=str(state["key_id"]),
                    public_key=bytes.fromhex(state["public_key"]),
                    previous_key_id=state["previous_key_id"],
                    leaf=int(row["leaf"]),
                )
            )
        return keys

    def verifiers(self) -> list[Verifier]:
        """Note verifier keys (name = origin) of every key registered in the ledger."""
        origin = self.origin
        return [key.verifier(origin) for key in self.ledger_keys()]

    def active_key_id_at(self, size: int) -> str:
        """The ledger key active at leaf ``size`` (the one that signs a checkpoint of size)."""
        if size <= 0:
            raise CheckpointerError("no key is active in an empty ledger")
        entries = self.reader.select_entries(size - 1, 1)
        if not entries or entries[0].leaf_index != size - 1:
            raise CheckpointerError(f"leaf {size - 1} is missing from the ledger")
        entry: LedgerEntry = entries[0]
        if entry.stream == KEY_LOG_STREAM and entry.state is not None:
            return str(orjson.loads(entry.state)["key_id"])
        return entry.key_id

    # -- checkpoints --------------------------------------------------------------------------

    def issue(
        self,
        reason: str = "periodic",
        *,
        commission_id: str | None = None,
        at: datetime | None = None,
    ) -> StoredCheckpoint:
        """Catch up, sign a checkpoint of the new size, store it and return it."""
        if reason not in REASONS:
            raise ValueError(f"unknown checkpoint reason {reason!r}; expected one of {REASONS}")
        size = self.catch_up()
        if size == 0:
            raise CheckpointerError("the ledger is empty: nothing to checkpoint")
        root = self.tree(size).root(size)
        key_id = self.active_key_id_at(size)
        signer = self.signers.signer_for(key_id)
        if signer is None:
            raise CheckpointerError(
                f"cannot sign the checkpoint: the private key of the ledger's active key "
                f"{key_id} is not in the key store"
            )
        origin = self.origin
        note = sign_checkpoint(Checkpoint(origin, size, root), [note_signer(origin, signer)])
        issued_at = iso_utc(at or self.clock())
        with self.db.write() as cursor:
            cursor.execute(
                self.db.sql(
                    "INSERT INTO {checkpoints} (size, root, note, reason, commission_id, "
                    "issued_at) VALUES (?,?,?,?,?,?)"
                ),
                (size, root, note, reason, commission_id, issued_at),
            )
            cursor.execute(self.db.sql("SELECT max(id) AS id FROM {checkpoints}"))
            row = cursor.fetchone()
        return StoredCheckpoint(int(row["id"]), size, root, note, reason, commission_id, issued_at)

    def current(self, reason: str = "periodic", at: datetime | None = None) -> StoredCheckpoint:
        """The latest checkpoint if it covers the whole ledger, else a new one."""
        size = self.catch_up()
        latest = self.latest()
        if latest is not None and latest.size == size:
            return latest
        return self.issue(reason, at=at)

    def checkpoints(
        self, *, commission_id: str | None = None, reason: str | None = None
    ) -> list[StoredCheckpoint]:
        """Stored checkpoints, oldest first (filtered by commission and reason)."""
        if not self.db.tables_exist():
            return []
        where, params = ["1=1"], []
        if commission_id is not None:
            where.append("commission_id = ?")
            params.append(commission_id)
        if reason is not None:
            where.append("reason = ?")
            params.append(reason)
        with self.db.read() as cursor:
            cursor.execute(
                self.db.sql(
                    "SELECT * FROM {checkpoints} WHERE " + " AND ".join(where) + " ORDER BY id"
                ),
                params,
            )
            return [_row_checkpoint(row) for row in cursor.fetchall()]

    def latest(self) -> StoredCheckpoint | None:
        """The stored checkpoint of the largest size (the last issued among equals)."""
        if not self.db.tables_exist():
            return None
        with self.db.read() as cursor:
            cursor.execute(
                self.db.sql("SELECT * FROM {checkpoints} ORDER BY size DESC, id DESC LIMIT 1")
            )
            row = cursor.fetchone()
        return None if row is None else _row_checkpoint(row)

    def first_covering(self, leaf: int) -> StoredCheckpoint | None:
        """The first stored checkpoint whose tree contains ``leaf``."""
        if not self.db.tables_exist():
            return None
        with self.db.read() as cursor:
            cursor.execute(
                self.db.sql("SELECT * FROM {checkpoints} WHERE size > ? ORDER BY size, id LIMIT 1"),
                (leaf,),
            )
            row = cursor.fetchone()
        return None if row is None else _row_checkpoint(row)

    def closing_checkpoint(self, commission_id: str) -> StoredCheckpoint | None:
        """The checkpoint issued at the commission's closing (None if there is none)."""
        found = self.checkpoints(commission_id=commission_id, reason="closed")
        return found[0] if found else None

    # -- proofs -------------------------------------------------------------------------------

    def inclusion_proof(self, leaf: int, size: int) -> list[bytes]:
        return self.tree(size).inclusion_proof(leaf, size)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        return self.tree(new_size).consistency_proof(old_size, new_size)


def _append_entries(
    compact: CompactRange, entries: Sequence[LedgerEntry]
) -> tuple[CompactRange, list[tuple[int, int, bytes]]]:
    """Append the entries' leaf hashes to the right border ``compact`` (what
    `CompactRange.append` does, inlined for speed); return it and the new perfect nodes."""
    nodes: list[tuple[int, int, bytes]] = []
    sha256 = hashlib.sha256
    size = compact.size
    border = list(compact.hashes)
    for entry in entries:
        if entry.leaf_index != size:
            raise CheckpointerError(
                f"leaf {size} is missing from the ledger (next entry is leaf "
                f"{entry.leaf_index}): run `caleol verify`"
            )
        data = entry.record_bytes()
        if sha256(data).digest() != entry.record_hash:
            raise CheckpointerError(
                f"entry {entry.leaf_index} does not match its record hash: refusing to "
                "checkpoint an altered ledger (run `caleol verify`)"
            )
        current = sha256(b"\x00" + data).digest()  # RFC 9162 leaf hash
        index, level = size, 0
        nodes.append((0, index, current))
        while index & 1:
            current = sha256(b"\x01" + border.pop() + current).digest()
            index >>= 1
            level += 1
            nodes.append((level, index, current))
        border.append(current)
        size += 1
    return CompactRange(size, tuple(border)), nodes


# -- the application hook -------------------------------------------------------------------

_UNSET = object()


def checkpointer_for(app: Any) -> Checkpointer | None:
    """The app's checkpointer: ``app.checkpointer`` if set (None disables checkpoints), else
    one made for its recorder when that is a ledger recorder, else None (in-memory apps)."""
    existing = getattr(app, "checkpointer", _UNSET)
    if existing is not _UNSET:
        return existing if isinstance(existing, Checkpointer) else None
    recorder = getattr(app, "recorder", None)
    try:
        made: Checkpointer | None = Checkpointer(recorder, clock=getattr(app, "clock", None))
    except TypeError:
        made = None  # not a ledger recorder
    app.checkpointer = made
    return made


def checkpoint_after(app: Any, reason: str, commission_id: Any) -> StoredCheckpoint | None:
    """Issue the checkpoint of a lifecycle event (called by the application after its save).

    Never raises: the event is already recorded; a failure is logged and the next checkpoint
    (``caleol checkpoint``) covers the event.
    """
    checkpointer = checkpointer_for(app)
    if checkpointer is None:
        return None
    try:
        return checkpointer.issue(reason, commission_id=str(commission_id))
    except Exception:
        log.exception("could not issue the %s checkpoint of commission %s", reason, commission_id)
        return None
