"""Regulator commands: checkpoint, proof, export, receipt, receipt-proof, verify-receipt.

``caleol verify --anchor CHECKPOINT`` and ``caleol verify --bundle FILE.zip`` live in
``api.cli.verify``; ``caleol replay --upto LEAF`` in ``api.cli.ledger_cmds``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import orjson

from api.cli import main
from api.cli.common import app_session, db_option, fail, parse_commission_id

_JSON = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS


@contextmanager
def _checkpointer(db: str | None) -> Iterator[Any]:
    from ledger.checkpoints import Checkpointer
    from ledger.config import LedgerConfigError, open_recorder

    try:
        factory, recorder = open_recorder(db, create=False)
    except LedgerConfigError as e:
        fail(str(e))
    except Exception as e:  # a database that cannot be opened is unusable input
        fail(f"cannot open the database: {e}")
    try:
        yield Checkpointer(recorder)
    finally:
        factory.close()


def _write(path: Path | None, data: bytes) -> None:
    if path is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        path.write_bytes(data)
    except OSError as e:
        fail(f"cannot write {path}: {e.strerror}")


def _load_json(path: Path, what: str) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except OSError as e:
        fail(f"cannot read {what} {path}: {e.strerror}")
    except orjson.JSONDecodeError as e:
        fail(f"{what} {path} is not JSON: {e}")


@main.command("checkpoint")
@db_option
@click.option(
    "--publish",
    "publish",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write the checkpoint and the verifier keys into this directory.",
)
@click.option("--verifier-keys", is_flag=True, help="Print the note verifier keys and exit.")
@click.option("--list", "list_", is_flag=True, help="List the stored checkpoints and exit.")
@click.option(
    "--closing",
    "closing",
    default=None,
    metavar="COMMISSION",
    help="Print (and publish) the commission's closing checkpoint instead of a new one.",
)
def checkpoint(
    db: str | None, publish: Path | None, verifier_keys: bool, list_: bool, closing: str | None
) -> None:
    """Catch the Merkle tree up, sign a checkpoint of the whole ledger, print it.

    A new checkpoint is issued only if the ledger grew since the latest one. With --publish DIR,
    writes DIR/checkpoint-<size>.txt, DIR/checkpoint-latest.txt (DIR/closing-<commission>.txt
    with --closing) and DIR/verifier-keys.txt (one C2SP verifier key per ledger key:
    <origin>+<id>+<base64 key>) for an outside party.
    """
    from ledger.checkpoint import CheckpointError
    from ledger.signed_note import NoteError

    with _checkpointer(db) as checkpointer:
        try:
            if list_:
                for cp in checkpointer.checkpoints():
                    click.echo(
                        f"#{cp.id}  size {cp.size}  {cp.reason:16}  {cp.issued_at}  "
                        f"{cp.commission_id or '-'}  root {cp.root.hex()}"
                    )
                return
            if verifier_keys:
                for verifier in checkpointer.verifiers():
                    click.echo(verifier.encode())
                return
            if closing is not None:
                found = checkpointer.closing_checkpoint(str(parse_commission_id(closing)))
                if found is None:
                    fail(f"commission {closing} has no closing checkpoint")
                current = found
            else:
                current = checkpointer.current("periodic")
            verifiers = [v.encode() for v in checkpointer.verifiers()]
        except (CheckpointError, NoteError) as e:
            fail(str(e))
    sys.stdout.write(current.note)
    if publish is not None:
        try:
            publish.mkdir(parents=True, exist_ok=True)
            (publish / f"checkpoint-{current.size}.txt").write_text(current.note, "utf-8")
            name = "checkpoint-latest.txt" if closing is None else f"closing-{closing}.txt"
            (publish / name).write_text(current.note, "utf-8")
            (publish / "verifier-keys.txt").write_text("\n".join(verifiers) + "\n", "ascii")
        except OSError as e:
            fail(f"cannot publish into {publish}: {e.strerror}")
        click.echo(
            f"Published checkpoint of size {current.size} into {publish}/ "
            f"(checkpoint-{current.size}.txt, {name}, verifier-keys.txt)",
            err=True,
        )


@main.group("proof")
def proof() -> None:
    """RFC 9162 proofs served from the database's Merkle tree."""


@proof.command("inclusion")
@db_option
@click.argument("leaf", type=click.IntRange(min=0))
@click.option(
    "--size",
    type=click.IntRange(min=1),
    default=None,
    help="Tree size (default: the latest checkpoint's).",
)
def proof_inclusion(db: str | None, leaf: int, size: int | None) -> None:
    """Inclusion proof of a leaf, as JSON (with the checkpoint of that size when stored)."""
    from ledger.merkle import MerkleStoreError

    with _checkpointer(db) as checkpointer:
        size, note = _size(checkpointer, size)
        if leaf >= size:
            fail(f"leaf {leaf} is not below the tree size {size}")
        try:
            path = checkpointer.inclusion_proof(leaf, size)
            leaf_hash = checkpointer.tree(size).leaf_hash(leaf)
        except (MerkleStoreError, ValueError) as e:
            fail(str(e))
    document = {
        "leaf": leaf,
        "tree_size": size,
        "leaf_hash": leaf_hash.hex(),
        "proof": [h.hex() for h in path],
        "checkpoint": note,
    }
    _write(None, orjson.dumps(document, option=_JSON) + b"\n")


@proof.command("consistency")
@db_option
@click.argument("old_size", type=click.IntRange(min=1))
@click.option(
    "--size",
    type=click.IntRange(min=1),
    default=None,
    help="New tree size (default: the latest checkpoint's).",
)
def proof_consistency(db: str | None, old_size: int, size: int | None) -> None:
    """Consistency proof from an older tree size, as JSON."""
    from ledger.merkle import MerkleStoreError

    with _checkpointer(db) as checkpointer:
        size, note = _size(checkpointer, size)
        if old_size > size:
            fail(f"old size {old_size} is larger than the tree size {size}")
        try:
            path = checkpointer.consistency_proof(old_size, size)
            old_root = checkpointer.tree(size).root(old_size)
        except (MerkleStoreError, ValueError) as e:
            fail(str(e))
    document = {
        "old_size": old_size,
        "old_root": old_root.hex(),
        "tree_size": size,
        "proof": [h.hex() for h in path],
        "checkpoint": note,
    }
    _write(None, orjson.dumps(document, option=_JSON) + b"\n")


def _size(checkpointer: Any, size: int | None) -> tuple[int, str | None]:
    if size is None:
        latest = checkpointer.latest()
        if latest is None:
            fail("no checkpoint yet: run `caleol checkpoint` first")
        return latest.size, latest.note
    stored = checkpointer.tree_size()
    if size > stored:
        fail(f"the Merkle tree holds {stored} leaves: run `caleol checkpoint` to catch it up")
    same = [cp for cp in checkpointer.checkpoints() if cp.size == size]
    return size, same[-1].note if same else None


@main.command("export")
@db_option
@click.argument("commission")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The audit bundle to write (a ZIP file).",
)
def export(db: str | None, commission: str, out: Path) -> None:
    """Write a commission's audit bundle: events, keys, checkpoints, proofs, minutes."""
    from ledger.checkpoint import CheckpointError
    from replay.bundle import BundleError, build_bundle

    commission_id = parse_commission_id(commission)
    with app_session(db, create=False) as app:
        try:
            data, summary = build_bundle(app, commission_id)
        except (BundleError, CheckpointError) as e:
            fail(str(e))
    _write(out, data)
    closing = (
        f"closing checkpoint of size {summary.closing_size}"
        if summary.closing_size is not None
        else "no closing checkpoint (the commission is not closed)"
    )
    click.echo(
        f"Wrote {out}: {summary.entries} events of {summary.streams} streams, {closing}, "
        f"latest of size {summary.latest_size}; minutes: "
        + ("json and pdf" if summary.pdf else "json" if summary.minutes else "none")
    )
    click.echo(f"Check it anywhere, with no database: caleol verify --bundle {out}")


@main.command("receipt")
@db_option
@click.argument("commission")
@click.argument("member")
@click.argument("dwelling")
@click.option("--on-behalf-of", "on_behalf_of", default=None, help="Ballot cast as proxy for.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
def receipt(
    db: str | None,
    commission: str,
    member: str,
    dwelling: str,
    on_behalf_of: str | None,
    out: Path | None,
) -> None:
    """The receipt of a member's last ballot on a dwelling (event hash, leaf index), as JSON."""
    from replay.receipts import ballot_receipt

    commission_id = parse_commission_id(commission)
    with app_session(db, create=False) as app:
        found = ballot_receipt(app, commission_id, member, dwelling, on_behalf_of)
    _write(out, orjson.dumps(found.to_json(), option=_JSON) + b"\n")


@main.command("receipt-proof")
@db_option
@click.argument("receipt_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
def receipt_proof_command(db: str | None, receipt_file: Path, out: Path | None) -> None:
    """After closing: the receipt with its inclusion proof against the closing checkpoint."""
    from replay.receipts import BallotReceipt, receipt_proof

    try:
        found = BallotReceipt.from_json(_load_json(receipt_file, "receipt"))
    except (TypeError, ValueError) as e:
        fail(f"{receipt_file}: {e}")
    with app_session(db, create=False) as app:
        document = receipt_proof(app, found)
    _write(out, orjson.dumps(document, option=_JSON) + b"\n")


@main.command("verify-receipt")
@click.argument("receipt_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The closing checkpoint, as published (e.g. with the minutes).",
)
@click.option(
    "--key",
    "key",
    default=None,
    help="The ledger's note verifier key (<origin>+<id>+<base64>) as published; default: "
    "the one in the receipt proof.",
)
def verify_receipt_command(receipt_file: Path, checkpoint_file: Path, key: str | None) -> None:
    """Check, offline, that a ballot receipt is in the ledger under a published checkpoint."""
    from replay.receipts import verify_receipt

    document = _load_json(receipt_file, "receipt")
    try:
        text = checkpoint_file.read_bytes()
    except OSError as e:
        fail(f"cannot read checkpoint {checkpoint_file}: {e.strerror}")
    if key is not None and Path(key).is_file():
        key = Path(key).read_text("ascii").strip().splitlines()[0]
    try:
        result = verify_receipt(document, text, key)
    except (KeyError, TypeError, ValueError) as e:
        fail(f"{receipt_file}: unusable receipt: {e}")
    for check in result.checks:
        click.echo(f"  ✓ {check}")
    if not result.ok:
        click.echo(f"FAILED: {result.message}", err=True)
        raise SystemExit(1)
    click.echo(result.message)
