"""Verify a ledger database against signed checkpoints (``caleol verify --anchor CHECKPOINT``).

A checkpoint published outside the database (sent to the prefecture, printed in the minutes)
commits to the first ``size`` leaves of the ledger through their RFC 9162 root. Verification:

1. every entry is verified as by ``caleol verify`` (`ledger.verify.verify_ledger`: signatures,
   key rules, chains, leaf order), and *while doing so* the leaf hashes
   ``SHA-256(0x00 ‖ record bytes)`` are recomputed from the entries and folded into the root of
   every size of interest (the anchors' and the stored checkpoints'): nothing is taken from the
   database's Merkle tables for these roots;
2. each anchor must carry a valid signature by a key registered in the (verified) key log,
   under the name of its origin, and by the key that was active at leaf ``size``;
3. the ledger must have at least ``size`` entries (else: **truncated**), and the recomputed root
   of its first ``size`` leaves must be the anchor's root (else: the history before the
   checkpoint was changed: a **fork** when another checkpoint signed by the ledger, stored or
   given, describes the database's history, a **rewrite** otherwise; a checkpoint signed by no
   key of the ledger means the history was **rewritten and re-signed with another key**);
4. every checkpoint stored in the database must be validly signed and match the entries too,
   and the consistency proofs served by the database's Merkle tables from each anchor to the
   latest stored checkpoint must verify (RFC 9162 §2.1.4.2).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from ledger.checkpoint import Checkpoint
from ledger.checkpoints import Checkpointer, LedgerKey, StoredCheckpoint
from ledger.merkle import EMPTY_ROOT, MerkleStoreError, ProofError, verify_consistency
from ledger.merkle_store import AuditDB
from ledger.records import KEY_LOG_STREAM, LedgerEntry, OrphanEvent
from ledger.signed_note import (
    InvalidSignatureError,
    NoteError,
    Signature,
    UnverifiedNoteError,
    Verifier,
    open_note,
    parse_note,
)
from ledger.verify import verify_ledger

__all__ = [
    "AnchorInputError",
    "AnchorReport",
    "ParsedCheckpoint",
    "RootHasher",
    "is_checkpoint_text",
    "parse_checkpoint_text",
    "verify_database",
]


class AnchorInputError(ValueError):
    """The anchor is not a well-formed signed checkpoint (unusable input, exit 2)."""


def is_checkpoint_text(data: bytes) -> bool:
    """Whether ``data`` looks like a signed note (a checkpoint) rather than a key."""
    return b"\n\n\xe2\x80\x94 " in data  # blank line, then "— " (EM DASH, space)


@dataclass(frozen=True)
class ParsedCheckpoint:
    """A signed checkpoint parsed (not yet verified), with where it comes from."""

    label: str
    note: str
    checkpoint: Checkpoint
    signatures: tuple[Signature, ...]

    @property
    def size(self) -> int:
        return self.checkpoint.size

    @property
    def root(self) -> bytes:
        return self.checkpoint.root_hash

    @property
    def origin(self) -> str:
        return self.checkpoint.origin

    def signers_text(self) -> str:
        return ", ".join(f"{s.name}+{s.key_id.hex()}" for s in self.signatures) or "nobody"


def parse_checkpoint_text(note: str | bytes, label: str) -> ParsedCheckpoint:
    try:
        parsed = parse_note(note)
        checkpoint = Checkpoint.from_text(parsed.text)
    except NoteError as e:
        raise AnchorInputError(f"{label} is not a valid signed checkpoint: {e}") from None
    text = note.decode("utf-8") if isinstance(note, bytes) else note
    return ParsedCheckpoint(label, text, checkpoint, parsed.signatures)


class RootHasher:
    """Streams leaf hashes in order and remembers the root at chosen sizes (O(log n) memory)."""

    def __init__(self, sizes: set[int] | None = None) -> None:
        self.size = 0
        self._stack: list[bytes] = []
        self.sizes = sizes or set()
        self.roots: dict[int, bytes] = {0: EMPTY_ROOT} if 0 in self.sizes else {}

    def append(self, leaf_hash: bytes) -> None:
        sha256 = hashlib.sha256
        current, n = leaf_hash, self.size
        stack = self._stack
        while n & 1:
            current = sha256(b"\x01" + stack.pop() + current).digest()
            n >>= 1
        stack.append(current)
        self.size += 1
        if self.size in self.sizes:
            self.roots[self.size] = self.root()

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        result = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            result = hashlib.sha256(b"\x01" + left + result).digest()
        return result


def _leaf_hash(entry: LedgerEntry) -> bytes:
    return hashlib.sha256(b"\x00" + entry.record_bytes()).digest()


class _Tap:
    """A `LedgerReader` passing entries through to the verifier while hashing them."""

    def __init__(self, reader: Any, sizes: set[int]) -> None:
        self.reader = reader
        self.hasher = RootHasher(sizes)
        self.keys: list[LedgerKey] = []
        self.broken = False

    def select_entries(self, start_leaf: int, limit: int) -> list[LedgerEntry]:
        page: list[LedgerEntry] = self.reader.select_entries(start_leaf, limit)
        hasher = self.hasher
        for entry in page:
            if self.broken or entry.leaf_index < hasher.size:
                continue
            if entry.leaf_index > hasher.size:
                self.broken = True  # a gap: the verifier reports it
                continue
            hasher.append(_leaf_hash(entry))
            if entry.stream == KEY_LOG_STREAM and entry.state is not None:
                self._key(entry)
        return page

    def _key(self, entry: LedgerEntry) -> None:
        try:
            state = orjson.loads(entry.state or b"")
            self.keys.append(
                LedgerKey(
                    key_id=str(state["key_id"]),
                    public_key=bytes.fromhex(state["public_key"]),
                    previous_key_id=state["previous_key_id"],
                    leaf=entry.leaf_index,
                )
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            pass  # the verifier reports a malformed registration

    def count_entries(self) -> int:
        return int(self.reader.count_entries())

    def find_orphan_event(self) -> OrphanEvent | None:
        found: OrphanEvent | None = self.reader.find_orphan_event()
        return found


@dataclass
class AnchorReport:
    ok: bool
    kind: str | None
    message: str
    entries: int = 0
    anchored: bool = False
    notes: list[str] = field(default_factory=list)


def active_key_at(keys: Sequence[LedgerKey], size: int) -> LedgerKey | None:
    """The key active at leaf ``size``: the last one registered at a leaf below ``size``."""
    active = None
    for key in keys:
        if key.leaf < size:
            active = key
    return active


def check_checkpoint_signature(
    cp: ParsedCheckpoint, keys: Sequence[LedgerKey]
) -> tuple[str | None, str, LedgerKey | None]:
    """(failure kind or None, message, the ledger key that signed it)."""
    verifiers: dict[tuple[str, bytes], tuple[Verifier, LedgerKey]] = {}
    for key in keys:
        verifier = key.verifier(cp.origin)
        verifiers[(verifier.name, verifier.key_id)] = (verifier, key)
    try:
        opened = open_note(cp.note, [v for v, _ in verifiers.values()])
    except UnverifiedNoteError:
        return (
            "rewritten_new_key",
            f"{cp.label} (size {cp.size}) is signed by {cp.signers_text()}, which is no key "
            "of this ledger: the history was rewritten and re-signed with another key "
            "(or the checkpoint belongs to another ledger)",
            None,
        )
    except InvalidSignatureError as e:
        return (
            "forged_checkpoint",
            f"{cp.label} (size {cp.size}) carries an invalid signature by the ledger key "
            f"{e.name}+{e.key_id.hex()}: the checkpoint was altered or forged",
            None,
        )
    except NoteError as e:
        return "forged_checkpoint", f"{cp.label} cannot be verified: {e}", None
    signer = verifiers[(opened.verified[0].name, opened.verified[0].key_id)][1]
    active = active_key_at(keys, cp.size)
    if active is not None and signer.key_id != active.key_id:
        return (
            "key_not_valid",
            f"{cp.label} (size {cp.size}) is signed by the ledger key {signer.key_id}, but "
            f"{active.key_id} was the active key at leaf {cp.size}",
            signer,
        )
    return None, "", signer


def verify_database(
    recorder: Any,
    anchors: Sequence[ParsedCheckpoint],
    *,
    key_anchor: bytes | str | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> AnchorReport:
    """Verify the ledger of ``recorder`` and relate it to ``anchors`` and its own checkpoints.

    ``key_anchor``: a trusted key as for `verify_ledger` (may be combined with checkpoints).
    With no checkpoint given or stored, this is exactly `verify_ledger`.
    """
    db = AuditDB(recorder)
    checkpointer = Checkpointer(recorder)
    stored = checkpointer.checkpoints()
    stored_parsed = [
        _parse_stored(cp) for cp in stored
    ]  # a malformed stored note is a tampered database, reported below
    sizes = {a.size for a in anchors} | {cp.size for cp, _ in stored_parsed}
    tap = _Tap(recorder, sizes)
    reader = tap if sizes else recorder  # nothing to hash for: no overhead at all
    result = verify_ledger(reader, anchor=key_anchor, workers=workers, progress=progress)
    if not result.ok:
        assert result.failure is not None
        f = result.failure
        where = (f" at leaf {f.leaf}" if f.leaf is not None else "") + (
            f", stream {f.stream}, version {f.version}" if f.stream else ""
        )
        return AnchorReport(False, f.kind, f"{f.kind}{where}: {f.message}", result.entries_checked)
    n = result.entries_checked
    keys = tap.keys
    roots = tap.hasher.roots
    report = AnchorReport(True, None, "", n, anchored=bool(anchors) or result.anchored)
    if result.anchored:
        report.notes.append(f"the ledger's keys chain back to the trusted key ({result.message})")

    # The database's own checkpoints must be signed by the ledger and match the entries.
    good_stored: list[tuple[StoredCheckpoint, ParsedCheckpoint]] = []
    for row, parsed in stored_parsed:
        label = f"the ledger's checkpoint #{row.id} ({row.reason}, {row.issued_at})"
        if parsed is None:
            return _fail(report, "forged_checkpoint", f"{label} is not a valid signed checkpoint")
        parsed = ParsedCheckpoint(label, parsed.note, parsed.checkpoint, parsed.signatures)
        if parsed.root != row.root or parsed.size != row.size:
            return _fail(
                report, "forged_checkpoint", f"{label}: its size/root columns differ from its note"
            )
        kind, message, _ = check_checkpoint_signature(parsed, keys)
        if kind is not None:
            return _fail(report, kind, message)
        if parsed.size > n:
            return _fail(
                report,
                "truncated",
                f"{label} covers {parsed.size} entries but the ledger has only {n}: "
                f"entries from leaf {n} on were removed after it was issued",
            )
        if roots.get(parsed.size) != parsed.root:
            return _fail(
                report,
                "rewritten",
                f"{label} no longer matches the entries: the root of the first {parsed.size} "
                f"leaves is now {roots[parsed.size].hex()}, the checkpoint says "
                f"{parsed.root.hex()}: the history before leaf {parsed.size} was altered "
                "after the checkpoint was issued",
            )
        good_stored.append((row, parsed))

    origins = {parsed.origin for _, parsed in good_stored}
    for anchor in anchors:
        kind, message, signer = check_checkpoint_signature(anchor, keys)
        if kind is not None:
            return _fail(report, kind, message)
        if origins and anchor.origin not in origins:
            return _fail(
                report,
                "origin",
                f"{anchor.label} is for the ledger {anchor.origin!r}; this database is "
                f"{', '.join(sorted(origins))}",
            )
        if anchor.size > n:
            return _fail(
                report,
                "truncated",
                f"{anchor.label} covers {anchor.size} entries but the ledger has only {n}: "
                f"the ledger was truncated after the checkpoint (leaves {n} to "
                f"{anchor.size - 1} are gone)",
            )
        if roots.get(anchor.size) != anchor.root:
            witness = _witness(anchor, anchors, good_stored, roots)
            recomputed = roots[anchor.size].hex()
            if witness is not None:
                return _fail(
                    report,
                    "fork",
                    f"{anchor.label} (size {anchor.size}, root {anchor.root.hex()}) and "
                    f"{witness.label} (size {witness.size}, root {witness.root.hex()}) are both "
                    "signed by this ledger's key but describe different histories: a fork "
                    f"{_fork_detail(checkpointer, anchor, witness)}; the database follows "
                    f"{witness.label} (root of its first {anchor.size} leaves: {recomputed})",
                )
            return _fail(
                report,
                "rewritten",
                f"the root of the first {anchor.size} leaves recomputed from the entries is "
                f"{recomputed}, {anchor.label} says {anchor.root.hex()}: the history before "
                f"leaf {anchor.size} was rewritten after the checkpoint was published",
            )
        assert signer is not None
        report.notes.append(
            f"{anchor.label}: size {anchor.size}, root {anchor.root.hex()}, signed by ledger "
            f"key {signer.key_id} ({anchor.origin}): the ledger extends it"
        )

    # The Merkle tables must serve proofs consistent with the recomputed roots.
    if good_stored:
        latest = max(good_stored, key=lambda item: (item[1].size, item[0].id))[1]
        try:
            tree = checkpointer.tree(latest.size)
            for _, parsed in good_stored:
                if tree.root(parsed.size) != parsed.root:
                    raise MerkleStoreError(
                        f"the stored tree's root at size {parsed.size} is not the checkpoint's"
                    )
            for anchor in anchors:
                if 0 < anchor.size <= latest.size:
                    proof = tree.consistency_proof(anchor.size, latest.size)
                    verify_consistency(anchor.size, latest.size, proof, anchor.root, latest.root)
                    report.notes.append(
                        f"consistency proof from {anchor.label} (size {anchor.size}) to "
                        f"{latest.label} (size {latest.size}) verified"
                    )
                elif anchor.size > latest.size:
                    report.notes.append(
                        f"warning: {anchor.label} is newer than the latest checkpoint stored "
                        f"in the database (size {latest.size})"
                    )
        except (MerkleStoreError, ProofError, ValueError) as e:
            return _fail(
                report,
                "merkle_store",
                f"the database's Merkle tables ({db.bare['nodes']}) disagree with the entries: {e}",
            )
        report.notes.append(
            f"{len(good_stored)} stored checkpoint(s) verified; the latest has size {latest.size}"
        )
    if anchors:
        report.message = f"intact: {n} entries, a consistent extension of the anchor checkpoint(s)"
    elif result.anchored:
        report.message = f"intact: {n} entries, anchored to the given key"
    else:
        report.message = f"consistent, not anchored: {n} entries"
    return report


def _parse_stored(row: StoredCheckpoint) -> tuple[StoredCheckpoint, ParsedCheckpoint | None]:
    try:
        return row, parse_checkpoint_text(row.note, f"checkpoint #{row.id}")
    except AnchorInputError:
        return row, None


def _witness(
    anchor: ParsedCheckpoint,
    anchors: Sequence[ParsedCheckpoint],
    stored: Sequence[tuple[StoredCheckpoint, ParsedCheckpoint]],
    roots: dict[int, bytes],
) -> ParsedCheckpoint | None:
    """Another validly signed checkpoint that matches the database (the other side of a fork)."""
    candidates = [p for _, p in stored] + [a for a in anchors if a is not anchor]
    candidates.sort(key=lambda p: -p.size)
    for other in candidates:
        if roots.get(other.size) == other.root:
            return other
    return None


def _fork_detail(
    checkpointer: Checkpointer, first: ParsedCheckpoint, other: ParsedCheckpoint
) -> str:
    old, new = (first, other) if first.size <= other.size else (other, first)
    if old.size == new.size:
        return f"at the same size {old.size} (two different roots)"
    try:
        proof = checkpointer.consistency_proof(old.size, new.size)
        verify_consistency(old.size, new.size, proof, old.root, new.root)
    except (ProofError, MerkleStoreError, ValueError) as e:
        return f"(the consistency proof from size {old.size} to {new.size} fails: {e})"
    return f"between sizes {old.size} and {new.size}"  # pragma: no cover - cannot verify


def _fail(report: AnchorReport, kind: str, message: str) -> AnchorReport:
    report.ok = False
    report.kind = kind
    report.message = message
    report.anchored = False
    return report
