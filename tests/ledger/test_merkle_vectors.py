"""RFC 6962/9162 public vectors (transparency-dev/merkle) against ledger.merkle.

The test data lives outside the repository, in ``../shared/testdata`` (or ``$CALEOL_TESTDATA``).
A missing directory is a failure, never a skip.
"""

from __future__ import annotations

import base64
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from ledger.merkle import (
    EMPTY_ROOT,
    DictNodeStore,
    MerkleTree,
    ProofError,
    hash_leaf,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)


def _testdata_dir() -> Path:
    override = os.environ.get("CALEOL_TESTDATA")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2].parent / "shared" / "testdata"


TESTDATA = _testdata_dir()
MERKLE = TESTDATA / "merkle"


def _vector_files(kind: str) -> list[Path]:
    found = sorted((MERKLE / "testdata" / kind).rglob("*.json"))
    # Never an empty parameter set (pytest would skip it): a missing directory must fail.
    return found or [MERKLE / "testdata" / kind / "missing.json"]


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def _proof(value: list[str] | None) -> list[bytes]:
    return [_b64(item) for item in value or []]


def _case_id(path: Path) -> str:
    return path.relative_to(MERKLE / "testdata").as_posix()


INCLUSION_FILES = _vector_files("inclusion")
CONSISTENCY_FILES = _vector_files("consistency")


@cache
def _roots_json() -> dict[str, Any]:
    return _load(MERKLE / "roots.json")


@cache
def _reference_tree() -> MerkleTree:
    """The 8-leaf tree of roots.json, built incrementally; every happy-path vector lives in it."""
    tree = MerkleTree(DictNodeStore())
    for leaf in _roots_json()["leaf_inputs_hex"]:
        tree.append(bytes.fromhex(leaf))
    return tree


def test_testdata_is_present() -> None:
    assert MERKLE.is_dir(), f"Merkle test vectors not found at {MERKLE} (set CALEOL_TESTDATA)"
    assert (MERKLE / "roots.json").is_file()
    # Counts at transparency-dev/merkle commit 417fb0c: guard against a silently emptied tree.
    assert len(INCLUSION_FILES) >= 80, len(INCLUSION_FILES)
    assert len(CONSISTENCY_FILES) >= 90, len(CONSISTENCY_FILES)
    assert any(not _load(p)["wantErr"] for p in INCLUSION_FILES)
    assert any(_load(p)["wantErr"] for p in CONSISTENCY_FILES)


def test_empty_root() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert MerkleTree(DictNodeStore()).root() == EMPTY_ROOT
    assert root_from_leaf_hashes([]) == EMPTY_ROOT


def test_roots_json_incremental_and_historical() -> None:
    data = _roots_json()
    leaves = [bytes.fromhex(item) for item in data["leaf_inputs_hex"]]
    expected = [bytes.fromhex(item) for item in data["root_hashes_hex_by_tree_size_from_1"]]
    assert len(leaves) == len(expected) == 8

    tree = MerkleTree(DictNodeStore())
    for size, leaf in enumerate(leaves, start=1):
        assert tree.append(leaf) == size - 1
        assert tree.root() == expected[size - 1], f"current root at size {size}"
    for size in range(1, 9):
        assert tree.root(size) == expected[size - 1], f"historical root at size {size}"
        hashes = [hash_leaf(leaf) for leaf in leaves[:size]]
        assert root_from_leaf_hashes(hashes) == expected[size - 1]


def test_reopened_tree_matches() -> None:
    data = _roots_json()
    store = DictNodeStore()
    tree = MerkleTree(store)
    for leaf in data["leaf_inputs_hex"][:5]:
        tree.append(bytes.fromhex(leaf))
    reopened = MerkleTree(store, size=5)
    for leaf in data["leaf_inputs_hex"][5:]:
        reopened.append(bytes.fromhex(leaf))
    assert reopened.root().hex() == data["root_hashes_hex_by_tree_size_from_1"][-1]


@pytest.mark.parametrize("path", INCLUSION_FILES, ids=_case_id)
def test_inclusion_vector(path: Path) -> None:
    case = _load(path)
    index, size = case["leafIdx"], case["treeSize"]
    leaf_hash, root, proof = _b64(case["leafHash"]), _b64(case["root"]), _proof(case["proof"])
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf_hash, proof, root)
        return
    verify_inclusion(index, size, leaf_hash, proof, root)
    tree = _reference_tree()
    if size <= tree.size and tree.root(size) == root:
        assert tree.leaf_hash(index) == leaf_hash
        assert tree.inclusion_proof(index, size) == proof, "generated proof differs from vector"


@pytest.mark.parametrize("path", CONSISTENCY_FILES, ids=_case_id)
def test_consistency_vector(path: Path) -> None:
    case = _load(path)
    size1, size2 = case["size1"], case["size2"]
    root1, root2, proof = _b64(case["root1"]), _b64(case["root2"]), _proof(case["proof"])
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, proof, root1, root2)
        return
    verify_consistency(size1, size2, proof, root1, root2)
    tree = _reference_tree()
    if size2 <= tree.size and tree.root(size1) == root1 and tree.root(size2) == root2:
        assert tree.consistency_proof(size1, size2) == proof, "generated proof differs"


def test_every_happy_path_is_reproduced_by_generation() -> None:
    """All happy-path vectors under <n>/ come from the roots.json tree: generation must match."""
    tree = _reference_tree()
    checked = 0
    for path in INCLUSION_FILES:
        case = _load(path)
        if path.name == "happy-path.json":
            size = case["treeSize"]
            assert tree.root(size) == _b64(case["root"])
            assert tree.inclusion_proof(case["leafIdx"], size) == _proof(case["proof"])
            checked += 1
    for path in CONSISTENCY_FILES:
        case = _load(path)
        if path.name == "happy-path.json":
            proof = tree.consistency_proof(case["size1"], case["size2"])
            assert proof == _proof(case["proof"])
            checked += 1
    assert checked == 10
