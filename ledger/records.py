"""The signed ledger record, and how recorders append ledger entries.

Canonical record (format version 1) — one per stored event, in a dense global leaf order::

    {
      "v": 1,
      "stream": str(originator_id),      # UUIDs lower-case with dashes
      "version": originator_version,     # int
      "topic": event topic,              # str
      "recorded_at": "YYYY-MM-DDTHH:MM:SS.ffffffZ" | null,   # the event's timestamp, UTC
      "actor": {...} | null,             # the event's actor (who, role, on_behalf_of), canonical
      "payload_sha256": hex(SHA-256(stored state bytes)),
      "prev": hex(record hash of the previous entry of the same stream) | null,
      "leaf": leaf index (0-based, dense, global),
      "key_id": "ed25519:<16 hex>"       # key that signs this record
    }

- record bytes  = canonical JSON of that object (`ledger.canonical`: sorted keys, no
  whitespace, UTF-8, no floats);
- record hash   = SHA-256(record bytes);
- signature     = Ed25519(private key of key_id, record hash)  (64 bytes over the 32-byte hash);
- Merkle leaf input = record bytes (the tree hashes ``0x00 || record bytes``).

"Previous entry of the same stream" is the entry with the highest version below this one
(streams start at version 1 and grow by one; the first entry of a stream has ``prev`` null).
The stored state bytes are exactly what the event store keeps for the event (the canonical
transcoder's output), so the payload hash covers them byte for byte.

Storage, in the same transaction as the stored events (table ``ledger_entries``):
``leaf_index, notification_id (null for key-log entries), stream, version, topic,
recorded_at (text as in the record), actor (canonical JSON text), payload_sha256,
prev_hash, key_id, record_hash, signature`` (hashes and signature as raw bytes).
Key-log events (`ledger.keys.KeyLog`) are kept in ``ledger_key_events``
``(originator_version, topic, state)``, outside the notification log.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol
from uuid import UUID

import orjson
from eventsourcing.domain import DomainEventProtocol, TAggregateID
from eventsourcing.persistence import (
    InfrastructureFactory,
    Mapper,
    ProgrammingError,
    StoredEvent,
    Transcoder,
)
from eventsourcing.utils import get_topic

from ledger.canonical import CanonicalTranscoder, iso_utc, to_canonical_value
from ledger.keys import (
    KEY_DIR_ENV,
    KEY_LOG_ID,
    KEY_PASSPHRASE_ENV,
    LEDGER_ACTOR,
    KeyLog,
    KeyStore,
    Signer,
    SignerProvider,
)

__all__ = [
    "KEY_LOG_STREAM",
    "KEY_REGISTERED_TOPIC",
    "RECORD_FORMAT_VERSION",
    "LastEntry",
    "LedgerEntry",
    "LedgerKeyError",
    "LedgerReader",
    "LedgerStoredEvent",
    "LedgerTxn",
    "NewEntry",
    "OrphanEvent",
    "SigningMapper",
    "append_ledger_entries",
    "default_mapper_class",
    "default_transcoder",
    "iter_entries",
    "ledger_table_names",
    "payload_sha256",
    "record_bytes",
    "record_hash",
    "register_signing_key",
    "registered_key_ids",
    "signers_from_env",
    "tail_request",
]

RECORD_FORMAT_VERSION = 1
KEY_LOG_STREAM = str(KEY_LOG_ID)
KEY_REGISTERED_TOPIC = get_topic(KeyLog.KeyRegistered)
_SORT = orjson.OPT_SORT_KEYS


class LedgerKeyError(Exception):
    """The recorder cannot sign: no signer, retired key, previous key unavailable..."""


def payload_sha256(state: bytes) -> bytes:
    return hashlib.sha256(state).digest()


def record_bytes(
    *,
    stream: str,
    version: int,
    topic: str,
    recorded_at: str | None,
    actor: Any,
    payload_sha256_hex: str,
    prev_hex: str | None,
    leaf: int,
    key_id: str,
) -> bytes:
    """Canonical record bytes. ``actor`` must already be plain JSON values (or None)."""
    return orjson.dumps(
        {
            "v": RECORD_FORMAT_VERSION,
            "stream": stream,
            "version": version,
            "topic": topic,
            "recorded_at": recorded_at,
            "actor": actor,
            "payload_sha256": payload_sha256_hex,
            "prev": prev_hex,
            "leaf": leaf,
            "key_id": key_id,
        },
        option=_SORT,
    )


def record_hash(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


@dataclass(frozen=True)
class LedgerStoredEvent(StoredEvent):
    """A stored event with the ledger metadata taken from its domain event."""

    recorded_at: datetime | None = None
    actor: dict[str, Any] | None = None  # already reduced to plain JSON values
    # Canonical texts of the two above (`iso_utc`; sorted-keys orjson, signed as is), computed
    # once by `SigningMapper` (None: the recorder computes them).
    recorded_at_text: str | None = None
    actor_json: str | None = None


class SigningMapper(Mapper[TAggregateID]):
    """Mapper that also hands the event's ``timestamp`` and ``actor`` to the recorder.

    Both stay inside the payload too; the recorder signs them as ``recorded_at``/``actor``.
    """

    def to_stored_event(self, domain_event: DomainEventProtocol[TAggregateID]) -> StoredEvent:
        # As `Mapper.to_stored_event` (eventsourcing 9.5.6), building the ledger's stored
        # event directly.
        topic = get_topic(domain_event.__class__)
        event_state = dict(vars(domain_event))
        originator_id = event_state.pop("originator_id")
        originator_version = event_state.pop("originator_version")
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            event_state["class_version"] = class_version
        state = self.transcoder.encode(event_state)
        if self.compressor:
            state = self.compressor.compress(state)
        if self.cipher:
            state = self.cipher.encrypt(state)
        timestamp = getattr(domain_event, "timestamp", None)
        if timestamp is not None and not isinstance(timestamp, datetime):
            raise TypeError(f"event timestamp must be a datetime, not {type(timestamp)}")
        # Canonical forms now, outside the transaction (a naive timestamp fails here).
        recorded_at_text = None if timestamp is None else iso_utc(timestamp)
        actor = getattr(domain_event, "actor", None)
        if actor is not None and not isinstance(actor, dict):
            raise TypeError(f"event actor must be a dict or None, not {type(actor).__name__}")
        actor_value = None if actor is None else to_canonical_value(actor, "$.actor")
        actor_json = None if actor_value is None else orjson.dumps(actor_value, option=_SORT)
        return LedgerStoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=topic,
            state=state,
            recorded_at=timestamp,
            actor=actor_value,
            recorded_at_text=recorded_at_text,
            actor_json=None if actor_json is None else actor_json.decode(),
        )


class NewEntry(NamedTuple):
    """A ledger row to insert (column order of ``ledger_entries``)."""

    leaf_index: int
    notification_id: int | None
    stream: str
    version: int
    topic: str
    recorded_at: str | None
    actor: str | None
    payload_sha256: bytes
    prev_hash: bytes | None
    key_id: str
    record_hash: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """A ledger row, with the stored event it points to (``event_*``: None if absent)."""

    leaf_index: int
    notification_id: int | None
    stream: str
    version: int
    topic: str
    recorded_at: str | None
    actor: str | None
    payload_sha256: bytes
    prev_hash: bytes | None
    key_id: str
    record_hash: bytes
    signature: bytes
    event_stream: str | None
    event_version: int | None
    event_topic: str | None
    state: bytes | None

    def record_bytes(self) -> bytes:
        """Canonical record bytes rebuilt from this row (the Merkle leaf input)."""
        return record_bytes(
            stream=self.stream,
            version=self.version,
            topic=self.topic,
            recorded_at=self.recorded_at,
            actor=None if self.actor is None else orjson.loads(self.actor),
            payload_sha256_hex=self.payload_sha256.hex(),
            prev_hex=None if self.prev_hash is None else self.prev_hash.hex(),
            leaf=self.leaf_index,
            key_id=self.key_id,
        )


@dataclass(frozen=True)
class OrphanEvent:
    """A stored event that no ledger entry points to."""

    stream: str
    version: int
    notification_id: int | None


class LedgerReader(Protocol):
    """Read side of a ledger store (both recorders implement it)."""

    def select_entries(self, start_leaf: int, limit: int) -> list[LedgerEntry]: ...

    def count_entries(self) -> int: ...

    def find_orphan_event(self) -> OrphanEvent | None: ...


def iter_entries(
    reader: LedgerReader,
    start_leaf: int = 0,
    limit: int | None = None,
    page_size: int = 2000,
) -> Iterator[LedgerEntry]:
    """Ledger entries in leaf order from ``start_leaf`` (at most ``limit``), read in pages."""
    remaining = limit
    leaf = start_leaf
    while remaining is None or remaining > 0:
        size = page_size if remaining is None else min(page_size, remaining)
        page = reader.select_entries(leaf, size)
        yield from page
        if len(page) < size:
            return
        leaf = page[-1].leaf_index + 1
        if remaining is not None:
            remaining -= len(page)


class LastEntry(NamedTuple):
    """The entry at the highest leaf (what the next leaf and the active key depend on)."""

    leaf_index: int
    key_id: str
    stream: str
    version: int


# (leaf entry or None, {stream: record hash of its entry with the highest version below the
# asked version, or None}) — see `LedgerTxn.tail`.
Tail = tuple[LastEntry | None, dict[str, bytes | None]]


class LedgerTxn(Protocol):
    """What `append_ledger_entries` needs from the database, inside the insert transaction
    (after the stored events were inserted and the insert lock is held)."""

    def last_entry(self) -> LastEntry | None:
        """The entry at the highest leaf, or None."""

    def tail(self, wanted: Sequence[tuple[str, int]]) -> Tail:
        """`last_entry()`, and for each ``(stream, version)`` of ``wanted`` the record hash
        of the entry of ``stream`` with the highest version < ``version`` (None if none),
        read together (one statement, or one round trip, where the database allows)."""

    def prev_hash(self, stream: str, below_version: int) -> bytes | None:
        """Record hash of the entry of ``stream`` with the highest version < below_version."""

    def key_event_states(self) -> list[tuple[int, bytes]]:
        """(version, state) of all key-log events, in version order."""

    def insert_key_event(self, version: int, topic: str, state: bytes) -> None: ...

    def insert_entries(self, rows: Sequence[NewEntry]) -> None: ...


_KEY_MAPPER: SigningMapper[UUID] = SigningMapper(CanonicalTranscoder())


def _active_key(txn: LedgerTxn, last: LastEntry | None) -> str | None:
    """Key valid for the next leaf: the last entry's key, unless that entry registered one."""
    if last is None:
        return None
    _, key_id, stream, version = last
    if stream != KEY_LOG_STREAM:
        return key_id
    for key_version, state in txn.key_event_states():
        if key_version == version:
            registered: str = orjson.loads(state)["key_id"]
            return registered
    raise LedgerKeyError(f"key-log event version {version} is missing")


class ActiveKeyCache:
    """Remembers which key the last leaf made active, so the common case costs no decoding.

    Always re-validated against the last leaf read inside the locked transaction, so it
    stays correct when other processes append or rotate.
    """

    def __init__(self) -> None:
        self._last: LastEntry | None = None
        self._active: str | None = None

    def active(self, txn: LedgerTxn, last: LastEntry | None) -> str | None:
        if last is not None and last == self._last:
            return self._active
        active = _active_key(txn, last)
        self._last, self._active = last, active
        return active


def _key_event_entry(
    txn: LedgerTxn,
    new_signer: Signer,
    signing: Signer,
    previous_key_id: str | None,
    leaf: int,
    version: int,
    at: datetime | None,
) -> NewEntry:
    event = KeyLog.KeyRegistered(  # type: ignore[call-arg]
        originator_id=KEY_LOG_ID,
        originator_version=version,
        # The instant of the event that needs the key (deterministic under a simulated clock).
        timestamp=at or datetime.now(UTC),
        key_id=new_signer.key_id,
        public_key=new_signer.public_bytes.hex(),
        previous_key_id=previous_key_id,
        actor=LEDGER_ACTOR,
    )
    stored = _KEY_MAPPER.to_stored_event(event)
    txn.insert_key_event(version, stored.topic, stored.state)
    prev = txn.prev_hash(KEY_LOG_STREAM, version)
    return _sign_entry(stored, None, KEY_LOG_STREAM, prev, leaf, signing)


def _sign_entry(
    stored: StoredEvent,
    notification_id: int | None,
    stream: str,
    prev: bytes | None,
    leaf: int,
    signer: Signer,
) -> NewEntry:
    # The canonical texts come from `SigningMapper` (computed once); other mappers' stored
    # events get them computed here.
    recorded_at: str | None = getattr(stored, "recorded_at_text", None)
    if recorded_at is None:
        recorded = getattr(stored, "recorded_at", None)
        recorded_at = None if recorded is None else iso_utc(recorded)
    actor_json: str | None = getattr(stored, "actor_json", None)
    if actor_json is None:
        actor_value = getattr(stored, "actor", None)
        if actor_value is not None:
            actor_json = orjson.dumps(actor_value, option=_SORT).decode()
    payload = hashlib.sha256(stored.state).digest()
    version = stored.originator_version
    data = orjson.dumps(
        {
            "v": RECORD_FORMAT_VERSION,
            "stream": stream,
            "version": version,
            "topic": stored.topic,
            "recorded_at": recorded_at,
            # Already canonical JSON (sorted keys): inserted as is, not encoded again.
            "actor": None if actor_json is None else orjson.Fragment(actor_json),
            "payload_sha256": payload.hex(),
            "prev": None if prev is None else prev.hex(),
            "leaf": leaf,
            "key_id": signer.key_id,
        },
        option=_SORT,
    )  # == record_bytes(...) of these fields
    digest = hashlib.sha256(data).digest()
    return NewEntry(
        leaf,
        notification_id,
        stream,
        version,
        stored.topic,
        recorded_at,
        actor_json,
        payload,
        prev,
        signer.key_id,
        digest,
        signer.sign(digest),
    )


def _register_key_if_needed(
    txn: LedgerTxn,
    signer: Signer,
    signers: SignerProvider,
    cache: ActiveKeyCache,
    last: LastEntry | None,
    at: datetime | None = None,
) -> tuple[list[NewEntry], int]:
    """The KeyRegistered entry needed before ``signer`` may sign (if any), and the next leaf
    (``last`` is the entry at the highest leaf, read inside the locked transaction)."""
    next_leaf = 0 if last is None else last[0] + 1
    active = cache.active(txn, last)
    if signer.key_id == active:
        return [], next_leaf
    key_states = txn.key_event_states()
    registered = {orjson.loads(state)["key_id"] for _, state in key_states}
    if signer.key_id in registered:
        raise LedgerKeyError(
            f"key {signer.key_id} was retired from the ledger (active key: {active}); "
            "sign with the key store's active key"
        )
    if active is None:
        signing = signer  # self-signed genesis
    else:
        previous = signers.signer_for(active)
        if previous is None:
            raise LedgerKeyError(
                f"cannot register key {signer.key_id}: the private key of the ledger's "
                f"active key {active} is not in the key store"
            )
        signing = previous
    version = (key_states[-1][0] + 1) if key_states else 1
    entry = _key_event_entry(txn, signer, signing, active, next_leaf, version, at)
    return [entry], next_leaf + 1


def register_signing_key(
    txn: LedgerTxn, signers: SignerProvider | None, cache: ActiveKeyCache
) -> str:
    """Make the provider's current key the ledger's active key now (inside the insert lock);
    returns its key id. Nothing is written if it already is."""
    if signers is None:
        raise LedgerKeyError("no signer configured for the ledger recorder")
    signer = signers.current()
    rows, _ = _register_key_if_needed(txn, signer, signers, cache, txn.last_entry())
    if rows:
        txn.insert_entries(rows)
    return signer.key_id


def registered_key_ids(states: Sequence[tuple[int, bytes]]) -> list[str]:
    """Key ids of key-log event states, in registration order."""
    return [str(orjson.loads(state)["key_id"]) for _, state in states]


def tail_request(
    stored_events: Sequence[StoredEvent], stream_of: Callable[[UUID | str], str] = str
) -> list[tuple[str, int]]:
    """``(stream, lowest version in the batch)`` per stream of the batch, for `LedgerTxn.tail`
    (a recorder may send that query ahead, with the insert)."""
    lowest: dict[str, int] = {}
    for s in stored_events:
        stream = stream_of(s.originator_id)
        version = s.originator_version
        if lowest.get(stream, version) >= version:
            lowest[stream] = version
    return list(lowest.items())


def append_ledger_entries(
    txn: LedgerTxn,
    stored_events: Sequence[StoredEvent],
    notification_ids: Sequence[int] | None,
    signers: SignerProvider | None,
    cache: ActiveKeyCache,
    *,
    stream_of: Callable[[UUID | str], str] = str,
) -> list[NewEntry]:
    """Sign and insert the ledger entries of a batch, registering the signer's key first
    if the ledger does not have it as its active key (see `ledger.keys`); returns the rows.

    Everything the entries depend on in the database (the highest leaf, each stream's
    previous record hash) is read here, inside the locked transaction, by one
    `LedgerTxn.tail` call: nothing is carried over from an earlier transaction."""
    if not stored_events:
        return []
    if notification_ids is None or len(notification_ids) != len(stored_events):
        raise ProgrammingError("notification ids missing for the ledger entries")
    if signers is None:
        raise LedgerKeyError("no signer configured for the ledger recorder")
    streams = [stream_of(s.originator_id) for s in stored_events]
    if KEY_LOG_STREAM in streams:
        raise ProgrammingError("the key-log stream is written by the ledger recorder only")
    signer = signers.current()
    last, prev_of = txn.tail(tail_request(stored_events, stream_of))
    first_at = getattr(stored_events[0], "recorded_at", None)
    rows, next_leaf = _register_key_if_needed(txn, signer, signers, cache, last, first_at)

    if len(stored_events) == 1:  # the common case
        rows.append(
            _sign_entry(
                stored_events[0],
                notification_ids[0],
                streams[0],
                prev_of[streams[0]],
                next_leaf,
                signer,
            )
        )
        txn.insert_entries(rows)
        return rows

    # Hash each stream's events in version order (prev links), leaves in batch order.
    order = sorted(
        range(len(stored_events)),
        key=lambda i: (streams[i], stored_events[i].originator_version),
    )
    entries: list[NewEntry | None] = [None] * len(stored_events)
    for i in order:
        stream = streams[i]
        entry = _sign_entry(
            stored_events[i], notification_ids[i], stream, prev_of[stream], next_leaf + i, signer
        )
        prev_of[stream] = entry.record_hash
        entries[i] = entry
    rows.extend(e for e in entries if e is not None)
    txn.insert_entries(rows)
    return rows


# -- shared by the SQLite and PostgreSQL factories -----------------------------------------

DEFAULT_EVENTS_TABLE = "stored_events"


def ledger_table_names(events_table_name: str) -> tuple[str, str]:
    """(ledger entries table, key-log events table) beside an events table."""
    if events_table_name == DEFAULT_EVENTS_TABLE:
        return "ledger_entries", "ledger_key_events"
    return f"{events_table_name}_ledger", f"{events_table_name}_keys"


def default_transcoder(env: Any) -> Transcoder | None:
    """`CanonicalTranscoder` unless the environment names another (TRANSCODER_TOPIC)."""
    if env.get(InfrastructureFactory.TRANSCODER_TOPIC):
        return None
    return CanonicalTranscoder()


def default_mapper_class(env: Any) -> type[Mapper[Any]] | None:
    """`SigningMapper` unless the environment names another mapper (MAPPER_TOPIC)."""
    if env.get(InfrastructureFactory.MAPPER_TOPIC):
        return None
    return SigningMapper


def signers_from_env(env: Any) -> KeyStore:
    """Key store from CALEOL_KEY_DIR / CALEOL_KEY_PASSPHRASE in ``env``, else os.environ."""
    merged = {
        name: env.get(name) or os.environ.get(name) or ""
        for name in (KEY_DIR_ENV, KEY_PASSPHRASE_ENV)
    }
    return KeyStore.from_env(merged)
