"""Recording in-person (physical) sessions through the application: attendance only.

Functions taking the ``CaleolApplication`` (its clock, repository and ledger), kept beside it so
that the application class stays the write side of remote commissions.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain.actor import Actor
from domain.errors import DomainError, DuplicateEntity
from domain.in_person import InPersonSession
from domain.members import Member
from ledger.application import CaleolApplication


class SessionNotFound(DomainError):
    code = "session_not_found"


def in_person_session(app: CaleolApplication, session_id: UUID) -> InPersonSession:
    try:
        session: InPersonSession = app.repository.get(session_id)
    except AggregateNotFoundError:
        raise SessionNotFound(f"no in-person session {session_id}") from None
    return session


def schedule_in_person_session(
    app: CaleolApplication,
    *,
    actor: Actor,
    agency_id: str,
    title: str,
    held_at: datetime,
    dwellings: int,
    commission_id: UUID | None = None,
) -> UUID:
    session_id = InPersonSession.create_id(agency_id, title.strip(), held_at)
    if list(app.events.get(session_id, limit=1)):
        raise DuplicateEntity(f"in-person session {session_id} is already recorded")
    session = InPersonSession.schedule(
        actor=actor,
        at=app.clock(),
        agency_id=agency_id,
        title=title,
        held_at=held_at,
        dwellings=dwellings,
        commission_id=commission_id,
    )
    app.save(session)
    return session.id


def convene_in_person_member(
    app: CaleolApplication, session_id: UUID, *, actor: Actor, member: Member
) -> None:
    session = in_person_session(app, session_id)
    session.convene_member(actor=actor, at=app.clock(), member=member)
    app.save(session)


def record_attendance(
    app: CaleolApplication,
    session_id: UUID,
    *,
    actor: Actor,
    member_id: str,
    attendance: str,
    represented_by: str | None = None,
) -> None:
    session = in_person_session(app, session_id)
    session.record_attendance(
        actor=actor,
        at=app.clock(),
        member_id=member_id,
        attendance=attendance,
        represented_by=represented_by,
    )
    app.save(session)


def close_attendance_sheet(
    app: CaleolApplication, session_id: UUID, *, actor: Actor, dwellings_examined: int
) -> None:
    session = in_person_session(app, session_id)
    session.close_sheet(actor=actor, at=app.clock(), dwellings_examined=dwellings_examined)
    app.save(session)
