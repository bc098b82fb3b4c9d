"""Read-model commands: ``projections rebuild|status|follow|state``, ``stats``, ``in-person``."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import click
import orjson

from api.cli import main
from api.cli.common import db_option, fail

_JSON = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS


def _read_models(db: str | None) -> Any:
    from ledger.config import LedgerConfigError
    from projections.runner import ReadModels

    try:
        return ReadModels(db)
    except LedgerConfigError as e:
        fail(str(e))


def _write_json(value: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(value, option=_JSON))
    sys.stdout.write("\n")


def _day(value: str | None, option: str) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        fail(f"{option}: not an ISO date (YYYY-MM-DD): {value!r}")


def _instant(value: str, option: str) -> datetime:
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{option}: not an ISO-8601 instant: {value!r}")
    if instant.tzinfo is None:
        fail(f"{option}: the instant needs a time zone (e.g. 2026-12-08T15:00:00+01:00)")
    return instant


@main.group("projections")
def projections() -> None:
    """Read models (commission state, participation): rebuild, follow, inspect."""


@projections.command("rebuild")
@db_option
def rebuild(db: str | None) -> None:
    """Rebuild every read model from the whole ledger (swapped in at the end)."""
    with _read_models(db) as models:
        result = models.rebuild()
    click.echo(
        f"Rebuilt from {result.events} events: {result.documents} commission(s)/session(s), "
        f"position {result.position}, {result.seconds:.2f} s."
    )


@projections.command("status")
@db_option
def status(db: str | None) -> None:
    """Where the read models are in the ledger's notification log."""
    with _read_models(db) as models:
        position, head = models.position(), models.head()
    behind = (head or 0) - (position or 0)
    click.echo(f"position {position or 0}, log head {head or 0}, {behind} event(s) behind")


@projections.command("follow")
@db_option
@click.option("--poll", type=float, default=0.5, show_default=True, help="SQLite poll (s).")
@click.option("--for", "duration", type=float, default=None, help="Stop after seconds.")
def follow(db: str | None, poll: float, duration: float | None) -> None:
    """Follow the ledger live (PostgreSQL: LISTEN/NOTIFY; SQLite: polling) until stopped."""
    with _read_models(db) as models:
        follower = models.follow(poll_interval=poll)
        click.echo(f"following from position {models.position() or 0} (Ctrl-C to stop)")
        try:
            follower.run_forever(duration)
        except KeyboardInterrupt:
            pass
        finally:
            follower.stop()
        click.echo(f"stopped at position {models.position() or 0}")


@projections.command("state")
@db_option
@click.argument("commission")
@click.option("--at", "at", default=None, help="ISO-8601 instant: the state as it was then.")
def state(db: str | None, commission: str, at: str | None) -> None:
    """A commission's state read model as JSON (now, or at an instant)."""
    from projections.replay import commission_state_at

    try:
        commission_id = UUID(commission)
    except ValueError:
        fail(f"not a commission id (UUID): {commission!r}")
    with _read_models(db) as models:
        if at is not None:
            found = commission_state_at(models.app.events, commission_id, _instant(at, "--at"))
        else:
            models.catch_up()
            found = models.view.commission_state(str(commission_id))
    if found is None:
        fail(f"no commission {commission_id}" + (f" at {at}" if at else ""))
    _write_json(found)


@main.command("stats")
@db_option
@click.option("--agency", default=None, help="Only this agency.")
@click.option("--from", "date_from", default=None, help="From this day (YYYY-MM-DD).")
@click.option("--to", "date_to", default=None, help="Up to this day, inclusive.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@click.option(
    "--no-catch-up",
    is_flag=True,
    help="Report the read models as they are (default: process pending events first).",
)
def stats(
    db: str | None,
    agency: str | None,
    date_from: str | None,
    date_to: str | None,
    fmt: str,
    no_catch_up: bool,
) -> None:
    """Participation statistics per commission, agency, member category and month."""
    from projections.stats import render_csv, render_table, statistics

    first, last = _day(date_from, "--from"), _day(date_to, "--to")
    if first and last and first > last:
        fail("--from is after --to")
    with _read_models(db) as models:
        if not no_catch_up:
            models.catch_up()
        sessions, members = models.view.statistics_rows(agency, first, last)
    report = statistics(sessions, members, {"agency": agency, "from": first, "to": last})
    if fmt == "json":
        _write_json(report)
    elif fmt == "csv":
        click.echo(render_csv(report), nl=False)
    else:
        click.echo(render_table(report), nl=False)


@main.group("in-person")
def in_person() -> None:
    """In-person (physical) sessions: attendance only, to compare with the remote format."""


@in_person.command("record")
@db_option
@click.argument("sheet", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def in_person_record(db: str | None, sheet: Path) -> None:
    """Record a physical session from its attendance sheet (JSON).

    \b
    {"agency": "hf-93-nord", "title": "CAL du 3 novembre 2026",
     "held_at": "2026-11-03T14:00:00+01:00", "dwellings": 10, "dwellings_examined": 9,
     "by": "staff:c.lefebvre", "commission": null,
     "members": [{"id": "maire-bobigny", "name": "...", "role": "mayor",
                  "vote": "deliberative", "communes": ["93008"], "contingent": null,
                  "attendance": "present" | "represented" | "absent",
                  "represented_by": null}]}
    """
    from api.cli.common import open_app
    from domain.actor import Actor
    from domain.errors import DomainError
    from domain.members import Member, Role, VoteType
    from ledger.in_person_commands import (
        close_attendance_sheet,
        convene_in_person_member,
        record_attendance,
        schedule_in_person_session,
    )

    try:
        data = orjson.loads(sheet.read_bytes())
        actor = Actor(str(data.get("by", "staff")), "staff")
        held_at = _instant(str(data["held_at"]), "held_at")
        commission = UUID(data["commission"]) if data.get("commission") else None
        members = [
            (
                Member(
                    id=str(m["id"]),
                    role=Role(m["role"]),
                    vote=VoteType(m["vote"]),
                    name=str(m.get("name", "")),
                    communes=frozenset(m.get("communes") or ()),
                    contingent=m.get("contingent"),
                ),
                str(m.get("attendance", "absent")),
                m.get("represented_by"),
            )
            for m in data["members"]
        ]
        agency, title, dwellings = str(data["agency"]), str(data["title"]), data["dwellings"]
        examined = data.get("dwellings_examined", dwellings)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        fail(f"{sheet}: not a valid attendance sheet ({type(e).__name__}: {e})")
    app = open_app(db)
    try:
        session_id = schedule_in_person_session(
            app,
            actor=actor,
            agency_id=agency,
            title=title,
            held_at=held_at,
            dwellings=dwellings,
            commission_id=commission,
        )
        for member, _, _ in members:
            convene_in_person_member(app, session_id, actor=actor, member=member)
        for member, attendance, holder in members:
            record_attendance(
                app,
                session_id,
                actor=actor,
                member_id=member.id,
                attendance=attendance,
                represented_by=holder,
            )
        close_attendance_sheet(app, session_id, actor=actor, dwellings_examined=examined)
    except DomainError as e:
        fail(str(e))
    finally:
        app.close()
    present = sum(1 for _, a, _ in members if a == "present")
    click.echo(
        f"In-person session recorded: {session_id} ({present}/{len(members)} members present)"
    )
