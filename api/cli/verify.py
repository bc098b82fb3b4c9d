"""``caleol verify``: check every event; exit 0 intact, 1 tampered, 2 unusable input."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from api.cli import main
from api.cli.common import db_option, fail


@main.command("verify")
@db_option
@click.option(
    "--anchor",
    "anchor",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Trust anchor: a public key file (raw 32 bytes or hex) published outside the database.",
)
@click.option("--workers", type=int, default=None, help="Worker processes (default: every core).")
@click.option("--quiet", is_flag=True, help="Print only the verdict.")
def verify(db: str | None, anchor: Path | None, workers: int | None, quiet: bool) -> None:
    """Verify signatures, key validity, chains and leaf order of every stored event."""
    from ledger.config import LedgerConfigError, open_recorder
    from ledger.verify import verify_ledger

    anchor_key = _read_anchor(anchor) if anchor else None
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

        result = verify_ledger(recorder, anchor=anchor_key, workers=workers, progress=progress)
    except ValueError as e:
        fail(f"unusable anchor or input: {e}")
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
        factory.close()
    if result.ok:
        click.echo(
            f"OK: {result.entries_checked} events verified (signatures, keys, chains, order)"
        )
        if result.anchored:
            click.echo("Anchored: the ledger's keys chain back to the given trust anchor.")
        else:
            click.echo("Consistent, not anchored: pass --anchor to check against a published key.")
        raise SystemExit(0)
    failure = result.failure
    assert failure is not None
    click.echo(
        f"TAMPERED: {failure.kind} at leaf {failure.leaf}, stream {failure.stream}, "
        f"version {failure.version}: {failure.message}",
        err=True,
    )
    raise SystemExit(1)


def _read_anchor(path: Path) -> bytes | str:
    try:
        data = path.read_bytes()
    except OSError as e:
        fail(f"cannot read anchor {path}: {e.strerror}")
    if len(data) == 32:
        return data
    return data.decode("ascii", errors="replace").strip()
