"""Merkle tree and checkpoint micro-benchmark.

``run(n)`` builds an in-memory (``DictNodeStore``) tree of ``n`` leaves and reports rates per
second and times in seconds. Usage: ``python -m bench.merkle_bench 100000``.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable

from ledger.checkpoint import Checkpoint, ledger_origin, open_checkpoint, sign_checkpoint
from ledger.merkle import DictNodeStore, MerkleTree, verify_consistency, verify_inclusion
from ledger.signed_note import Signer

_SAMPLES = 2000


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def run(n: int, *, seed: int = 2024) -> dict[str, float]:
    """Benchmark a tree of ``n`` leaves. Keys ending in ``_per_s`` are rates, ``_s`` seconds."""
    if n < 2:
        raise ValueError("n must be at least 2")
    rng = random.Random(seed)
    store = DictNodeStore()
    tree = MerkleTree(store)
    records = [b"caleol event %d" % i for i in range(n)]

    start = time.perf_counter()
    for record in records:
        tree.append(record)
    append_s = time.perf_counter() - start

    samples = min(_SAMPLES, n)
    indexes = [rng.randrange(n) for _ in range(samples)]
    start = time.perf_counter()
    proofs = [tree.inclusion_proof(index, n) for index in indexes]
    inclusion_gen_s = time.perf_counter() - start

    root = tree.root()
    leaves = [tree.leaf_hash(index) for index in indexes]
    start = time.perf_counter()
    for index, leaf, proof in zip(indexes, leaves, proofs, strict=True):
        verify_inclusion(index, n, leaf, proof, root)
    inclusion_verify_s = time.perf_counter() - start

    olds = [rng.randrange(1, n) for _ in range(samples)]
    start = time.perf_counter()
    consistency = [tree.consistency_proof(old, n) for old in olds]
    consistency_gen_s = time.perf_counter() - start
    old_roots = [tree.root(old) for old in olds]
    start = time.perf_counter()
    for old, old_root, proof in zip(olds, old_roots, consistency, strict=True):
        verify_consistency(old, n, proof, old_root, root)
    consistency_verify_s = time.perf_counter() - start

    historical = rng.randrange(1, n)
    origin = ledger_origin("bench")
    signer = Signer.from_seed(origin, bytes(range(32)))
    checkpoint = Checkpoint(origin, n, root)
    note = sign_checkpoint(checkpoint, [signer])

    return {
        "leaves": float(n),
        "stored_nodes": float(len(store)),
        "append_per_s": n / append_s,
        "inclusion_proof_per_s": samples / inclusion_gen_s,
        "inclusion_verify_per_s": samples / inclusion_verify_s,
        "consistency_proof_per_s": samples / consistency_gen_s,
        "consistency_verify_per_s": samples / consistency_verify_s,
        "root_current_s": _timed(tree.root),
        "root_historical_s": _timed(lambda: tree.root(historical)),
        "reopen_s": _timed(lambda: MerkleTree(store, size=n)),
        "checkpoint_sign_s": _timed(
            lambda: sign_checkpoint(Checkpoint(origin, n, tree.root()), [signer])
        ),
        "checkpoint_verify_s": _timed(
            lambda: open_checkpoint(note, origin=origin, log_verifier=signer.verifier)
        ),
    }


def suite(quick: bool) -> dict[str, float]:
    """For ``python -m bench``: `run` on 1,000,000 leaves (about 6 s and 0.5 GB here), so the
    checkpoint figures are at 1M; 10,000 if quick. Keys prefixed ``merkle_``."""
    n = 10_000 if quick else 1_000_000
    return {f"merkle_{key}": value for key, value in run(n).items()}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    n = int(args[0]) if args else 100_000
    print(json.dumps(run(n), indent=2))


if __name__ == "__main__":
    main()
