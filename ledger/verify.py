"""Verify a ledger store: every entry, in leaf order (no CLI here).

Checks, per entry (the first failure in leaf order is reported; at one leaf, the checks run
in this order and a structural failure wins over a bad signature):

``gap``           leaf indexes are dense from 0 (a missing leaf; the stream/version named
                  are those of the missing event when its stream's chain reveals it);
``reordered``     notification ids increase with the leaf index, and the entry's stored
                  event is the one it names (stream, version);
``missing``       the entry's stored event exists;
``payload``       SHA-256 of the stored state equals the signed ``payload_sha256``, and the
                  stored topic equals the signed topic;
``decode``        the topic resolves to a class, the state is a JSON object, the actor is JSON;
``unknown_key`` / ``key_not_valid``  the signing key is the active key at that leaf (key
                  rules in `ledger.keys`; unknown = never registered before this leaf,
                  not valid = retired, or a malformed/duplicate registration);
``chain``         ``prev`` is the record hash of the stream's previous entry, versions are
                  contiguous, a stream's first entry has ``prev`` null;
``signature``     the record rebuilt from the row hashes to the stored ``record_hash`` and
                  its Ed25519 signature verifies with the key's registered public key;
then, once: ``orphan_event``  every stored event (and key-log event) has a ledger entry.

Signatures are verified in worker processes (chunks of pure bytes, libsodium via PyNaCl),
the sequential checks in this process, overlapping; the workers start in the background
while the first entries are read, and a recorder with ``stream_entries`` (PostgreSQL) is read
through one streamed query instead of one query per page.
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from eventsourcing.utils import TopicError, resolve_topic

from ledger.keys import key_id_for
from ledger.records import (
    KEY_LOG_STREAM,
    KEY_REGISTERED_TOPIC,
    LedgerEntry,
    LedgerReader,
    iter_entries,
    record_bytes,
)

try:  # libsodium verifies about twice as fast as OpenSSL (optional here, as in ledger.keys)
    from nacl.bindings import crypto_sign_open as _sodium_open
    from nacl.exceptions import BadSignatureError
except ImportError:  # pragma: no cover - depends on the environment
    _sodium_open = None  # type: ignore[assignment]

__all__ = ["Failure", "FailureKind", "VerifyResult", "verify_ledger"]

FailureKind = Literal[
    "signature",
    "chain",
    "missing",
    "reordered",
    "unknown_key",
    "key_not_valid",
    "payload",
    "gap",
    "orphan_event",
    "decode",
]

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    leaf: int | None
    stream: str | None
    version: int | None
    message: str


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries_checked: int
    failure: Failure | None
    anchored: bool
    key_ids: tuple[str, ...]
    message: str

    @property
    def kind(self) -> FailureKind | None:
        return None if self.failure is None else self.failure.kind

    @property
    def leaf(self) -> int | None:
        return None if self.failure is None else self.failure.leaf

    @property
    def stream(self) -> str | None:
        return None if self.failure is None else self.failure.stream

    @property
    def version(self) -> int | None:
        return None if self.failure is None else self.failure.version


# -- signature workers (pure bytes in, failing positions out) ------------------------------

_ITEM = 64 + 32  # signature || record hash (libsodium's "signed message" layout)
_KEY_SIZE = 32
_MAX_PENDING = 64  # chunks kept while the worker processes start (then: wait for them)


def _verify_chunk(public_keys: tuple[bytes, ...], key_index: bytes, packed: bytes) -> list[int]:
    """Positions in the chunk whose signature does not verify (a key that is not 32 bytes
    fails every signature)."""
    if _sodium_open is None:  # pragma: no cover - depends on the environment
        return _verify_chunk_openssl(public_keys, key_index, packed)
    bad: list[int] = []
    sign_open = _sodium_open
    valid = [len(k) == _KEY_SIZE for k in public_keys]  # libsodium reads 32 bytes, unchecked
    for pos, key_no in enumerate(key_index):
        offset = pos * _ITEM
        if not valid[key_no]:
            bad.append(pos)
            continue
        try:
            sign_open(packed[offset : offset + _ITEM], public_keys[key_no])
        except BadSignatureError:
            bad.append(pos)
    return bad


def _verify_chunk_openssl(
    public_keys: tuple[bytes, ...], key_index: bytes, packed: bytes
) -> list[int]:
    """`_verify_chunk` through `cryptography` (OpenSSL), without PyNaCl."""
    keys = [
        Ed25519PublicKey.from_public_bytes(k) if len(k) == _KEY_SIZE else None for k in public_keys
    ]
    bad: list[int] = []
    for pos, key_no in enumerate(key_index):
        offset = pos * _ITEM
        key = keys[key_no]
        try:
            if key is None:
                raise InvalidSignature
            key.verify(packed[offset : offset + 64], packed[offset + 64 : offset + _ITEM])
        except InvalidSignature:
            bad.append(pos)
    return bad


def _warm_up() -> None:
    """Submitted once per worker so that the pool's processes start while entries are read."""


@dataclass
class _Chunk:
    keys: list[bytes] = field(default_factory=list)
    key_pos: dict[bytes, int] = field(default_factory=dict)
    key_index: bytearray = field(default_factory=bytearray)
    packed: bytearray = field(default_factory=bytearray)
    where: list[tuple[int, str, int]] = field(default_factory=list)  # leaf, stream, version

    def add(self, public_key: bytes, digest: bytes, signature: bytes, entry: LedgerEntry) -> None:
        pos = self.key_pos.get(public_key)
        if pos is None:
            pos = self.key_pos[public_key] = len(self.keys)
            self.keys.append(public_key)
        self.key_index.append(pos)
        # A malformed signature length must fail, not shift the packing.
        self.packed += (signature if len(signature) == 64 else bytes(64)) + digest
        self.where.append((entry.leaf_index, entry.stream, entry.version))

    def args(self) -> tuple[tuple[bytes, ...], bytes, bytes]:
        """`_verify_chunk`'s arguments."""
        return tuple(self.keys), bytes(self.key_index), bytes(self.packed)

    def __len__(self) -> int:
        return len(self.where)

    def full(self, size: int) -> bool:
        return len(self.where) >= size or len(self.keys) >= 255


class _SignatureChecker:
    """Verifies signatures in chunks, in worker processes when worthwhile."""

    def __init__(self, workers: int, chunk_size: int) -> None:
        self.chunk_size = chunk_size
        self.chunk = _Chunk()
        self.first_bad: tuple[int, str, int] | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._workers = workers
        self._in_flight: deque[tuple[Future[list[int]], _Chunk]] = deque()
        self._pending: deque[_Chunk] = deque()  # made while the pool starts
        self._starting: threading.Thread | None = None
        self._start_error: BaseException | None = None

    def add(self, public_key: bytes, digest: bytes, signature: bytes, entry: LedgerEntry) -> None:
        self.chunk.add(public_key, digest, signature, entry)
        if self.chunk.full(self.chunk_size):
            self._submit()

    def _submit(self, last: bool = False) -> None:
        chunk, self.chunk = self.chunk, _Chunk()
        if self._workers <= 1:
            if chunk:
                self._record(chunk, _verify_chunk(*chunk.args()))
            return
        if chunk:
            self._pending.append(chunk)
        starting = self._starting
        if (
            not last
            and starting is not None
            and starting.is_alive()
            and len(self._pending) <= _MAX_PENDING
        ):
            return  # the pool is still starting: keep checking entries meanwhile
        pool = self._ready_pool()
        while self._pending:
            pending = self._pending.popleft()
            self._in_flight.append((pool.submit(_verify_chunk, *pending.args()), pending))
        while len(self._in_flight) > 2 * self._workers:  # bounded memory
            self._collect_one()

    def start(self) -> None:
        """Start the worker processes in the background (called before the first read: they
        start while the first pages are read and checked)."""
        if self._workers <= 1 or self._pool is not None or self._starting is not None:
            return
        # fork is fastest, but only safe without other threads (e.g. a DB pool's);
        # forkserver workers inherit nothing (but re-import an unguarded __main__).
        if threading.active_count() == 1:
            self._start_pool(multiprocessing.get_context("fork"))
            return
        context = multiprocessing.get_context("forkserver")
        # Import this module once in the fork server (if this process starts it), not in
        # every worker.
        context.set_forkserver_preload(["__main__", __name__])
        # Starting the fork server and its children blocks for a while (the server imports
        # before it forks): let this thread read and check meanwhile.
        self._starting = threading.Thread(
            target=self._start_pool, args=(context,), name="verify-pool-start", daemon=True
        )
        self._starting.start()

    def _start_pool(self, context: multiprocessing.context.BaseContext) -> None:
        try:
            pool = ProcessPoolExecutor(self._workers, mp_context=context)
            for _ in range(self._workers):  # one process is started per submission
                pool.submit(_warm_up)
            self._pool = pool
        except BaseException as e:  # re-raised by `_ready_pool`
            self._start_error = e

    def _ready_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            if self._starting is None:
                self.start()
            if self._starting is not None:
                self._starting.join()
                self._starting = None
            if self._start_error is not None:
                raise self._start_error
        assert self._pool is not None
        return self._pool

    def _collect_one(self) -> None:
        future, chunk = self._in_flight.popleft()
        self._record(chunk, future.result())

    def _record(self, chunk: _Chunk, bad: list[int]) -> None:
        if bad and (self.first_bad is None or chunk.where[bad[0]][0] < self.first_bad[0]):
            self.first_bad = chunk.where[bad[0]]

    def finish(self) -> None:
        self._submit(last=True)
        while self._in_flight:
            self._collect_one()

    def close(self) -> None:
        for future, _ in self._in_flight:
            future.cancel()
        if self._starting is not None:
            self._starting.join()
            self._starting = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


# -- sequential checks ---------------------------------------------------------------------


class _Stop(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def _fail(kind: FailureKind, entry: LedgerEntry, message: str) -> _Stop:
    return _Stop(Failure(kind, entry.leaf_index, entry.stream, entry.version, message))


class _Sequential:
    """State carried from leaf to leaf: streams' heads, keys, notification order."""

    def __init__(self, check_decode: bool) -> None:
        self.check_decode = check_decode
        self.next_leaf = 0
        self.last_notification_id: int | None = None
        self.heads: dict[str, tuple[int, bytes]] = {}  # stream -> (version, record hash)
        self.public_keys: dict[str, bytes] = {}  # registered key id -> raw public key
        self.key_order: list[str] = []
        self.active: str | None = None
        self.topics: dict[str, bool] = {}

    def check(self, e: LedgerEntry) -> tuple[bytes, bytes]:
        """Sequential checks of one entry; returns (public key, recomputed record hash)."""
        if e.leaf_index != self.next_leaf:
            raise _Stop(
                Failure(
                    "gap",
                    self.next_leaf,
                    None,
                    None,
                    f"leaf {self.next_leaf} is missing (next entry is leaf {e.leaf_index})",
                )
            )
        self.next_leaf += 1
        nid = e.notification_id
        if nid is not None:
            if self.last_notification_id is not None and nid <= self.last_notification_id:
                raise _fail("reordered", e, f"notification id {nid} is out of order")
            self.last_notification_id = nid
        if e.state is None:
            raise _fail("missing", e, "the stored event of this entry is missing")
        if e.event_stream != e.stream or e.event_version != e.version:
            raise _fail(
                "reordered",
                e,
                f"entry points at event {e.event_stream} v{e.event_version} instead",
            )
        if hashlib.sha256(e.state).digest() != e.payload_sha256:
            raise _fail("payload", e, "stored payload does not match its signed hash")
        if e.event_topic != e.topic:
            raise _fail("payload", e, f"stored topic {e.event_topic!r} differs from the record")
        try:
            actor = None if e.actor is None else orjson.loads(e.actor)
        except orjson.JSONDecodeError:
            raise _fail("decode", e, "actor is not valid JSON") from None
        state: Any = None
        if self.check_decode or e.stream == KEY_LOG_STREAM:
            state = self._decode(e)
        public_key, registers = self._check_key(e, state)
        self._check_chain(e)
        digest = hashlib.sha256(
            record_bytes(
                stream=e.stream,
                version=e.version,
                topic=e.topic,
                recorded_at=e.recorded_at,
                actor=actor,
                payload_sha256_hex=e.payload_sha256.hex(),
                prev_hex=None if e.prev_hash is None else e.prev_hash.hex(),
                leaf=e.leaf_index,
                key_id=e.key_id,
            )
        ).digest()
        if digest != e.record_hash:
            raise _fail("signature", e, "record fields were altered (record hash mismatch)")
        self.heads[e.stream] = (e.version, digest)
        if registers is not None:
            self.active = registers  # valid from the next leaf on
        return public_key, digest

    def _decode(self, e: LedgerEntry) -> Any:
        known = self.topics.get(e.topic)
        if known is None:
            try:
                resolve_topic(e.topic)
                known = True
            except (TopicError, ImportError, AttributeError, ValueError):
                known = False
            self.topics[e.topic] = known
        if not known:
            raise _fail("decode", e, f"topic {e.topic!r} does not resolve")
        assert e.state is not None
        try:
            state = orjson.loads(e.state)
        except orjson.JSONDecodeError:
            raise _fail("decode", e, "stored state is not JSON") from None
        if not isinstance(state, dict):
            raise _fail("decode", e, "stored state is not a JSON object")
        return state

    def _check_key(self, e: LedgerEntry, state: Any) -> tuple[bytes, str | None]:
        """Public key to verify ``e`` with, and the key id it registers (or None)."""
        if e.stream == KEY_LOG_STREAM:
            if e.topic != KEY_REGISTERED_TOPIC:
                raise _fail("decode", e, f"unexpected key-log topic {e.topic!r}")
            try:
                new_id = str(state["key_id"])
                new_public = bytes.fromhex(state["public_key"])
                previous = state["previous_key_id"]
                ok = key_id_for(new_public) == new_id
            except (KeyError, TypeError, ValueError):
                raise _fail("key_not_valid", e, "malformed key registration") from None
            if not ok:
                raise _fail("key_not_valid", e, f"key id {new_id} does not match its key")
            if new_id in self.public_keys:
                raise _fail("key_not_valid", e, f"key {new_id} is registered twice")
            if self.active is None:  # genesis: self-signed
                if e.leaf_index != 0 or previous is not None or e.key_id != new_id:
                    raise _fail("unknown_key", e, "leaf 0 must self-register its signing key")
                self.public_keys[new_id] = new_public
                self.key_order.append(new_id)
                return new_public, new_id
            if previous != self.active:
                raise _fail(
                    "key_not_valid", e, f"rotation names {previous} but {self.active} is active"
                )
            self._check_signer(e)
            self.public_keys[new_id] = new_public
            self.key_order.append(new_id)
            return self.public_keys[e.key_id], new_id
        if self.active is None:
            raise _fail("unknown_key", e, "leaf 0 is not a key registration")
        self._check_signer(e)
        return self.public_keys[e.key_id], None

    def _check_signer(self, e: LedgerEntry) -> None:
        if e.key_id == self.active:
            return
        if e.key_id in self.public_keys:
            raise _fail(
                "key_not_valid", e, f"signed by retired key {e.key_id} (active: {self.active})"
            )
        raise _fail("unknown_key", e, f"signed by unregistered key {e.key_id}")

    def _check_chain(self, e: LedgerEntry) -> None:
        head = self.heads.get(e.stream)
        if head is None:
            if e.prev_hash is not None:
                raise _fail("chain", e, "first entry of its stream links to a missing entry")
            return
        version, digest = head
        if e.version != version + 1:
            raise _fail("chain", e, f"version {e.version} follows version {version}")
        if e.prev_hash != digest:
            raise _fail("chain", e, "prev does not match the previous entry of the stream")


def _name_gap(gap: Failure, seq: _Sequential, rest: Iterable[LedgerEntry]) -> Failure:
    """Name the event missing at a gap, from the first stream chain that breaks after it."""
    for e in rest:
        head = seq.heads.get(e.stream)
        expected_prev = None if head is None else head[1]
        if e.prev_hash != expected_prev:
            return Failure(
                "gap",
                gap.leaf,
                e.stream,
                e.version - 1,
                f"{gap.message}: version {e.version - 1} of stream {e.stream} is missing",
            )
        seq.heads[e.stream] = (e.version, e.record_hash)
    return gap


def _anchor_key_id(anchor: bytes | str) -> str:
    if isinstance(anchor, bytes):
        return key_id_for(anchor)
    if anchor.startswith("ed25519:"):
        return anchor
    return key_id_for(bytes.fromhex(anchor))


def verify_ledger(
    reader: LedgerReader,
    *,
    anchor: bytes | str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    page_size: int = 5000,
    chunk_size: int = 2000,
    parallel_threshold: int = 4000,
    check_decode: bool = True,
) -> VerifyResult:
    """Verify every ledger entry of ``reader`` (a ledger recorder) in leaf order.

    ``anchor``: trusted key (raw public key bytes, its hex, or its key id) that must be
    the genesis key or registered in the chain; without one the result is "consistent,
    not anchored". ``workers``: signature-verifying processes (default: all cores; small
    ledgers are verified in-process). ``progress(done, total)`` is called after each page.
    """
    total = reader.count_entries()
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if total < parallel_threshold:
        workers = 1
    seq = _Sequential(check_decode)
    sigs = _SignatureChecker(workers, chunk_size)
    failure: Failure | None = None
    checked = 0
    # A recorder's streamed read when it has one (one query instead of one per page).
    stream = getattr(reader, "stream_entries", None)
    entries: Iterator[LedgerEntry] = (
        iter_entries(reader, 0, None, page_size) if stream is None else stream(0, page_size)
    )
    try:
        sigs.start()
        for e in entries:
            try:
                public_key, digest = seq.check(e)
            except _Stop as stop:
                failure = stop.failure
                if failure.kind == "gap":
                    failure = _name_gap(failure, seq, itertools.chain([e], entries))
                break
            sigs.add(public_key, digest, e.signature, e)
            checked += 1
            if progress is not None and checked % page_size == 0:
                progress(checked, total)
            if sigs.first_bad is not None:
                break
        sigs.finish()
    finally:
        sigs.close()
        close = getattr(entries, "close", None)
        if close is not None:
            close()  # an unfinished stream releases its connection now
    if sigs.first_bad is not None and (
        failure is None or failure.leaf is None or sigs.first_bad[0] < failure.leaf
    ):
        leaf, stream, version = sigs.first_bad
        failure = Failure("signature", leaf, stream, version, "invalid Ed25519 signature")
    if failure is None:
        orphan = reader.find_orphan_event()
        if orphan is not None:
            failure = Failure(
                "orphan_event",
                None,
                orphan.stream,
                orphan.version,
                f"stored event {orphan.stream} v{orphan.version} has no ledger entry",
            )
    if progress is not None:
        progress(checked, total)
    key_ids = tuple(seq.key_order)
    anchor_id = None if anchor is None else _anchor_key_id(anchor)
    if failure is None and anchor_id is not None and anchor_id not in seq.public_keys:
        failure = Failure(
            "unknown_key", None, None, None, f"anchor key {anchor_id} is not in the ledger"
        )
    if failure is not None:
        where = (f" at leaf {failure.leaf}" if failure.leaf is not None else "") + (
            f" (stream {failure.stream} v{failure.version})" if failure.stream else ""
        )
        message = f"TAMPERED: {failure.kind}{where}: {failure.message}"
        return VerifyResult(False, checked, failure, False, key_ids, message)
    if anchor_id is not None:
        message = f"intact: {checked} entries, anchored to key {anchor_id}"
        return VerifyResult(True, checked, None, True, key_ids, message)
    message = f"consistent, not anchored: {checked} entries"
    return VerifyResult(True, checked, None, False, key_ids, message)
