"""In-person sessions: attendance only, every rule a named error, every event its actor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.actor import Actor
from domain.errors import (
    DuplicateEntity,
    InvalidInput,
    InvalidTransition,
    NotVotingMember,
    UnknownMember,
)
from domain.in_person import InPersonSession
from domain.members import Member, Role, VoteType

STAFF = Actor("staff:1", "staff")
HELD = datetime(2026, 11, 3, 13, 0, tzinfo=UTC)
MAYOR = Member("mayor", Role.MAYOR, VoteType.DELIBERATIVE, "Maire", frozenset({"93008"}))
BOARD = Member("board", Role.BOARD, VoteType.DELIBERATIVE, "Administrateur")
HOLDER = Member(
    "al", Role.RESERVATION_HOLDER, VoteType.CONSULTATIVE, "AL", contingent="action_logement"
)


def session() -> InPersonSession:
    s = InPersonSession.schedule(
        actor=STAFF,
        at=HELD - timedelta(days=7),
        agency_id="agence",
        title="CAL",
        held_at=HELD,
        dwellings=5,
    )
    for member in (MAYOR, BOARD, HOLDER):
        s.convene_member(actor=STAFF, at=HELD - timedelta(days=7), member=member)
    return s


def test_attendance_is_recorded_and_corrected_until_the_sheet_closes() -> None:
    s = session()
    s.record_attendance(actor=STAFF, at=HELD, member_id="mayor", attendance="absent")
    s.record_attendance(
        actor=STAFF, at=HELD, member_id="mayor", attendance="represented", represented_by="board"
    )
    s.record_attendance(actor=STAFF, at=HELD, member_id="board", attendance="present")
    s.close_sheet(actor=STAFF, at=HELD + timedelta(hours=2), dwellings_examined=4)
    assert s.attendance == {"mayor": ("represented", "board"), "board": ("present", None)}
    assert s.closed and s.dwellings_examined == 4
    events = s.collect_events()
    assert all(e.actor == STAFF.to_json() for e in events)  # type: ignore[attr-defined]
    assert s.id == InPersonSession.create_id("agence", "CAL", HELD)
    with pytest.raises(InvalidTransition):
        s.record_attendance(actor=STAFF, at=HELD, member_id="board", attendance="absent")


def test_rules() -> None:
    s = session()
    with pytest.raises(InvalidTransition):  # the session has not started
        s.record_attendance(
            actor=STAFF, at=HELD - timedelta(minutes=1), member_id="board", attendance="present"
        )
    with pytest.raises(UnknownMember):
        s.record_attendance(actor=STAFF, at=HELD, member_id="nobody", attendance="present")
    with pytest.raises(InvalidInput):
        s.record_attendance(actor=STAFF, at=HELD, member_id="board", attendance="late")
    with pytest.raises(InvalidInput):  # represented by whom?
        s.record_attendance(actor=STAFF, at=HELD, member_id="board", attendance="represented")
    with pytest.raises(NotVotingMember):
        s.record_attendance(
            actor=STAFF, at=HELD, member_id="board", attendance="represented", represented_by="al"
        )
    with pytest.raises(InvalidInput):
        s.record_attendance(
            actor=STAFF, at=HELD, member_id="board", attendance="present", represented_by="mayor"
        )
    with pytest.raises(DuplicateEntity):
        s.convene_member(actor=STAFF, at=HELD, member=BOARD)
    with pytest.raises(InvalidInput):
        s.convene_member(
            actor=STAFF,
            at=HELD,
            member=Member("x", Role.RESERVATION_HOLDER, VoteType.DELIBERATIVE, contingent="c"),
        )
    with pytest.raises(InvalidInput):
        s.close_sheet(actor=STAFF, at=HELD, dwellings_examined=6)
    with pytest.raises(InvalidInput):
        InPersonSession.schedule(
            actor=STAFF,
            at=HELD,
            agency_id="agence",
            title="CAL",
            held_at=HELD.replace(tzinfo=None),
            dwellings=1,
        )
    with pytest.raises(InvalidInput):
        InPersonSession.schedule(
            actor=STAFF, at=HELD, agency_id="agence", title=" ", held_at=HELD, dwellings=1
        )
