"""Regulator toolkit benchmark: Merkle tree in the database, checkpoints, proofs, bundles.

``suite(quick)`` (keys prefixed ``audit_``; ``_per_s`` rates, ``_s`` seconds):

- the checkpointer catching the database tree up from the entries (leaves per second) and the
  time of a full checkpoint (catch-up from empty + signing) at ``audit_tree_leaves`` leaves
  (1,000,000; 20,000 in quick mode), then of an incremental one (+1,000 leaves) at that size;
- inclusion and consistency proofs served from ``merkle_nodes`` (per second) and verified;
- the same on PostgreSQL (200,000 leaves) when the server is reachable;
- ``verify`` on a real signed ledger (20,000 entries): plain, checking its own checkpoint,
  and against a published checkpoint (``--anchor``); the audit bundle of the demo commission
  (export and offline verification).

Entries for the tree benchmarks are synthesised (valid records, never stored as events): what
is measured is the catch-up, the node store and the proofs, not the event store.
Usage: ``python -m bench.audit_bench [--quick]``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledger.checkpoints import Checkpointer
from ledger.config import open_recorder
from ledger.keys import StaticSigners, signer_from_seed
from ledger.merkle import verify_consistency, verify_inclusion
from ledger.records import LedgerEntry, record_bytes

SEED = bytes(range(32))
SIGNER = signer_from_seed(SEED)
ACTOR = {"id": "staff:bench", "role": "staff", "on_behalf_of": None}
PG = "postgresql://postgres@127.0.0.1:5432/"


class SyntheticReader:
    """A `LedgerReader` whose entries are generated on demand (valid records and hashes)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def select_entries(self, start: int, limit: int) -> list[LedgerEntry]:
        out = []
        for leaf in range(start, min(start + limit, self.size)):
            stream = f"00000000-0000-4000-8000-{leaf // 100:012x}"
            payload = hashlib.sha256(b"%d" % leaf).digest()
            data = record_bytes(
                stream=stream,
                version=leaf % 100 + 1,
                topic="bench:Event",
                recorded_at="2026-12-08T09:00:00.000000Z",
                actor=ACTOR,
                payload_sha256_hex=payload.hex(),
                prev_hex=None,
                leaf=leaf,
                key_id=SIGNER.key_id,
            )
            out.append(
                LedgerEntry(
                    leaf_index=leaf,
                    notification_id=leaf + 1,
                    stream=stream,
                    version=leaf % 100 + 1,
                    topic="bench:Event",
                    recorded_at="2026-12-08T09:00:00.000000Z",
                    actor='{"id":"staff:bench","on_behalf_of":null,"role":"staff"}',
                    payload_sha256=payload,
                    prev_hash=None,
                    key_id=SIGNER.key_id,
                    record_hash=hashlib.sha256(data).digest(),
                    signature=b"\0" * 64,
                    event_stream=None,
                    event_version=None,
                    event_topic=None,
                    state=None,
                )
            )
        return out


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def tree_bench(url: str, leaves: int, prefix: str, samples: int = 2000) -> dict[str, float]:
    factory, recorder = open_recorder(url)
    try:
        reader = SyntheticReader(leaves)
        checkpointer = Checkpointer(
            recorder,
            reader=reader,
            signers=StaticSigners(SIGNER),
            origin="caleol.example/ledger/bench",
            page_size=20000,
        )
        full_s, first = _timed(lambda: checkpointer.issue("periodic"))
        assert first.size == leaves
        reader.size = leaves + 1000
        incremental_s, second = _timed(
            lambda: Checkpointer(
                recorder,
                reader=reader,
                signers=StaticSigners(SIGNER),
                origin="caleol.example/ledger/bench",
            ).issue("periodic")
        )
        size = second.size
        rng = random.Random(5)
        tree = checkpointer.tree(size)
        root = second.root
        indexes = [rng.randrange(size) for _ in range(samples)]
        gen_s, proofs = _timed(lambda: [tree.inclusion_proof(i, size) for i in indexes])
        leaf_hashes = [tree.leaf_hash(i) for i in indexes]

        def verify_all() -> None:
            for i, leaf, proof in zip(indexes, leaf_hashes, proofs, strict=True):
                verify_inclusion(i, size, leaf, proof, root)

        verify_s, _ = _timed(verify_all)
        olds = [rng.randrange(1, size) for _ in range(samples)]
        cgen_s, cproofs = _timed(lambda: [tree.consistency_proof(o, size) for o in olds])
        old_roots = [tree.root(o) for o in olds]

        def cverify_all() -> None:
            for old, old_root, proof in zip(olds, old_roots, cproofs, strict=True):
                verify_consistency(old, size, proof, old_root, root)

        cverify_s, _ = _timed(cverify_all)
        return {
            f"audit_{prefix}_tree_leaves": float(leaves),
            f"audit_{prefix}_catchup_leaves_per_s": leaves / full_s,
            f"audit_{prefix}_checkpoint_full_s": full_s,
            f"audit_{prefix}_checkpoint_incremental_1000_s": incremental_s,
            f"audit_{prefix}_inclusion_proof_per_s": samples / gen_s,
            f"audit_{prefix}_consistency_proof_per_s": samples / cgen_s,
            f"audit_{prefix}_inclusion_verify_per_s": samples / verify_s,
            f"audit_{prefix}_consistency_verify_per_s": samples / cverify_s,
        }
    finally:
        factory.close()


def _pg_server() -> tuple[str, str]:
    """(server URL ending in "/", scratch database name): beside $CALEOL_BENCH_POSTGRES_URL
    when set (its database name + ``_audit``), else on 127.0.0.1 as postgres."""
    url = os.environ.get("CALEOL_BENCH_POSTGRES_URL")
    if url:
        server, _, dbname = url.rpartition("/")
        return server + "/", f"{dbname.split('?')[0]}_audit"
    return PG, f"caleol_audit_bench_{os.getpid()}"


def _pg_database(server: str, name: str, create: bool) -> bool:
    try:
        import psycopg

        with psycopg.connect(server + "postgres", autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if create:
                conn.execute(f'CREATE DATABASE "{name}"')
        return True
    except Exception:
        return False


def ledger_and_bundle_bench(folder: Path, entries: int) -> dict[str, float]:
    """verify --anchor on a real signed ledger; export and verify of the demo's bundle."""
    import random as rnd

    from api.demo import (
        CONVOCATION_FRIDAY,
        SeededIds,
        SimulatedClock,
        demo_lookup_secret,
        paris,
        run_demo,
        seeded_key_source,
    )
    from ledger.application import CaleolApplication
    from ledger.config import environment_for
    from ledger.keys import KeyStore
    from ledger.vault import ApplicantVault, MemoryKeyTable
    from replay.anchor import parse_checkpoint_text, verify_database
    from replay.bundle import build_bundle, verify_bundle

    keys = folder / "keys"
    KeyStore(keys).import_seed(SEED)
    url = f"sqlite:///{folder}/demo.db"
    clock = SimulatedClock(paris(CONVOCATION_FRIDAY, 14))
    vault = ApplicantVault(MemoryKeyTable(), demo_lookup_secret(1), seeded_key_source(1))
    app = CaleolApplication(
        env=environment_for(url, key_dir=keys),
        clock=clock,
        ids=SeededIds(rnd.Random(1)),
        vault=vault,
    )
    result = run_demo(app, clock, seed=1)
    export_s, (data, _) = _timed(lambda: build_bundle(app, result.commission_id))
    verify_s, report = _timed(lambda: verify_bundle(data))
    assert report.ok, report.message
    app.close()

    # A bigger signed ledger: notes edited in batches, then verify with and without anchor.
    from bench.ledger_bench import ACTOR as BENCH_ACTOR
    from bench.ledger_bench import BenchApp, BenchNote

    ledger_url = f"sqlite:///{folder}/ledger.db"
    env = environment_for(ledger_url, key_dir=keys)
    bench_app = BenchApp(env=env)
    notes = [BenchNote(title=f"n{i}", actor=BENCH_ACTOR) for i in range(50)]
    bench_app.save(*notes)
    for j in range(entries // 50):
        for note in notes:
            note.edit(line=str(j), ranking=["a"], amount_cents=j, actor=BENCH_ACTOR)
        bench_app.save(*notes)
    checkpointer = Checkpointer(bench_app.recorder)
    published = parse_checkpoint_text(checkpointer.issue("periodic").note, "bench")
    total = bench_app.recorder.count_entries()
    from ledger.verify import verify_ledger

    baseline_s, _ = _timed(lambda: verify_ledger(bench_app.recorder))
    plain_s, _ = _timed(lambda: verify_database(bench_app.recorder, [], workers=None))
    anchored_s, anchored = _timed(
        lambda: verify_database(bench_app.recorder, [published], workers=None)
    )
    assert anchored.ok, anchored.message
    bench_app.close()
    return {
        "audit_bundle_commission_events": float(result.events),
        "audit_bundle_export_s": export_s,
        "audit_bundle_verify_s": verify_s,
        "audit_bundle_bytes": float(len(data)),
        "audit_verify_entries": float(total),
        "audit_verify_without_checkpoints_per_s": total / baseline_s,
        "audit_verify_with_own_checkpoint_per_s": total / plain_s,
        "audit_verify_anchored_per_s": total / anchored_s,
    }


def suite(quick: bool) -> dict[str, float]:
    leaves = 20_000 if quick else 1_000_000
    pg_leaves = 5_000 if quick else 200_000
    results: dict[str, float] = {}
    folder = Path(tempfile.mkdtemp(prefix="caleol-audit-bench-"))
    try:
        results.update(tree_bench(f"sqlite:///{folder}/tree.db", leaves, "sqlite"))
        server, name = _pg_server()
        if _pg_database(server, name, create=True):
            try:
                results.update(tree_bench(server + name, pg_leaves, "postgres", samples=500))
            finally:
                _pg_database(server, name, create=False)
        results.update(ledger_and_bundle_bench(folder, 2_000 if quick else 20_000))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return results


if __name__ == "__main__":
    print(json.dumps(suite("--quick" in sys.argv[1:]), indent=2, sort_keys=True))
