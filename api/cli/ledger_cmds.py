"""Ledger commands: demo, replay, keys, erase-applicant (verify lives in ``api.cli.verify``)."""

from __future__ import annotations

import random
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import click
import orjson

from api.cli import main
from api.cli.common import app_session, db_option, fail, parse_commission_id
from domain.actor import Actor

DEMO_KEY_SEED_NOTE = "the signing key is the key directory's active key"


@main.command("demo")
@db_option
@click.option("--seed", type=int, default=2026, show_default=True, help="Seed of the scenario.")
@click.option(
    "--documents",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write the minutes (md, html, pdf) and the decision letters (pdf) into this folder.",
)
def demo(db: str | None, seed: int, documents: Path | None) -> None:
    """Create a complete, realistic commission end to end (deterministic for a seed and key)."""
    from api.demo import (
        CONVOCATION_FRIDAY,
        SeededIds,
        SimulatedClock,
        paris,
        run_demo,
        seeded_key_source,
    )

    clock = SimulatedClock(paris(CONVOCATION_FRIDAY, 14))
    ids, data_keys = SeededIds(random.Random(seed)), seeded_key_source(seed)
    with app_session(db, clock=clock, ids=ids, data_keys=data_keys) as app:
        result = run_demo(app, clock, seed)
        if documents is not None:
            _write_documents(app, result.commission_id, documents)
    s = result.summary
    if not result.created:
        click.echo(f"Demo commission already present: {result.commission_id} (nothing added)")
    else:
        click.echo(f"Demo commission created: {result.commission_id}")
    click.echo(f"  {s['title']}")
    click.echo(
        f"  status {s['status']}; {s['members']} members; {s['dwellings']} dwellings; "
        f"{s['candidates']} candidates; {s['decided']} decided, {s['referred']} referred; "
        f"{result.events} events in the commission's stream"
    )
    if documents is not None:
        click.echo(f"  minutes and letters in {documents}/")
    click.echo(
        f"Next: caleol verify; caleol replay {result.commission_id} --at 2026-12-08T15:00+01:00"
    )


def _write_documents(app: Any, commission_id: UUID, folder: Path) -> None:
    from projections.letters import render_letters
    from projections.minutes import render_minutes

    folder.mkdir(parents=True, exist_ok=True)
    for fmt in ("md", "html", "pdf"):
        (folder / f"proces-verbal.{fmt}").write_bytes(render_minutes(app, commission_id, fmt))
    letters = folder / "lettres"
    letters.mkdir(exist_ok=True)
    for name, data in sorted(render_letters(app, commission_id, "pdf").items()):
        (letters / name).write_bytes(data)


@main.command("replay")
@db_option
@click.argument("commission")
@click.option("--at", "at", default=None, help="ISO-8601 instant (with a time zone).")
@click.option(
    "--upto",
    "upto",
    type=click.IntRange(min=0),
    default=None,
    help="Ledger leaf index (inclusive).",
)
def replay(db: str | None, commission: str, at: str | None, upto: int | None) -> None:
    """Print a commission's state as JSON: now, at an instant, or up to a ledger leaf."""
    from replay.state import state_at, state_upto

    commission_id = parse_commission_id(commission)
    if upto is not None:
        if at is not None:
            fail("give --at or --upto, not both")
        with app_session(db, create=False) as app:
            state = state_upto(app, commission_id, upto)
        sys.stdout.buffer.write(
            orjson.dumps(state, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        )
        sys.stdout.write("\n")
        return
    instant = None
    if at is not None:
        try:
            instant = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            fail(f"--at: not an ISO-8601 instant: {at!r}")
        if instant.tzinfo is None:
            fail("--at: the instant needs a time zone (e.g. 2026-12-08T15:00:00+01:00)")
    with app_session(db, create=False) as app:
        state = state_at(app, commission_id, instant)
    sys.stdout.buffer.write(orjson.dumps(state, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    sys.stdout.write("\n")


@main.command("erase-applicant")
@db_option
@click.argument("numero_unique")
@click.option(
    "--reason",
    type=click.Choice(["right_to_erasure", "retention_end"]),
    default="right_to_erasure",
    show_default=True,
)
@click.option("--by", "by", default="staff:dpo", show_default=True, help="Who erases.")
def erase_applicant(db: str | None, numero_unique: str, reason: str, by: str) -> None:
    """Destroy an applicant's data keys: their data becomes unreadable; the ledger stays valid."""
    with app_session(db, create=False) as app:
        refs = app.erase_applicant(numero_unique, actor=Actor(by, "staff"), reason=reason)
    if not refs:
        fail("no readable data for this numéro unique (unknown, or already erased)")
    click.echo(f"Erased {len(refs)} data key(s); the erasure is recorded in the ledger.")


@main.group("keys")
def keys() -> None:
    """Signing keys: list them, rotate the active one."""


@keys.command("list")
@db_option
def keys_list(db: str | None) -> None:
    from ledger.keys import KeyStore

    store = KeyStore.from_env()
    registered = _registered_keys(db)
    infos = store.list_keys()
    if not infos and not registered:
        click.echo("No key yet: the first one is generated on first use.")
    for info in infos:
        flag = "active" if info.active else "retired"
        ledger = "registered in the ledger" if info.key_id in registered else "not yet registered"
        click.echo(f"{info.key_id}  {flag:7}  {ledger}  public {info.public_key_hex}")
    for key_id in sorted(set(registered) - {i.key_id for i in infos}):
        click.echo(f"{key_id}  (registered in the ledger; private key not in this key directory)")


@keys.command("rotate")
@db_option
def keys_rotate(db: str | None) -> None:
    """Create a new signing key; the ledger records it, signed by the previous key."""
    from ledger.keys import KeyStore

    store = KeyStore.from_env()
    with app_session(db) as app:
        app.register_signing_key()  # make sure the current key is registered first
        signer = store.rotate()
        app.register_signing_key()
    click.echo(f"New active key {signer.key_id}, registered in the ledger.")


def _registered_keys(db: str | None) -> list[str]:
    with app_session(db, create=False) as app:
        ids: list[str] = app.registered_key_ids()
    return ids
