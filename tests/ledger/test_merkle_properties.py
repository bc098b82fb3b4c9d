"""Property tests of ledger.merkle against a brute-force reference written from RFC 9162 §2.1.

The reference below follows the recursive definitions (MTH, PATH, PROOF/SUBPROOF) literally and
shares no code with the implementation except the two hash functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    DictNodeStore,
    MalformedProofError,
    MerkleStoreError,
    MerkleTree,
    Node,
    ProofError,
    ProofRangeError,
    RootMismatchError,
    consistency_proof_length,
    hash_children,
    hash_leaf,
    inclusion_proof_length,
    range_node_ids,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

MAX_SIZE = 300
LEAVES = [f"leaf {i}".encode() for i in range(MAX_SIZE)]  # distinct leaves
LEAF_HASHES = [hash_leaf(leaf) for leaf in LEAVES]
SETTINGS = settings(max_examples=150, deadline=None)


# --------------------------------------------------------------------------------------------
# Reference (RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1), over LEAF_HASHES[lo:hi]


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@cache
def ref_mth(lo: int, hi: int) -> bytes:
    n = hi - lo
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return LEAF_HASHES[lo]
    k = _k(n)
    return hash_children(ref_mth(lo, lo + k), ref_mth(lo + k, hi))


def ref_path(m: int, lo: int, hi: int) -> list[bytes]:
    n = hi - lo
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*ref_path(m, lo, lo + k), ref_mth(lo + k, hi)]
    return [*ref_path(m - k, lo + k, hi), ref_mth(lo, lo + k)]


def ref_subproof(m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
    n = hi - lo
    if m == n:
        return [] if complete else [ref_mth(lo, hi)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, lo, lo + k, complete), ref_mth(lo + k, hi)]
    return [*ref_subproof(m - k, lo + k, hi, False), ref_mth(lo, lo + k)]


def ref_root_from_path(m: int, n: int, leaf: bytes, proof: list[bytes]) -> bytes | None:
    """Root implied by ``proof`` read as PATH(m, D[n]); None if it cannot be such a path."""
    if not 0 <= m < n:
        return None
    if n == 1:
        return None if proof else leaf
    if not proof:
        return None
    k = _k(n)
    *rest, last = proof
    if m < k:
        sub = ref_root_from_path(m, k, leaf, rest)
        return None if sub is None else hash_children(sub, last)
    sub = ref_root_from_path(m - k, n - k, leaf, rest)
    return None if sub is None else hash_children(last, sub)


def ref_consistency_roots(
    m: int, n: int, proof: list[bytes], old_root: bytes, complete: bool = True
) -> tuple[bytes, bytes] | None:
    """(old root, new root) implied by ``proof`` read as SUBPROOF(m, D[n], complete)."""
    if m == n:
        if complete:
            return None if proof else (old_root, old_root)
        return (proof[0], proof[0]) if len(proof) == 1 else None
    if not proof:
        return None
    k = _k(n)
    *rest, last = proof
    if m <= k:
        sub = ref_consistency_roots(m, k, rest, old_root, complete)
        return None if sub is None else (sub[0], hash_children(sub[1], last))
    sub = ref_consistency_roots(m - k, n - k, rest, old_root, False)
    return None if sub is None else (hash_children(last, sub[0]), hash_children(last, sub[1]))


def ref_verify_inclusion(m: int, n: int, leaf: bytes, proof: list[bytes], root: bytes) -> bool:
    if len(leaf) != 32 or any(len(p) != 32 for p in proof):
        return False
    return ref_root_from_path(m, n, leaf, proof) == root


def ref_verify_consistency(
    m: int, n: int, proof: list[bytes], old_root: bytes, new_root: bytes
) -> bool:
    if not 0 < m <= n or any(len(p) != 32 for p in proof):
        return False
    if m == n:
        return not proof and old_root == new_root
    roots = ref_consistency_roots(m, n, proof, old_root)
    return roots == (old_root, new_root)


def accepts_inclusion(m: int, n: int, leaf: bytes, proof: list[bytes], root: bytes) -> bool:
    try:
        verify_inclusion(m, n, leaf, proof, root)
    except ProofError:
        return False
    return True


def accepts_consistency(m: int, n: int, proof: list[bytes], old: bytes, new: bytes) -> bool:
    try:
        verify_consistency(m, n, proof, old, new)
    except ProofError:
        return False
    return True


# --------------------------------------------------------------------------------------------
# Helpers


class CountingStore(DictNodeStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.writes = 0

    def get(self, level: int, index: int) -> bytes | None:
        self.reads += 1
        return super().get(level, index)

    def put_many(self, nodes: Iterable[Node]) -> None:
        batch = list(nodes)
        self.writes += len(batch)
        super().put_many(batch)


@cache
def full_tree() -> MerkleTree:
    tree = MerkleTree(DictNodeStore())
    for leaf in LEAVES:
        tree.append(leaf)
    return tree


def flip(value: bytes, bit: int) -> bytes:
    bit %= len(value) * 8
    data = bytearray(value)
    data[bit // 8] ^= 1 << (bit % 8)
    return bytes(data)


sizes = st.integers(min_value=1, max_value=MAX_SIZE)


@st.composite
def index_and_size(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(sizes)
    return draw(st.integers(min_value=0, max_value=size - 1)), size


@st.composite
def old_and_new(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(sizes)
    return draw(st.integers(min_value=1, max_value=new)), new


# --------------------------------------------------------------------------------------------
# Roots


def test_incremental_root_equals_brute_force_for_every_size() -> None:
    tree = MerkleTree(DictNodeStore())
    assert tree.root() == EMPTY_ROOT == ref_mth(0, 0)
    for size in range(1, MAX_SIZE + 1):
        tree.append(LEAVES[size - 1])
        assert tree.root() == ref_mth(0, size), size
    for size in range(MAX_SIZE + 1):
        assert tree.root(size) == ref_mth(0, size), size
        assert tree.compact_range(size).root() == ref_mth(0, size)


@SETTINGS
@given(st.lists(st.binary(max_size=40), max_size=70))
def test_arbitrary_leaves_incremental_extend_and_streaming_agree(leaves: list[bytes]) -> None:
    hashes = [hash_leaf(leaf) for leaf in leaves]

    def mth(items: list[bytes]) -> bytes:
        if not items:
            return EMPTY_ROOT
        if len(items) == 1:
            return items[0]
        k = _k(len(items))
        return hash_children(mth(items[:k]), mth(items[k:]))

    one_by_one = MerkleTree(DictNodeStore())
    for leaf in leaves:
        one_by_one.append(leaf)
    batched = MerkleTree(DictNodeStore())
    assert batched.extend(hashes) == len(leaves)
    expected = mth(hashes)
    assert one_by_one.root() == batched.root() == root_from_leaf_hashes(hashes) == expected
    for size in range(len(leaves) + 1):
        assert one_by_one.root(size) == mth(hashes[:size])


@SETTINGS
@given(st.integers(min_value=0, max_value=2000), st.integers(min_value=0, max_value=2000))
def test_range_node_ids_tile_the_range(a: int, b: int) -> None:
    begin, end = min(a, b), max(a, b)
    position = begin
    for level, index in range_node_ids(begin, end):
        assert index << level == position
        position += 1 << level
    assert position == end
    assert len(range_node_ids(0, end)) == end.bit_count()


# --------------------------------------------------------------------------------------------
# Inclusion


@SETTINGS
@given(index_and_size())
def test_inclusion_proof_is_rfc_path_and_verifies(case: tuple[int, int]) -> None:
    index, size = case
    tree = full_tree()
    proof = tree.inclusion_proof(index, size)
    assert proof == ref_path(index, 0, size)
    assert len(proof) == inclusion_proof_length(index, size)
    verify_inclusion(index, size, LEAF_HASHES[index], proof, ref_mth(0, size))
    assert ref_verify_inclusion(index, size, LEAF_HASHES[index], proof, ref_mth(0, size))


@SETTINGS
@given(index_and_size(), st.data())
def test_any_single_change_breaks_inclusion(case: tuple[int, int], data: st.DataObject) -> None:
    index, size = case
    tree = full_tree()
    leaf, root = LEAF_HASHES[index], ref_mth(0, size)
    proof = tree.inclusion_proof(index, size)
    bit = data.draw(st.integers(min_value=0, max_value=255), label="bit")

    with pytest.raises(RootMismatchError):
        verify_inclusion(index, size, flip(leaf, bit), proof, root)
    with pytest.raises(RootMismatchError):
        verify_inclusion(index, size, leaf, proof, flip(root, bit))
    if proof:
        at = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="element")
        changed = [*proof[:at], flip(proof[at], bit), *proof[at + 1 :]]
        with pytest.raises(RootMismatchError):
            verify_inclusion(index, size, leaf, changed, root)
        with pytest.raises(MalformedProofError):
            verify_inclusion(index, size, leaf, proof[:at] + proof[at + 1 :], root)
    at = data.draw(st.integers(min_value=0, max_value=len(proof)), label="insert at")
    extra = data.draw(st.sampled_from([*proof, leaf, root, bytes(32)]), label="extra")
    with pytest.raises(MalformedProofError):
        verify_inclusion(index, size, leaf, [*proof[:at], extra, *proof[at:]], root)

    # A different index is always rejected (leaves are distinct).
    other = data.draw(st.integers(min_value=0, max_value=2 * size + 2), label="other index")
    if other != index:
        with pytest.raises(ProofError):
            verify_inclusion(other, size, leaf, proof, root)

    # A different size is rejected exactly when RFC 9162 rejects it. Inclusion proofs do not
    # bind the tree size when the path has the same shape (e.g. leaf 0 in sizes 3 and 4): the
    # size is bound by the signed checkpoint, not by the proof.
    other = data.draw(st.integers(min_value=0, max_value=2 * size + 2), label="other size")
    if other != size:
        expected = ref_verify_inclusion(index, other, leaf, proof, root)
        assert accepts_inclusion(index, other, leaf, proof, root) == expected


def test_exhaustive_small_trees_agree_with_reference() -> None:
    """Every (index, size, claimed size) and (old, new, claimed sizes) up to 16 leaves."""
    tree = full_tree()
    for size in range(1, 17):
        root = ref_mth(0, size)
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            for claimed in range(0, 2 * size + 2):
                for claimed_index in (index, (index + 1) % size):
                    args = (claimed_index, claimed, LEAF_HASHES[index], proof, root)
                    assert accepts_inclusion(*args) == ref_verify_inclusion(*args), args
        for old in range(1, size + 1):
            proof = tree.consistency_proof(old, size)
            roots = (ref_mth(0, old), root)
            for claimed_old in range(0, size + 2):
                sizes = (claimed_old, size)
                accepted = accepts_consistency(*sizes, proof, *roots)
                assert accepted == ref_verify_consistency(*sizes, proof, *roots), sizes
            for claimed_new in range(0, 2 * size + 2):
                sizes = (old, claimed_new)
                accepted = accepts_consistency(*sizes, proof, *roots)
                assert accepted == ref_verify_consistency(*sizes, proof, *roots), sizes


def test_inclusion_rejects_out_of_range_and_bad_lengths() -> None:
    tree = full_tree()
    proof = tree.inclusion_proof(3, 10)
    root = ref_mth(0, 10)
    with pytest.raises(ProofRangeError):
        verify_inclusion(10, 10, LEAF_HASHES[3], proof, root)
    with pytest.raises(ProofRangeError):
        verify_inclusion(0, 0, LEAF_HASHES[0], [], EMPTY_ROOT)
    with pytest.raises(MalformedProofError):
        verify_inclusion(3, 10, LEAF_HASHES[3][:31], proof, root)
    with pytest.raises(MalformedProofError):
        verify_inclusion(3, 10, LEAF_HASHES[3], [*proof[:-1], proof[-1] + b"\x00"], root)
    with pytest.raises(ValueError):
        verify_inclusion(-1, 10, LEAF_HASHES[3], proof, root)
    with pytest.raises(ValueError):
        tree.inclusion_proof(10, 10)
    with pytest.raises(ValueError):
        tree.inclusion_proof(0, MAX_SIZE + 1)


# --------------------------------------------------------------------------------------------
# Consistency


@SETTINGS
@given(old_and_new())
def test_consistency_proof_is_rfc_proof_and_verifies(case: tuple[int, int]) -> None:
    old, new = case
    proof = full_tree().consistency_proof(old, new)
    assert proof == ref_subproof(old, 0, new, True)
    assert len(proof) == consistency_proof_length(old, new)
    verify_consistency(old, new, proof, ref_mth(0, old), ref_mth(0, new))
    assert ref_verify_consistency(old, new, proof, ref_mth(0, old), ref_mth(0, new))


@SETTINGS
@given(old_and_new(), st.data())
def test_any_single_change_breaks_consistency(case: tuple[int, int], data: st.DataObject) -> None:
    old, new = case
    proof = full_tree().consistency_proof(old, new)
    old_root, new_root = ref_mth(0, old), ref_mth(0, new)
    bit = data.draw(st.integers(min_value=0, max_value=255), label="bit")

    with pytest.raises(RootMismatchError):
        verify_consistency(old, new, proof, flip(old_root, bit), new_root)
    with pytest.raises(RootMismatchError):
        verify_consistency(old, new, proof, old_root, flip(new_root, bit))
    if proof:
        at = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="element")
        changed = [*proof[:at], flip(proof[at], bit), *proof[at + 1 :]]
        with pytest.raises(RootMismatchError):
            verify_consistency(old, new, changed, old_root, new_root)
        with pytest.raises(MalformedProofError):
            verify_consistency(old, new, proof[:at] + proof[at + 1 :], old_root, new_root)
    at = data.draw(st.integers(min_value=0, max_value=len(proof)), label="insert at")
    extra = data.draw(st.sampled_from([*proof, old_root, new_root, bytes(32)]), label="extra")
    with pytest.raises(MalformedProofError):
        verify_consistency(old, new, [*proof[:at], extra, *proof[at:]], old_root, new_root)

    # Changed sizes: rejected exactly when RFC 9162 rejects them (see the inclusion test).
    other_old = data.draw(st.integers(min_value=0, max_value=new + 2), label="other old")
    if other_old != old:
        expected = ref_verify_consistency(other_old, new, proof, old_root, new_root)
        assert accepts_consistency(other_old, new, proof, old_root, new_root) == expected
    other_new = data.draw(st.integers(min_value=0, max_value=2 * new + 2), label="other new")
    if other_new != new:
        expected = ref_verify_consistency(old, other_new, proof, old_root, new_root)
        assert accepts_consistency(old, other_new, proof, old_root, new_root) == expected


def test_consistency_edge_cases() -> None:
    tree = full_tree()
    root5 = ref_mth(0, 5)
    verify_consistency(5, 5, [], root5, root5)
    with pytest.raises(MalformedProofError):
        verify_consistency(5, 5, [root5], root5, root5)
    with pytest.raises(RootMismatchError):
        verify_consistency(5, 5, [], root5, ref_mth(0, 6))
    with pytest.raises(ProofRangeError):
        verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    with pytest.raises(ProofRangeError):
        verify_consistency(0, 5, [], EMPTY_ROOT, root5)
    with pytest.raises(ProofRangeError):
        verify_consistency(6, 5, [], root5, root5)
    with pytest.raises(MalformedProofError):
        verify_consistency(4, 5, [], ref_mth(0, 4), root5)
    assert tree.consistency_proof(7, 7) == []
    with pytest.raises(ValueError):
        tree.consistency_proof(0, 7)
    with pytest.raises(ValueError):
        tree.consistency_proof(8, 7)


# --------------------------------------------------------------------------------------------
# Costs and store safety


def test_append_writes_log_n_nodes_and_reads_none() -> None:
    store = CountingStore()
    tree = MerkleTree(store)
    for size in range(5000):
        before = store.writes
        tree.append(LEAVES[size % MAX_SIZE] + str(size).encode())
        trailing_ones = (~size & (size + 1)).bit_length() - 1
        assert store.writes - before == 1 + trailing_ones
    assert store.reads == 0
    assert len(store) == store.writes == 2 * 5000 - (5000).bit_count()


@SETTINGS
@given(st.integers(min_value=1, max_value=5000), st.data())
def test_queries_read_log_n_nodes(size: int, data: st.DataObject) -> None:
    store = counting_tree_store()
    tree = MerkleTree(store, size=5000)
    bound = 2 * (5000).bit_length() + 2

    store.reads = 0
    tree.root(size)
    assert store.reads == (0 if size == tree.size else size.bit_count())  # border in memory

    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    store.reads = 0
    tree.inclusion_proof(index, size)
    assert store.reads <= bound

    old = data.draw(st.integers(min_value=1, max_value=size))
    store.reads = 0
    tree.consistency_proof(old, size)
    assert store.reads <= bound


@cache
def counting_tree_store() -> CountingStore:
    store = CountingStore()
    MerkleTree(store).extend(hash_leaf(str(i).encode()) for i in range(5000))
    return store


def test_reopening_reads_only_the_border_and_continues() -> None:
    store = CountingStore()
    MerkleTree(store).extend(LEAF_HASHES[:77])
    store.reads = 0
    reopened = MerkleTree(store, size=77)
    assert store.reads == (77).bit_count()
    reopened.extend(LEAF_HASHES[77:200])
    assert reopened.root() == ref_mth(0, 200)


def test_store_refuses_to_rewrite_history() -> None:
    store = DictNodeStore()
    MerkleTree(store).extend(LEAF_HASHES[:10])
    with pytest.raises(MerkleStoreError):
        MerkleTree(store, size=11)  # claims more leaves than stored
    stale = MerkleTree(store, size=8)  # claims fewer: appending would change leaf 8
    with pytest.raises(MerkleStoreError):
        stale.append(b"a different leaf 8")
    assert stale.size == 8  # failed append leaves the tree unchanged
    stale.append_leaf_hash(LEAF_HASHES[8])  # re-writing identical nodes is fine
    assert stale.root() == ref_mth(0, 9)


def test_compact_range_validation() -> None:
    with pytest.raises(ValueError):
        CompactRange(3, (bytes(32),))
    with pytest.raises(ValueError):
        CompactRange().append(b"short")
    compact = CompactRange()
    for leaf_hash in LEAF_HASHES[:13]:
        compact, _ = compact.append(leaf_hash)
    assert compact.size == 13 and compact.root() == ref_mth(0, 13)
