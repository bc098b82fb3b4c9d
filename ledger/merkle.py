"""RFC 9162 Merkle tree: hashing, an incremental node-store-backed tree, proofs and verification.

Hashing (RFC 9162 §2.1.1): ``leaf = SHA-256(0x00 ‖ data)``, ``node = SHA-256(0x01 ‖ left ‖ right)``,
and the root of the empty tree is ``SHA-256("")``.

Node addressing: the node ``(level, index)`` is the root of the *perfect* subtree over the leaves
``[index * 2**level, (index + 1) * 2**level)``; level 0 holds the leaf hashes. Only perfect subtrees
are ever stored. They never change once written, so a tree of size ``n`` contains exactly the
perfect nodes of every older size, and the root of any older size, or any proof, is assembled from
O(log n) stored nodes (see :func:`range_node_ids`).

Verification follows RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency) literally, with the
proof length checked first for a clearer error. Verification functions return ``None`` on success
and raise a subclass of :class:`ProofError` otherwise; they never return ``False``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "DictNodeStore",
    "MalformedProofError",
    "MerkleStoreError",
    "MerkleTree",
    "Node",
    "NodeId",
    "NodeStore",
    "ProofError",
    "ProofRangeError",
    "RootMismatchError",
    "consistency_proof_length",
    "hash_children",
    "hash_leaf",
    "inclusion_proof_length",
    "range_node_ids",
    "root_from_compact_range",
    "root_from_consistency_proof",
    "root_from_inclusion_proof",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE: Final = 32
_LEAF_PREFIX: Final = b"\x00"
_NODE_PREFIX: Final = b"\x01"
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()

NodeId = tuple[int, int]
"""``(level, index)`` of a perfect subtree."""

Node = tuple[int, int, bytes]
"""``(level, index, hash)`` of a perfect subtree, as written to a :class:`NodeStore`."""


def hash_leaf(data: bytes) -> bytes:
    """RFC 9162 leaf hash: ``SHA-256(0x00 ‖ data)``."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: ``SHA-256(0x01 ‖ left ‖ right)``."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


# --------------------------------------------------------------------------------------------
# Errors


class ProofError(Exception):
    """A proof did not verify. Subclasses say why."""


class ProofRangeError(ProofError):
    """The index or tree sizes are out of range (index >= size, old size > new size, size 0...)."""


class MalformedProofError(ProofError):
    """The proof has the wrong number of elements, or an element / leaf hash of the wrong length."""


class RootMismatchError(ProofError):
    """The root hash recomputed from the proof differs from the expected one."""

    def __init__(self, size: int, computed: bytes, expected: bytes) -> None:
        self.size = size
        self.computed = computed
        self.expected = expected
        super().__init__(
            f"root hash mismatch at tree size {size}: "
            f"computed {computed.hex()}, expected {expected.hex()}"
        )


class MerkleStoreError(RuntimeError):
    """The node store is inconsistent: a node is missing, or an attempt to change a stored node."""


# --------------------------------------------------------------------------------------------
# Stateless helpers


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


def _check_hash(what: str, value: bytes) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        length = len(value) if isinstance(value, bytes | bytearray) else type(value).__name__
        raise MalformedProofError(f"{what} must be {HASH_SIZE} bytes, got {length}")


def _split_point(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``), RFC 9162's ``k``."""
    return 1 << ((n - 1).bit_length() - 1)


def range_node_ids(begin: int, end: int) -> list[NodeId]:
    """The minimal list of perfect subtrees covering leaves ``[begin, end)``, left to right.

    For ``begin == 0`` these are the "right border" of the tree of size ``end``: one node per set
    bit of ``end``, largest first. Folding their hashes with :func:`root_from_compact_range` gives
    the RFC 9162 root whenever ``[begin, end)`` is a subtree of the RFC 9162 recursion.
    """
    _check_count("begin", begin)
    _check_count("end", end)
    if begin > end:
        raise ValueError(f"range [{begin}, {end}) is reversed")
    ids: list[NodeId] = []
    while begin < end:
        # Largest aligned block starting at `begin` that fits in [begin, end).
        level = (begin & -begin).bit_length() - 1 if begin else (end - begin).bit_length() - 1
        while 1 << level > end - begin:
            level -= 1
        ids.append((level, begin >> level))
        begin += 1 << level
    return ids


def root_from_compact_range(hashes: Sequence[bytes]) -> bytes:
    """Fold the hashes of a compact range (perfect subtrees, left to right) into one root.

    The empty sequence gives :data:`EMPTY_ROOT`.
    """
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = hash_children(left, result)
    return result


@dataclass(frozen=True, slots=True)
class CompactRange:
    """The right border of a tree of ``size`` leaves: the hashes of ``range_node_ids(0, size)``.

    Immutable. ``append`` returns the new range and the perfect nodes the append completed, so a
    root can be maintained in O(log n) memory while streaming leaves (e.g. in a verifier).
    """

    size: int = 0
    hashes: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        _check_count("size", self.size)
        if len(self.hashes) != self.size.bit_count():
            raise ValueError(
                f"a compact range of size {self.size} has {self.size.bit_count()} hashes, "
                f"got {len(self.hashes)}"
            )

    def append(self, leaf_hash: bytes) -> tuple[CompactRange, list[Node]]:
        """Append one leaf hash; return the new range and the nodes to store (leaf first)."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes, got {len(leaf_hash)}")
        index = self.size
        level = 0
        current = bytes(leaf_hash)
        new_nodes: list[Node] = [(0, index, current)]
        hashes = list(self.hashes)
        while index & 1:
            current = hash_children(hashes.pop(), current)
            level += 1
            index >>= 1
            new_nodes.append((level, index, current))
        hashes.append(current)
        return CompactRange(self.size + 1, tuple(hashes)), new_nodes

    def root(self) -> bytes:
        return root_from_compact_range(self.hashes)


def root_from_leaf_hashes(leaf_hashes: Iterable[bytes]) -> bytes:
    """Root of the tree over ``leaf_hashes`` in O(n) time and O(log n) memory."""
    compact = CompactRange()
    for leaf_hash in leaf_hashes:
        compact, _ = compact.append(leaf_hash)
    return compact.root()


def inclusion_proof_length(index: int, size: int) -> int:
    """Number of hashes in the inclusion proof of leaf ``index`` in a tree of ``size`` leaves."""
    _check_count("index", index)
    _check_count("size", size)
    if index >= size:
        raise ProofRangeError(f"leaf index {index} is not below tree size {size}")
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner + border


def consistency_proof_length(old_size: int, new_size: int) -> int:
    """Number of hashes in the consistency proof between sizes ``0 < old_size <= new_size``."""
    _check_count("old_size", old_size)
    _check_count("new_size", new_size)
    if old_size == 0 or old_size > new_size:
        raise ProofRangeError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size == new_size:
        return 0
    shift = (old_size & -old_size).bit_length() - 1
    inner = ((old_size - 1) ^ (new_size - 1)).bit_length() - shift
    border = ((old_size - 1) >> (inner + shift)).bit_count()
    seed = 0 if old_size == 1 << shift else 1
    return seed + inner + border


# --------------------------------------------------------------------------------------------
# Verification (RFC 9162 §2.1.3.2 and §2.1.4.2)


def root_from_inclusion_proof(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes:
    """Recompute the root of the tree of ``size`` from an inclusion proof (RFC 9162 §2.1.3.2).

    Raises :class:`ProofRangeError` if ``index >= size`` and :class:`MalformedProofError` if the
    leaf hash or a proof element is not 32 bytes or the proof has the wrong length.
    """
    _check_count("index", index)
    _check_count("size", size)
    if index >= size:
        raise ProofRangeError(f"leaf index {index} is not below tree size {size}")
    _check_hash("leaf hash", leaf_hash)
    for position, element in enumerate(proof):
        _check_hash(f"inclusion proof element {position}", element)
    expected = inclusion_proof_length(index, size)
    if len(proof) != expected:
        raise MalformedProofError(
            f"inclusion proof for leaf {index} in tree size {size} must have {expected} "
            f"hashes, got {len(proof)}"
        )
    fn, sn, result = index, size - 1, bytes(leaf_hash)
    for element in proof:
        if sn == 0:
            raise MalformedProofError("inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            result = hash_children(element, result)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            result = hash_children(result, element)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise MalformedProofError("inclusion proof is shorter than the path to the root")
    return result


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Verify that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` whose root is ``root``.

    Returns ``None`` on success; raises a :class:`ProofError` subclass otherwise.
    """
    computed = root_from_inclusion_proof(index, size, leaf_hash, proof)
    if computed != root:
        raise RootMismatchError(size, computed, root)


def root_from_consistency_proof(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes
) -> bytes:
    """Check a consistency proof against ``old_root`` and return the root it implies for
    ``new_size`` (RFC 9162 §2.1.4.2). Requires ``0 < old_size <= new_size``.

    A proof from size 0 is rejected: every tree extends the empty tree, so it proves nothing.
    """
    _check_count("old_size", old_size)
    _check_count("new_size", new_size)
    if old_size > new_size:
        raise ProofRangeError(f"old tree size {old_size} is larger than new tree size {new_size}")
    if old_size == 0:
        raise ProofRangeError("a consistency proof from the empty tree (size 0) is meaningless")
    if old_size == new_size:
        if proof:
            raise MalformedProofError(
                f"consistency proof between equal sizes must be empty, got {len(proof)} hashes"
            )
        return old_root
    if not proof:
        raise MalformedProofError(f"empty consistency proof from size {old_size} to {new_size}")
    for position, element in enumerate(proof):
        _check_hash(f"consistency proof element {position}", element)
    expected = consistency_proof_length(old_size, new_size)
    if len(proof) != expected:
        raise MalformedProofError(
            f"consistency proof from size {old_size} to {new_size} must have {expected} "
            f"hashes, got {len(proof)}"
        )
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # old_size is a power of two: its root is the seed
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    old_result = new_result = path[0]
    for element in path[1:]:
        if sn == 0:
            raise MalformedProofError("consistency proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            old_result = hash_children(element, old_result)
            new_result = hash_children(element, new_result)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            new_result = hash_children(new_result, element)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise MalformedProofError("consistency proof is shorter than the path to the root")
    if old_result != old_root:
        raise RootMismatchError(old_size, old_result, old_root)
    return new_result


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Verify that the tree of ``new_size`` with ``new_root`` extends the tree of ``old_size``
    with ``old_root``. Requires ``0 < old_size <= new_size``; for equal sizes the proof must be
    empty and the roots equal.

    Returns ``None`` on success; raises a :class:`ProofError` subclass otherwise.
    """
    computed = root_from_consistency_proof(old_size, new_size, proof, old_root)
    if computed != new_root:
        raise RootMismatchError(new_size, computed, new_root)


# --------------------------------------------------------------------------------------------
# Node store


class NodeStore(Protocol):
    """Persistent storage of perfect-subtree hashes keyed by ``(level, index)``.

    Contract for implementations:

    * ``get`` returns the stored hash or ``None``.
    * ``put_many`` stores all the given nodes atomically (all or none). Nodes are immutable:
      writing the same hash again is a no-op, writing a *different* hash for an existing
      ``(level, index)`` must raise (:class:`MerkleStoreError` preferably).
    """

    def get(self, level: int, index: int) -> bytes | None: ...

    def put_many(self, nodes: Iterable[Node]) -> None: ...


class DictNodeStore:
    """In-memory :class:`NodeStore`."""

    def __init__(self) -> None:
        self._nodes: dict[NodeId, bytes] = {}

    def get(self, level: int, index: int) -> bytes | None:
        return self._nodes.get((level, index))

    def put_many(self, nodes: Iterable[Node]) -> None:
        batch: dict[NodeId, bytes] = {}
        for level, index, value in nodes:
            key = (level, index)
            existing = self._nodes.get(key, batch.get(key))
            if existing is not None and existing != value:
                raise MerkleStoreError(f"refusing to overwrite stored node {key} with a new hash")
            batch[key] = bytes(value)
        self._nodes.update(batch)

    def __len__(self) -> int:
        return len(self._nodes)


# --------------------------------------------------------------------------------------------
# Incremental tree


class MerkleTree:
    """An append-only RFC 9162 tree over a :class:`NodeStore`.

    * ``append`` / ``append_leaf_hash`` write O(log n) nodes (1 + the number of trailing one bits
      of the old size; 2 on average) in one ``put_many`` and read nothing: the right border is
      kept in memory.
    * ``root(size)``, ``inclusion_proof(index, size)`` and ``consistency_proof(old, new)`` for any
      size up to the current one read O(log n) nodes and never the leaves as a whole.

    ``size`` tells the tree how many leaves the store already holds (e.g. the number of ledger
    records); opening reads the popcount(size) border nodes. One instance must be the only writer
    of its store; instances are not thread-safe.
    """

    def __init__(self, store: NodeStore, size: int = 0) -> None:
        _check_count("size", size)
        self._store = store
        ids = range_node_ids(0, size)
        self._range = CompactRange(size, tuple(self._fetch(ids)))

    @property
    def size(self) -> int:
        return self._range.size

    # -- writing ------------------------------------------------------------------------------

    def append(self, data: bytes) -> int:
        """Append a leaf whose *data* is hashed with :func:`hash_leaf`; return its index."""
        return self.append_leaf_hash(hash_leaf(data))

    def append_leaf_hash(self, leaf_hash: bytes) -> int:
        """Append an already-hashed leaf; return its index."""
        new_range, nodes = self._range.append(leaf_hash)
        self._store.put_many(nodes)
        index = self._range.size
        self._range = new_range
        return index

    def extend(self, leaf_hashes: Iterable[bytes]) -> int:
        """Append several leaf hashes with a single ``put_many``; return the new size."""
        new_range = self._range
        nodes: list[Node] = []
        for leaf_hash in leaf_hashes:
            new_range, added = new_range.append(leaf_hash)
            nodes.extend(added)
        if nodes:
            self._store.put_many(nodes)
        self._range = new_range
        return new_range.size

    # -- reading ------------------------------------------------------------------------------

    def leaf_hash(self, index: int) -> bytes:
        self._check_index(index, self.size)
        return self._fetch([(0, index)])[0]

    def root(self, size: int | None = None) -> bytes:
        """Root hash of the tree at ``size`` (default: the current size)."""
        size = self._resolve_size(size)
        if size == self.size:
            return self._range.root()
        return root_from_compact_range(self._fetch(range_node_ids(0, size)))

    def compact_range(self, size: int | None = None) -> CompactRange:
        """The right border of the tree at ``size`` (default: current), e.g. to resume hashing."""
        size = self._resolve_size(size)
        if size == self.size:
            return self._range
        return CompactRange(size, tuple(self._fetch(range_node_ids(0, size))))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.3.1 ``PATH(index, D[0:size])``, lowest node first."""
        size = self._resolve_size(size)
        self._check_index(index, size)
        ranges: list[tuple[int, int]] = []
        begin, end = 0, size
        while end - begin > 1:
            split = begin + _split_point(end - begin)
            if index < split:
                ranges.append((split, end))
                end = split
            else:
                ranges.append((begin, split))
                begin = split
        ranges.reverse()
        return self._range_hashes(ranges)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.4.1 ``PROOF(old_size, D[0:new_size])``; ``0 < old_size <= new_size``."""
        new_size = self._resolve_size(new_size)
        _check_count("old_size", old_size)
        if old_size == 0 or old_size > new_size:
            raise ValueError(
                f"no consistency proof from size {old_size} to size {new_size} "
                "(need 0 < old_size <= new_size)"
            )
        ranges: list[tuple[int, int]] = []
        begin, end, remaining, complete = 0, new_size, old_size, True
        while remaining != end - begin:
            split = begin + _split_point(end - begin)
            if remaining <= split - begin:
                ranges.append((split, end))
                end = split
            else:
                ranges.append((begin, split))
                remaining -= split - begin
                begin = split
                complete = False
        if not complete:
            ranges.append((begin, end))
        ranges.reverse()
        return self._range_hashes(ranges)

    # -- internals ----------------------------------------------------------------------------

    def _resolve_size(self, size: int | None) -> int:
        if size is None:
            return self.size
        _check_count("size", size)
        if size > self.size:
            raise ValueError(f"tree size {size} is beyond the current size {self.size}")
        return size

    @staticmethod
    def _check_index(index: int, size: int) -> None:
        _check_count("index", index)
        if index >= size:
            raise ValueError(f"leaf index {index} is not below tree size {size}")

    def _fetch(self, ids: Sequence[NodeId]) -> list[bytes]:
        hashes: list[bytes] = []
        for level, index in ids:
            value = self._store.get(level, index)
            if value is None:
                raise MerkleStoreError(f"node (level={level}, index={index}) missing from store")
            hashes.append(value)
        return hashes

    def _range_hashes(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        id_lists = [range_node_ids(begin, end) for begin, end in ranges]
        fetched = iter(self._fetch([node_id for ids in id_lists for node_id in ids]))
        return [root_from_compact_range([next(fetched) for _ in ids]) for ids in id_lists]
