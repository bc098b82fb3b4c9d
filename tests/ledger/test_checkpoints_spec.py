"""``docs/LEDGER-SPEC.md`` §11, the worked example, recomputed from the code.

Every block marked ``<!-- example:NAME -->`` in the spec must equal ``example()[NAME]``: a
three-leaf ledger (the genesis key registration, then an erasure register opened and one
erasure recorded) signed with a fixed seed, its Merkle tree, proofs and signed checkpoint.
Run ``python tests/ledger/test_checkpoints_spec.py`` to print the values.
"""

from __future__ import annotations

import base64
import hashlib
import re
import sys
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from uuid import UUID

from eventsourcing.application import Application

from domain.actor import Actor
from domain.erasure import ErasureRegister
from ledger.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from ledger.checkpoints import note_signer, note_verifier
from ledger.config import environment_for
from ledger.keys import StaticSigners, signer_from_seed
from ledger.merkle import (
    DictNodeStore,
    MerkleTree,
    hash_children,
    hash_leaf,
    verify_consistency,
    verify_inclusion,
)

SPEC = Path(__file__).resolve().parents[2] / "docs" / "LEDGER-SPEC.md"
SEED = bytes(range(32))
ORIGIN = "caleol.example/ledger/spec-example"
DPO = Actor("staff:dpo", "staff")
T0 = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
T1 = datetime(2026, 12, 10, 9, 30, tzinfo=UTC)


class SpecApp(Application[UUID]):
    name = "caleol"


@cache
def example() -> dict[str, str]:
    signer = signer_from_seed(SEED)
    app = SpecApp(env=environment_for("sqlite:///:memory:"))
    app.recorder.signers = StaticSigners(signer)
    register = ErasureRegister.open(actor=DPO, at=T0)
    app.save(register)
    register.record(actor=DPO, at=T1, applicant_ref="ref-0001", reason="right_to_erasure")
    app.save(register)
    entries = list(app.recorder.iter_entries())
    assert [e.leaf_index for e in entries] == [0, 1, 2]
    values: dict[str, str] = {
        "seed": SEED.hex(),
        "public-key": signer.public_bytes.hex(),
        "key-id": signer.key_id,
    }
    leaves = []
    for e in entries:
        n = e.leaf_index
        data = e.record_bytes()
        assert hashlib.sha256(data).digest() == e.record_hash
        assert e.state is not None and hashlib.sha256(e.state).digest() == e.payload_sha256
        values[f"state-{n}"] = e.state.decode()
        values[f"payload-sha256-{n}"] = e.payload_sha256.hex()
        values[f"record-{n}"] = data.decode()
        values[f"record-hash-{n}"] = e.record_hash.hex()
        values[f"signature-{n}"] = e.signature.hex()
        leaves.append(hash_leaf(data))
        values[f"leaf-hash-{n}"] = leaves[-1].hex()
    node01 = hash_children(leaves[0], leaves[1])
    root = hash_children(node01, leaves[2])
    tree = MerkleTree(DictNodeStore())
    tree.extend(leaves)
    assert tree.root() == root
    values["node-1-0"] = node01.hex()
    values["root-3"] = root.hex()
    values["root-3-base64"] = base64.b64encode(root).decode()
    proof0 = tree.inclusion_proof(0, 3)
    proof2 = tree.inclusion_proof(2, 3)
    consistency = tree.consistency_proof(2, 3)
    verify_inclusion(0, 3, leaves[0], proof0, root)
    verify_inclusion(2, 3, leaves[2], proof2, root)
    verify_consistency(2, 3, consistency, node01, root)
    values["inclusion-0"] = "\n".join(h.hex() for h in proof0)
    values["inclusion-2"] = "\n".join(h.hex() for h in proof2)
    values["consistency-2-3"] = "\n".join(h.hex() for h in consistency)
    note = sign_checkpoint(Checkpoint(ORIGIN, 3, root), [note_signer(ORIGIN, signer)])
    verifier = note_verifier(ORIGIN, signer.public_bytes)
    open_checkpoint(note, origin=ORIGIN, log_verifier=verifier)
    values["checkpoint"] = note.rstrip("\n")
    values["note-key-id"] = verifier.key_id.hex()
    values["verifier-key"] = verifier.encode()
    values["note-signed-bytes"] = Checkpoint(ORIGIN, 3, root).to_text().encode().hex()
    app.close()
    return values


def spec_blocks() -> dict[str, str]:
    text = SPEC.read_text(encoding="utf-8")
    found = re.findall(r"<!-- example:([a-z0-9-]+) -->\n```[a-z]*\n(.*?)\n```", text, re.S)
    return dict(found)


def test_spec_worked_example_matches_the_code() -> None:
    blocks = spec_blocks()
    values = example()
    assert sorted(blocks) == sorted(values), "every example value appears once in the spec"
    for name, value in values.items():
        assert blocks[name] == value, name


if __name__ == "__main__":  # pragma: no cover
    for name, value in example().items():
        sys.stdout.write(f"<!-- example:{name} -->\n```\n{value}\n```\n\n")
