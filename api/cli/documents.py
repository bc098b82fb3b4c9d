"""``caleol minutes`` and ``caleol letters``: the procès-verbal and the decision letters."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from api.cli import main
from api.cli.common import app_session, db_option, fail, parse_commission_id


@main.command("minutes")
@db_option
@click.argument("commission")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html", "pdf", "json"]),
    default="md",
    show_default=True,
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file (default: standard output; required for pdf).",
)
def minutes(db: str | None, commission: str, fmt: str, out: Path | None) -> None:
    """Render a closed commission's minutes (procès-verbal), in French."""
    from projections.minutes import render_minutes

    commission_id = parse_commission_id(commission)
    if fmt == "pdf" and out is None and sys.stdout.isatty():
        fail("--out FILE is required for a PDF on a terminal")
    with app_session(db, create=False) as app:
        data = render_minutes(app, commission_id, fmt)
    if out is None:
        sys.stdout.buffer.write(data)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        click.echo(f"Minutes written to {out} ({len(data)} bytes)", err=True)


@main.command("letters")
@db_option
@click.argument("commission")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory to write the letters into.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["pdf", "html"]), default="pdf", show_default=True
)
def letters(db: str | None, commission: str, out: Path, fmt: str) -> None:
    """Write one decision letter per candidate (attribution, condition, refusal, referral)."""
    from projections.letters import render_letters

    commission_id = parse_commission_id(commission)
    with app_session(db, create=False) as app:
        files = render_letters(app, commission_id, fmt)
    out.mkdir(parents=True, exist_ok=True)
    for name, data in sorted(files.items()):
        (out / name).write_bytes(data)
    click.echo(f"{len(files)} letters written to {out}")
