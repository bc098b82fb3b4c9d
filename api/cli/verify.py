"""``caleol verify``: check every event; exit 0 intact, 1 tampered, 2 unusable input.

``--anchor FILE`` is a trust anchor published outside the database: a public key (raw 32 bytes,
hex or ``ed25519:...`` key id) or a signed checkpoint (C2SP signed note, as written by
``caleol checkpoint --publish``); checkpoints may be repeated. ``--bundle FILE.zip`` verifies an
audit bundle offline, with no database.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from api.cli import main
from api.cli.common import db_option, fail

if TYPE_CHECKING:
    from replay.anchor import ParsedCheckpoint


@main.command("verify")
@db_option
@click.option(
    "--anchor",
    "anchors",
    type=click.Path(dir_okay=False, path_type=Path),
    multiple=True,
    help="Trust anchor published outside the database: a public key file (raw 32 bytes or "
    "hex) or a signed checkpoint file (repeatable for checkpoints).",
)
@click.option(
    "--bundle",
    "bundle",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Verify an audit bundle (caleol export) offline, with no database.",
)
@click.option("--workers", type=int, default=None, help="Worker processes (default: every core).")
@click.option("--quiet", is_flag=True, help="Print only the verdict.")
def verify(
    db: str | None,
    anchors: tuple[Path, ...],
    bundle: Path | None,
    workers: int | None,
    quiet: bool,
) -> None:
    """Verify signatures, key validity, chains and leaf order of every stored event, and the
    ledger against signed checkpoints (its own, and the anchors)."""
    from replay.anchor import AnchorInputError, is_checkpoint_text, parse_checkpoint_text

    raw = [(path, _read(path)) for path in anchors]
    checkpoints = [(path, data) for path, data in raw if is_checkpoint_text(data)]
    keys = [(path, data) for path, data in raw if not is_checkpoint_text(data)]
    if len(keys) > 1:
        fail("give at most one key anchor (checkpoint anchors may be repeated)")
    if bundle is not None:
        if len(raw) > 1:
            fail("with --bundle, give at most one --anchor")
        _verify_bundle(bundle, raw[0][1] if raw else None, quiet)
    try:
        parsed = [parse_checkpoint_text(data, f"checkpoint {path}") for path, data in checkpoints]
    except AnchorInputError as e:
        fail(str(e))
    key_anchor = _key_anchor(keys[0][1]) if keys else None
    _verify_database(db, parsed, key_anchor, workers, quiet)


def _verify_database(
    db: str | None,
    parsed: list[ParsedCheckpoint],
    key_anchor: bytes | str | None,
    workers: int | None,
    quiet: bool,
) -> None:
    from ledger.config import LedgerConfigError, open_recorder
    from replay.anchor import verify_database

    try:
        factory, recorder = open_recorder(db, create=False)
    except LedgerConfigError as e:
        fail(str(e))
    except Exception as e:  # a database that cannot be opened is unusable input
        fail(f"cannot open the database: {e}")
    progress = None
    bar = None
    try:
        total = recorder.count_entries()
        if sys.stderr.isatty() and not quiet and total > 5000:
            bar = click.progressbar(length=total, label="Verifying", file=sys.stderr)
            bar.__enter__()
            done = [0]

            def progress(checked: int, _total: int) -> None:
                assert bar is not None
                bar.update(checked - done[0])
                done[0] = checked

        report = verify_database(
            recorder, parsed, key_anchor=key_anchor, workers=workers, progress=progress
        )
    except ValueError as e:
        fail(f"unusable anchor or input: {e}")
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
        factory.close()
    if report.ok:
        click.echo(f"OK: {report.entries} events verified (signatures, keys, chains, order)")
        if not quiet:
            for note in report.notes:
                click.echo(f"  {note}")
        if report.anchored:
            click.echo("Anchored: " + report.message)
        else:
            click.echo(
                "Consistent, not anchored: pass --anchor with a published key or checkpoint."
            )
        raise SystemExit(0)
    click.echo(f"TAMPERED: {report.kind}: {report.message}", err=True)
    raise SystemExit(1)


def _verify_bundle(path: Path, anchor: bytes | None, quiet: bool) -> None:
    from replay.bundle import BundleUnusable, verify_bundle

    data = _read(path, "bundle")
    try:
        report = verify_bundle(data, anchor=anchor)
    except BundleUnusable as e:
        fail(f"{path}: {e}")
    if not report.ok:
        click.echo(f"TAMPERED: {report.kind}: {path}: {report.message}", err=True)
        raise SystemExit(1)
    click.echo(f"OK: bundle {path} {report.message}")
    if not quiet:
        for check in report.checks:
            click.echo(f"  ✓ {check}")
        for warning in report.warnings:
            click.echo(f"  ! {warning}")
    click.echo(
        "Anchored: the bundle matches the given anchor."
        if report.anchored
        else "Consistent, not anchored: compare its checkpoint with the published one "
        "(--anchor CHECKPOINT)."
    )
    raise SystemExit(0)


def _read(path: Path, what: str = "anchor") -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        fail(f"cannot read {what} {path}: {e.strerror}")


def _key_anchor(data: bytes) -> bytes | str:
    if len(data) == 32:
        return data
    return data.decode("ascii", errors="replace").strip()
