"""Replay up to a ledger leaf, and the checkpoints the demo issues at opening, closing and
minutes approval (each verifiable as an anchor)."""

from __future__ import annotations

import random
from pathlib import Path
from uuid import UUID

import orjson
import pytest
from audit_support import SEED, Closed
from click.testing import CliRunner

from api.cli import main
from api.demo import (
    CONVOCATION_FRIDAY,
    SeededIds,
    SimulatedClock,
    demo_lookup_secret,
    paris,
    run_demo,
    seeded_key_source,
)
from domain.commission import Commission
from ledger.application import CaleolApplication
from ledger.checkpoint import open_checkpoint
from ledger.checkpoints import checkpointer_for, note_verifier
from ledger.config import environment_for
from ledger.keys import KeyStore, signer_from_seed
from ledger.merkle_store import AuditDB
from ledger.vault import ApplicantVault, MemoryKeyTable
from replay.state import state_upto


def _leaf_of(closed: Closed, event_type: type) -> int:
    events = [e for e in closed.app.events.get(closed.cid) if isinstance(e, event_type)]
    leaf = AuditDB(closed.app.recorder).leaf_of(str(closed.cid), events[0].originator_version)
    assert leaf is not None
    return leaf


def test_state_upto_a_leaf(closed: Closed) -> None:
    opened = _leaf_of(closed, Commission.Opened)
    before = state_upto(closed.app, closed.cid, opened - 1)
    assert before["status"] == "convened" and before["upto_leaf"] == opened - 1
    at_open = state_upto(closed.app, closed.cid, opened)
    assert at_open["status"] == "open"
    assert all(not m["logins"] and not m["ballots"] for m in at_open["members"])
    closing = _leaf_of(closed, Commission.Closed)
    just_before = state_upto(closed.app, closed.cid, closing - 1)
    members = {m["id"]: m for m in just_before["members"]}
    assert members["president"]["logins"] and members["board2"]["ballots"]
    assert [b["revision"] for b in members["board2"]["ballots"] if b["dwelling"] == "D2"] == [2]
    # What the decisions would have been: those recorded a leaf later.
    recorded = closed.app.commission(closed.cid).decisions
    assert just_before["decisions_if_closed_now"] == [recorded[d] for d in sorted(recorded)]
    after = state_upto(closed.app, closed.cid, closing + 1)
    assert after["status"] == "closed" and after["decisions_if_closed_now"] is None
    assert after["decisions"] == [recorded[d] for d in sorted(recorded)]


def test_cli_replay_upto(closed: Closed) -> None:
    opened = _leaf_of(closed, Commission.Opened)
    runner = CliRunner()
    env = {"CALEOL_KEY_DIR": str(closed.key_dir)}
    result = runner.invoke(
        main, ["replay", str(closed.cid), "--upto", str(opened), "--db", closed.url], env=env
    )
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.output)["status"] == "open"
    both = runner.invoke(
        main,
        ["replay", str(closed.cid), "--upto", "3", "--at", "2026-12-08T10:00:00+01:00"],
        env=env,
    )
    assert both.exit_code == 2
    early = runner.invoke(
        main, ["replay", str(closed.cid), "--upto", "0", "--db", closed.url], env=env
    )
    assert early.exit_code == 2 and "no commission" in early.output


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[CaleolApplication, str, Path]:
    folder = tmp_path_factory.mktemp("demo")
    KeyStore(folder / "keys").import_seed(SEED)
    url = f"sqlite:///{folder}/demo.db"
    clock = SimulatedClock(paris(CONVOCATION_FRIDAY, 14))
    vault = ApplicantVault(MemoryKeyTable(), demo_lookup_secret(1), seeded_key_source(1))
    app = CaleolApplication(
        env=environment_for(url, key_dir=folder / "keys"),
        clock=clock,
        ids=SeededIds(random.Random(1)),
        vault=vault,
    )
    run_demo(app, clock, seed=1)
    yield app, url, folder
    app.close()


def test_demo_issues_checkpoints_at_opening_closing_and_approval(
    demo: tuple[CaleolApplication, str, Path],
) -> None:
    app, _, _ = demo
    checkpointer = checkpointer_for(app)
    assert checkpointer is not None
    (cid,) = {cp.commission_id for cp in checkpointer.checkpoints()}
    stored = checkpointer.checkpoints(commission_id=cid)
    assert [cp.reason for cp in stored] == ["opened", "closed", "minutes_approved"]
    db = AuditDB(app.recorder)
    events = {type(e).__name__: e for e in app.events.get(UUID(cid))}
    for checkpoint, event in zip(
        stored, ("Opened", "DecisionsRecorded", "MinutesApproved"), strict=True
    ):
        leaf = db.leaf_of(cid, events[event].originator_version)
        assert leaf is not None and checkpoint.size == leaf + 1  # issued right after the save
        assert checkpoint.issued_at == events[event].timestamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        signer = signer_from_seed(SEED)
        open_checkpoint(
            checkpoint.note,
            origin=checkpoint.origin,
            log_verifier=note_verifier(checkpoint.origin, signer.public_bytes),
        )


def test_demo_verifies_against_each_of_its_checkpoints(
    demo: tuple[CaleolApplication, str, Path], tmp_path: Path
) -> None:
    app, url, folder = demo
    checkpointer = checkpointer_for(app)
    assert checkpointer is not None
    args = ["verify", "--db", url, "--workers", "1"]
    for checkpoint in checkpointer.checkpoints():
        path = tmp_path / f"cp-{checkpoint.id}.txt"
        path.write_text(checkpoint.note)
        args += ["--anchor", str(path)]
    result = CliRunner().invoke(main, args, env={"CALEOL_KEY_DIR": str(folder / "keys")})
    assert result.exit_code == 0, result.output
    assert "Anchored" in result.output and "3 stored checkpoint(s) verified" in result.output


def test_in_memory_applications_run_without_checkpoints() -> None:
    from tests.scenario import STAFF, build

    built = build()
    assert checkpointer_for(built.app) is None
    built.app.close_commission(built.commission_id, actor=STAFF)
    assert built.app.commission(built.commission_id).status.value == "closed"


def test_a_checkpoint_failure_never_undoes_the_lifecycle_event(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from audit_support import ledger_app

    from ledger.checkpoints import Checkpointer
    from ledger.keys import StaticSigners
    from tests.scenario import STAFF, TUESDAY_0900, FakeClock, build

    clock = FakeClock()
    app = ledger_app(f"sqlite:///{tmp_path}/l.db", tmp_path / "keys", clock)
    # A checkpointer whose key store lacks the ledger's key: it cannot sign.
    app.checkpointer = Checkpointer(
        app.recorder, signers=StaticSigners(signer_from_seed(b"\x07" * 32))
    )
    built = build(app=app, clock=clock, open_it=False)
    clock.set(TUESDAY_0900)
    with caplog.at_level("ERROR", logger="caleol.checkpoints"):
        app.run_schedule(built.commission_id)
        app.close_commission(built.commission_id, actor=STAFF)
    assert app.commission(built.commission_id).status.value == "closed"
    assert app.checkpointer.checkpoints() == []
    assert "could not issue the closed checkpoint" in caplog.text
    # The next periodic checkpoint, with the right keys, covers everything.
    done = Checkpointer(app.recorder).issue("periodic")
    assert done.size == app.recorder.count_entries()
    app.close()
