"""``InPersonSession``: attendance at a physical commission, so that participation in the
dematerialised format can be compared with the in-person one (DESIGN §3, participation).

Only attendance is recorded: who was convened, and for each member whether they were present,
represented (by a proxy given to another voting member who attended) or absent, and how many
dwellings the session examined. Ballots of a physical session stay on paper; the minutes of the
physical session are out of scope.

Pure: every command takes the instant ``at`` and the ``actor``; every event records its actor.
Attendance is recorded from the signed attendance sheet, so not before the session starts; a
member's attendance may be corrected (the last record counts) until the sheet is closed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.actor import Actor
from domain.commission import NAMESPACE
from domain.convocation import MemberConvenedEvent
from domain.errors import (
    DuplicateEntity,
    InvalidInput,
    InvalidTransition,
    NotVotingMember,
    UnknownMember,
)
from domain.members import Member, VoteType, expected_vote_type

#: How a convened member took part in a physical session.
ATTENDANCE = {
    "present": "Présent",
    "represented": "Représenté (pouvoir)",
    "absent": "Absent",
}


def in_person_session_id(agency_id: str, title: str, held_at: datetime) -> UUID:
    return uuid5(NAMESPACE, f"in_person:{agency_id}:{title}:{held_at.isoformat()}")


class InPersonSession(Aggregate):
    class Scheduled(Aggregate.Created):
        actor: dict[str, Any]
        agency_id: str
        title: str
        held_at: datetime
        dwellings: int  # dwellings put before the session
        commission_id: str | None  # the remote commission whose referrals it examines, if any

    class Event(Aggregate.Event):
        actor: dict[str, Any]

    class MemberConvened(MemberConvenedEvent, Event):
        pass

    class AttendanceRecorded(Event):
        member_id: str
        attendance: str  # a key of ATTENDANCE
        represented_by: str | None

        def apply(self, s: InPersonSession) -> None:
            s.attendance[self.member_id] = (self.attendance, self.represented_by)

    class SheetClosed(Event):
        dwellings_examined: int

        def apply(self, s: InPersonSession) -> None:
            s.closed = True
            s.dwellings_examined = self.dwellings_examined

    def __init__(
        self,
        actor: dict[str, Any],
        agency_id: str,
        title: str,
        held_at: datetime,
        dwellings: int,
        commission_id: str | None,
    ) -> None:
        self.agency_id = agency_id
        self.title = title
        self.held_at = held_at
        self.dwellings = dwellings
        self.commission_id = commission_id
        self.members: dict[str, Member] = {}
        self.attendance: dict[str, tuple[str, str | None]] = {}
        self.closed = False
        self.dwellings_examined: int | None = None

    @staticmethod
    def create_id(agency_id: str, title: str, held_at: datetime) -> UUID:
        return in_person_session_id(agency_id, title, held_at)

    @classmethod
    def schedule(
        cls,
        *,
        actor: Actor,
        at: datetime,
        agency_id: str,
        title: str,
        held_at: datetime,
        dwellings: int,
        commission_id: UUID | None = None,
    ) -> InPersonSession:
        if held_at.tzinfo is None or held_at.utcoffset() is None:
            raise InvalidInput("held_at must be a timezone-aware instant")
        if not agency_id or not title.strip():
            raise InvalidInput("an in-person session needs an agency and a title")
        if isinstance(dwellings, bool) or not isinstance(dwellings, int) or dwellings < 0:
            raise InvalidInput("dwellings is the number of dwellings put before the session")
        return cls._create(
            cls.Scheduled,
            timestamp=at,
            actor=actor.to_json(),
            agency_id=agency_id,
            title=title.strip(),
            held_at=held_at,
            dwellings=dwellings,
            commission_id=str(commission_id) if commission_id is not None else None,
        )

    def _require_open_sheet(self) -> None:
        if self.closed:
            raise InvalidTransition("the attendance sheet of this session is closed")

    def member(self, member_id: str) -> Member:
        try:
            return self.members[member_id]
        except KeyError:
            raise UnknownMember(f"member {member_id!r} is not convened to this session") from None

    def convene_member(self, *, actor: Actor, at: datetime, member: Member) -> None:
        self._require_open_sheet()
        if not member.id:
            raise InvalidInput("a member needs an id")
        if member.id in self.members:
            raise DuplicateEntity(f"member {member.id!r} is already convened")
        if member.vote is VoteType.DELIBERATIVE and expected_vote_type(member.role) is not (
            VoteType.DELIBERATIVE
        ):
            raise InvalidInput(f"a {member.role.value} member is consultative, never deliberative")
        self.trigger_event(
            self.MemberConvened,
            timestamp=at,
            actor=actor.to_json(),
            member_id=member.id,
            name=member.name,
            role=member.role.value,
            vote=member.vote.value,
            communes=sorted(member.communes),
            contingent=member.contingent,
        )

    def record_attendance(
        self,
        *,
        actor: Actor,
        at: datetime,
        member_id: str,
        attendance: str,
        represented_by: str | None = None,
    ) -> None:
        self._require_open_sheet()
        if at < self.held_at:
            raise InvalidTransition("attendance is recorded once the session has started")
        member = self.member(member_id)
        if attendance not in ATTENDANCE:
            raise InvalidInput(f"attendance must be one of {sorted(ATTENDANCE)}")
        if attendance == "represented":
            if represented_by is None:
                raise InvalidInput("a represented member names the holder of their proxy")
            holder = self.member(represented_by)
            if not member.is_voting or not holder.is_voting:
                raise NotVotingMember("a proxy is given by a voting member to another one")
            if represented_by == member_id:
                raise InvalidInput("a member cannot represent themselves")
        elif represented_by is not None:
            raise InvalidInput("only a represented member names a proxy holder")
        self.trigger_event(
            self.AttendanceRecorded,
            timestamp=at,
            actor=actor.to_json(),
            member_id=member_id,
            attendance=attendance,
            represented_by=represented_by,
        )

    def close_sheet(self, *, actor: Actor, at: datetime, dwellings_examined: int) -> None:
        self._require_open_sheet()
        if at < self.held_at:
            raise InvalidTransition("the sheet is closed once the session has started")
        if (
            isinstance(dwellings_examined, bool)
            or not isinstance(dwellings_examined, int)
            or not 0 <= dwellings_examined <= self.dwellings
        ):
            raise InvalidInput(
                f"dwellings_examined must be between 0 and the {self.dwellings} dwellings listed"
            )
        self.trigger_event(
            self.SheetClosed,
            timestamp=at,
            actor=actor.to_json(),
            dwellings_examined=dwellings_examined,
        )
