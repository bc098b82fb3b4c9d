"""Member receipts: every accepted ballot has one; after closing it proves inclusion against
the closing checkpoint; a forged receipt or proof fails; the CLI round trip works."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
from audit_support import Closed
from click.testing import CliRunner

from api.cli import main
from domain.participation import MemberActivity, activity_id
from ledger.checkpoints import checkpointer_for
from replay.receipts import (
    ReceiptError,
    ballot_receipt,
    ballot_receipts,
    receipt_proof,
    verify_receipt,
)


def _closing(closed: Closed) -> Any:
    checkpointer = checkpointer_for(closed.app)
    assert checkpointer is not None
    found = checkpointer.closing_checkpoint(str(closed.cid))
    assert found is not None
    return found


def test_every_accepted_ballot_has_a_receipt_naming_its_ledger_entry(closed: Closed) -> None:
    app, cid = closed.app, closed.cid
    for member in sorted(app.commission(cid).members):
        ballots = [
            e
            for e in app.events.get(activity_id(cid, member))
            if isinstance(e, MemberActivity.BallotSubmitted)
        ]
        receipts = ballot_receipts(app, cid, member)
        assert [(r.dwelling_id, r.version) for r in receipts] == [
            (b.dwelling_id, b.originator_version) for b in ballots
        ]
        for receipt in receipts:
            entry = app.recorder.select_entries(receipt.leaf, 1)[0]
            assert (entry.stream, entry.version) == (receipt.stream, receipt.version)
            assert entry.record_hash.hex() == receipt.record_hash
    revised = ballot_receipt(app, cid, "board2", "D2")
    assert revised.revision == 2
    proxy = ballot_receipt(app, cid, "tenants", "D2", on_behalf_of="prefecture")
    assert proxy.on_behalf_of == "prefecture"
    with pytest.raises(ReceiptError, match="no ballot"):
        ballot_receipt(app, cid, "president", "D3")


def test_receipt_proof_verifies_against_the_closing_checkpoint(closed: Closed) -> None:
    closing = _closing(closed)
    document = receipt_proof(closed.app, ballot_receipt(closed.app, closed.cid, "president", "D1"))
    assert document["tree_size"] == closing.size and not document["late"]
    result = verify_receipt(document, closing.note)
    assert result.ok, result.message
    assert "leaf" in result.message and len(result.checks) == 3
    # Pinned to the published verifier key too.
    assert verify_receipt(document, closing.note, document["note_verifier_key"]).ok


def test_a_late_ballot_is_proven_against_a_later_checkpoint_and_flagged(closed: Closed) -> None:
    late = ballot_receipt(closed.app, closed.cid, "mayor-pantin", "D3")
    document = receipt_proof(closed.app, late)
    assert document["late"] and document["tree_size"] > _closing(closed).size
    result = verify_receipt(document, document["checkpoint"])
    assert result.ok and "late, not counted" in result.message


@pytest.mark.parametrize(
    "forge",
    [
        "leaf",
        "record_hash",
        "record",
        "signature",
        "proof",
        "tree_size",
        "checkpoint_key",
    ],
)
def test_forged_receipts_and_proofs_fail(closed: Closed, forge: str) -> None:
    closing = _closing(closed)
    good = receipt_proof(closed.app, ballot_receipt(closed.app, closed.cid, "board2", "D1"))
    document = copy.deepcopy(good)
    receipt = document["receipt"]
    checkpoint = closing.note
    key = None
    if forge == "leaf":
        receipt["leaf"] += 1
    elif forge == "record_hash":
        receipt["record_hash"] = "00" + receipt["record_hash"][2:]
    elif forge == "record":  # the platform claims another ballot for the same signature
        receipt["record"] = receipt["record"].replace('"version":', '"version":1', 1)
    elif forge == "signature":
        receipt["signature"] = receipt["signature"][:-2] + "00"
    elif forge == "proof":
        document["inclusion_proof"][0] = "11" * 32
    elif forge == "tree_size":
        document["tree_size"] += 1
    elif forge == "checkpoint_key":  # a checkpoint signed by a key the member did not publish
        key = "caleol.example/ledger/x+00000000+AQ" + "A" * 42 + "="
    result = verify_receipt(document, checkpoint, key)
    assert not result.ok, forge
    assert result.message


def test_no_proof_before_closing(tmp_path: Path) -> None:
    from audit_support import ledger_app

    from tests.scenario import TUESDAY_0900, FakeClock, build

    clock = FakeClock()
    app = ledger_app(f"sqlite:///{tmp_path}/l.db", tmp_path / "keys", clock)
    built = build(app=app, clock=clock, open_it=False)
    clock.set(TUESDAY_0900)
    app.run_schedule(built.commission_id)
    app.submit_ballot(
        built.commission_id, "president", dwelling_id="D1", ranking=built.candidates["D1"]
    )
    receipt = ballot_receipt(app, built.commission_id, "president", "D1")
    with pytest.raises(ReceiptError, match="closing checkpoint"):
        receipt_proof(app, receipt)
    app.close()


def test_cli_receipt_round_trip(closed: Closed, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"CALEOL_KEY_DIR": str(closed.key_dir)}
    db = ["--db", closed.url]
    receipt, proof, published = tmp_path / "r.json", tmp_path / "p.json", tmp_path / "pub"
    cid = str(closed.cid)
    steps = [
        ["receipt", cid, "tenants", "D1", "--out", str(receipt), *db],
        ["receipt-proof", str(receipt), "--out", str(proof), *db],
        ["checkpoint", "--closing", cid, "--publish", str(published), *db],
    ]
    for args in steps:
        result = runner.invoke(main, args, env=env)
        assert result.exit_code == 0, (args, result.output)
    closing = published / f"closing-{cid}.txt"
    keys = published / "verifier-keys.txt"
    ok = runner.invoke(
        main, ["verify-receipt", str(proof), "--checkpoint", str(closing), "--key", str(keys)]
    )
    assert ok.exit_code == 0 and "OK: the ballot of tenants on D1" in ok.output, ok.output
    forged = orjson.loads(proof.read_bytes())
    forged["receipt"]["leaf"] = 0
    proof.write_bytes(orjson.dumps(forged))
    bad = runner.invoke(main, ["verify-receipt", str(proof), "--checkpoint", str(closing)])
    assert bad.exit_code == 1 and "FAILED" in bad.output
    unusable = runner.invoke(main, ["verify-receipt", str(receipt), "--checkpoint", str(closing)])
    assert unusable.exit_code == 2
