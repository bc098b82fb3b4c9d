"""One test per rule of DESIGN §3 that the aggregates enforce; each fails if its rule is removed.

Every refused command must also leave the ledger unchanged: ``unchanged`` checks it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest

from domain.actor import Actor
from domain.applicants import ApplicantFile, Person
from domain.commission import Status
from domain.errors import (
    CommissionClosed,
    DomainError,
    IncompleteSetup,
    InvalidBallot,
    InvalidInput,
    InvalidTransition,
    MissingNumeroUnique,
    NoRightOnDwelling,
    NotConsultativeMember,
    NotVotingMember,
    OutsideWindow,
    ProxyChained,
    ProxyLimitReached,
    ProxyNotHeld,
    TooFewCandidates,
    UnknownCandidate,
    UnknownMember,
    UnknownReasonCode,
)
from domain.members import Member, Role, VoteType
from domain.rules import Rules
from ledger.application import CaleolApplication
from tests.scenario import STAFF, TUESDAY_0900, WEDNESDAY_NOON, Built, FakeClock, SeqIds, build

NA = {"code": "priority_to_other_candidates", "text": ""}


def event_count(app: CaleolApplication) -> int:
    return app.recorder.max_notification_id() or 0


@contextmanager
def unchanged(app: CaleolApplication, error: type[DomainError]) -> Iterator[None]:
    before = event_count(app)
    with pytest.raises(error):
        yield
    assert event_count(app) == before, "a refused command recorded something"


def full_ballot(b: Built, dwelling: str) -> dict[str, object]:
    first, *rest = b.candidates[dwelling]
    return {"ranking": [first], "non_attribution": {c: NA for c in rest}}


@pytest.fixture
def b() -> Built:
    return build()


# ------------------------------------------------------------------ lifecycle and window
def test_ballot_refused_before_opening() -> None:
    built = build(open_it=False)
    with unchanged(built.app, OutsideWindow):
        built.app.submit_ballot(
            built.commission_id, "board2", dwelling_id="D1", ranking=built.candidates["D1"]
        )


def test_scheduler_opens_at_the_scheduled_instant_not_before() -> None:
    built = build(open_it=False)
    built.clock.set(TUESDAY_0900 - timedelta(minutes=1))
    assert built.app.run_schedule(built.commission_id) is None
    with unchanged(built.app, OutsideWindow):
        built.app.open_commission(built.commission_id)
    built.clock.set(TUESDAY_0900)
    assert built.app.run_schedule(built.commission_id) == "opened"
    assert built.app.commission(built.commission_id).status is Status.OPEN


def test_ballot_refused_after_closing_instant_even_before_the_close_is_recorded(b: Built) -> None:
    b.clock.set(WEDNESDAY_NOON)
    with unchanged(b.app, OutsideWindow):
        b.app.submit_ballot(b.commission_id, "board2", dwelling_id="D1", **full_ballot(b, "D1"))


def test_nothing_about_ballots_referrals_proxies_after_closing(b: Built) -> None:
    b.clock.set(WEDNESDAY_NOON)
    assert b.app.run_schedule(b.commission_id) == "closed"
    app, cid = b.app, b.commission_id
    with unchanged(app, CommissionClosed):
        app.submit_ballot(cid, "board2", dwelling_id="D1", **full_ballot(b, "D1"))
    with unchanged(app, CommissionClosed):
        app.request_referral(cid, "board2", dwelling_id="D1", reason="disputed_dwelling")
    with unchanged(app, CommissionClosed):
        app.give_proxy(cid, actor=Actor("board2", "board"), holder_id="tenants")
    with unchanged(app, CommissionClosed):
        app.post_message(cid, "board2", author=Actor("board2", "board"), text="encore là ?")
    with unchanged(app, InvalidTransition):
        app.close_commission(cid)


def test_cancel_only_before_opening(b: Built) -> None:
    with unchanged(b.app, InvalidTransition):
        b.app.cancel(b.commission_id, actor=STAFF, reason="erreur")
    draft = build(open_it=False)
    draft.app.cancel(draft.commission_id, actor=STAFF, reason="report")
    assert draft.app.commission(draft.commission_id).status is Status.CANCELLED


def test_setup_frozen_once_open(b: Built) -> None:
    with unchanged(b.app, InvalidTransition):
        b.app.list_dwelling(b.commission_id, actor=STAFF, dwelling_id="D9", commune="93008")


# ------------------------------------------------------------------ minimum of candidates
def test_cannot_open_below_minimum_without_exception() -> None:
    built = build(candidates_per_dwelling=2, open_it=False)
    built.clock.set(TUESDAY_0900)
    with unchanged(built.app, TooFewCandidates):
        built.app.open_commission(built.commission_id)


def test_stated_exception_allows_fewer_candidates() -> None:
    built = build(candidates_per_dwelling=2, open_it=False)
    for d in ("D1", "D2", "D3"):
        built.app.state_exception(
            built.commission_id,
            actor=STAFF,
            dwelling_id=d,
            reason_code="not_enough_applicants",
            detail="Seuls deux demandeurs correspondent à la typologie",
        )
    built.clock.set(TUESDAY_0900)
    built.app.open_commission(built.commission_id)
    assert built.app.commission(built.commission_id).status is Status.OPEN


def test_cannot_open_with_unconvoked_member() -> None:
    built = build(open_it=False)
    built.app.convene_member(
        built.commission_id,
        actor=STAFF,
        member=Member("epci", Role.EPCI, VoteType.DELIBERATIVE, "Président EPCI"),
    )
    built.clock.set(TUESDAY_0900)
    with unchanged(built.app, IncompleteSetup):
        built.app.open_commission(built.commission_id)


def test_numero_unique_required() -> None:
    with pytest.raises(MissingNumeroUnique):
        ApplicantFile("", (Person("A", "B", "1990-01-01"),), 100_000)
    with pytest.raises(MissingNumeroUnique):
        ApplicantFile("  ", (Person("A", "B", "1990-01-01"),), 100_000)


# ------------------------------------------------------------------ rights per dwelling
def test_mayor_votes_only_on_dwellings_of_their_commune(b: Built) -> None:
    b.app.submit_ballot(b.commission_id, "mayor-bobigny", dwelling_id="D1", **full_ballot(b, "D1"))
    with unchanged(b.app, NoRightOnDwelling):
        b.app.submit_ballot(
            b.commission_id, "mayor-bobigny", dwelling_id="D3", **full_ballot(b, "D3")
        )


def test_reservation_holder_is_consultative_and_scoped_to_its_contingent(b: Built) -> None:
    with unchanged(b.app, NotVotingMember):
        b.app.submit_ballot(
            b.commission_id, "action-logement", dwelling_id="D1", **full_ballot(b, "D1")
        )
    b.app.give_opinion(b.commission_id, "action-logement", dwelling_id="D1", opinion="favourable")
    with unchanged(b.app, NoRightOnDwelling):
        b.app.give_opinion(
            b.commission_id, "action-logement", dwelling_id="D2", opinion="favourable"
        )


def test_voting_members_do_not_give_opinions(b: Built) -> None:
    with unchanged(b.app, NotConsultativeMember):
        b.app.give_opinion(b.commission_id, "board2", dwelling_id="D1", opinion="favourable")


def test_reservation_holder_cannot_be_convened_as_deliberative() -> None:
    built = build(open_it=False)
    with unchanged(built.app, InvalidInput):
        built.app.convene_member(
            built.commission_id,
            actor=STAFF,
            member=Member("al2", Role.RESERVATION_HOLDER, VoteType.DELIBERATIVE, contingent="x"),
        )


def test_unknown_member_refused(b: Built) -> None:
    with unchanged(b.app, UnknownMember):
        b.app.submit_ballot(b.commission_id, "nobody", dwelling_id="D1", **full_ballot(b, "D1"))


# ------------------------------------------------------------------ ballots
def test_ballot_must_cover_every_candidate_with_a_reason(b: Built) -> None:
    first, second, _third = b.candidates["D1"]
    with unchanged(b.app, InvalidBallot):
        b.app.submit_ballot(b.commission_id, "board2", dwelling_id="D1", ranking=[first, second])
    with unchanged(b.app, InvalidBallot):
        b.app.submit_ballot(
            b.commission_id, "board2", dwelling_id="D1", ranking=[first, first, second]
        )
    with unchanged(b.app, UnknownReasonCode):
        b.app.submit_ballot(
            b.commission_id,
            "board2",
            dwelling_id="D1",
            ranking=[first, second],
            non_attribution={_third: "because"},
        )
    with unchanged(b.app, UnknownCandidate):
        b.app.submit_ballot(
            b.commission_id, "board2", dwelling_id="D1", ranking=[*b.candidates["D1"], "D3-C7"]
        )


def test_revisions_are_recorded_and_numbered(b: Built) -> None:
    c = b.candidates["D1"]
    assert b.app.submit_ballot(b.commission_id, "board2", dwelling_id="D1", ranking=c) == 1
    assert b.app.submit_ballot(b.commission_id, "board2", dwelling_id="D1", ranking=c[::-1]) == 2
    activity = b.app.activity(b.app.commission(b.commission_id), "board2")
    assert activity.ballots[("D1", None)].ranking == c[::-1]


# ------------------------------------------------------------------ proxies
def test_proxy_limit_and_no_chaining(b: Built) -> None:
    app, cid = b.app, b.commission_id
    app.give_proxy(cid, actor=Actor("board2", "board"), holder_id="tenants")
    with unchanged(app, ProxyLimitReached):
        app.give_proxy(cid, actor=Actor("prefecture", "prefecture"), holder_id="tenants")
    with unchanged(app, ProxyChained):
        app.give_proxy(cid, actor=Actor("tenants", "tenant_representative"), holder_id="president")
    with unchanged(app, ProxyChained):
        app.give_proxy(cid, actor=Actor("prefecture", "prefecture"), holder_id="board2")


def test_higher_proxy_limit_from_rules() -> None:
    built = build(rules=Rules(max_proxies_per_holder=2))
    app, cid = built.app, built.commission_id
    app.give_proxy(cid, actor=Actor("board2", "board"), holder_id="tenants")
    app.give_proxy(cid, actor=Actor("prefecture", "prefecture"), holder_id="tenants")
    assert app.commission(cid).holders_load("tenants") == 2


def test_proxy_ballot_requires_a_proxy_in_force(b: Built) -> None:
    app, cid = b.app, b.commission_id
    with unchanged(app, ProxyNotHeld):
        app.submit_ballot(
            cid, "tenants", dwelling_id="D1", on_behalf_of="board2", **full_ballot(b, "D1")
        )
    app.give_proxy(cid, actor=Actor("board2", "board"), holder_id="tenants")
    app.submit_ballot(
        cid, "tenants", dwelling_id="D1", on_behalf_of="board2", **full_ballot(b, "D1")
    )
    app.revoke_proxy(cid, actor=Actor("board2", "board"))
    with unchanged(app, ProxyNotHeld):
        app.submit_ballot(
            cid, "tenants", dwelling_id="D1", on_behalf_of="board2", **full_ballot(b, "D1")
        )


def test_consultative_member_cannot_give_or_hold_proxy(b: Built) -> None:
    with unchanged(b.app, NotVotingMember):
        b.app.give_proxy(
            b.commission_id, actor=Actor("board2", "board"), holder_id="action-logement"
        )


# ------------------------------------------------------------------ referral and chat
def test_referral_needs_a_vote_on_the_dwelling(b: Built) -> None:
    with unchanged(b.app, NoRightOnDwelling):
        b.app.request_referral(
            b.commission_id, "mayor-pantin", dwelling_id="D1", reason="disputed_dwelling"
        )
    b.app.request_referral(
        b.commission_id,
        "mayor-bobigny",
        dwelling_id="D1",
        reason={"code": "disputed_dwelling", "text": "Voisinage"},
    )


def test_chat_corrections_point_to_the_earlier_message(b: Built) -> None:
    app, cid = b.app, b.commission_id
    first = app.post_message(
        cid, "board2", author=Actor("board2", "board"), text="Bonjour", dwelling_id="D1"
    )
    app.post_message(cid, "board2", author=STAFF, text="Bonjour, je vous écoute", reply_to=first)
    with unchanged(app, InvalidInput):
        app.post_message(
            cid, "board2", author=Actor("tenants", "tenant_representative"), text="intrusion"
        )
    with unchanged(app, InvalidInput):
        app.post_message(cid, "board2", author=STAFF, text="réponse", reply_to="message-999")


def test_logins_record_a_hash_of_the_session_never_the_id(b: Built) -> None:
    b.app.log_in(b.commission_id, "board2", method="magic_link", session_id="secret-session")
    activity = b.app.activity(b.app.commission(b.commission_id), "board2")
    assert len(activity.logins) == 1
    events = list(b.app.events.get(activity.id))
    assert all("secret-session" not in repr(vars(e)) for e in events)


def test_injected_clock_stamps_every_event() -> None:
    clock = FakeClock()
    app = CaleolApplication(clock=clock, ids=SeqIds())
    built = build(app=app, clock=clock)
    stamps = [e.timestamp for e in built.app.events.get(built.commission_id)]
    assert stamps[-1] == TUESDAY_0900
    assert all(s.tzinfo is not None for s in stamps)


# ------------------------------------------------------------------ the closing cut-off
def test_ballot_racing_the_close_is_recorded_late_and_never_counted(b: Built) -> None:
    """A ballot that read the commission open but commits after the close is late: kept, never
    counted. The cut-off is the member's stream version recorded in the Closed event."""
    app, cid = b.app, b.commission_id
    for member in ("president", "board2", "tenants", "prefecture"):
        app.submit_ballot(cid, member, dwelling_id="D2", ranking=b.candidates["D2"])
    # The racing ballot: checked against an open commission ...
    commission = app.commission(cid)
    activity = app.activity(commission, "mayor-bobigny")
    activity.submit_ballot(
        commission=commission,
        at=b.clock(),
        dwelling_id="D2",
        ranking=b.candidates["D2"][::-1],
        non_attribution={},
        inadmissible={},
    )
    # ... while staff close the commission, then it commits.
    decisions = {d["dwelling"]: d for d in app.close_commission(cid, actor=STAFF)}
    app.save(activity)
    closed = app.commission(cid)
    assert closed.cutoff["mayor-bobigny"] == 0
    stored = list(app.events.get(activity.id))
    assert isinstance(stored[-1], type(activity).BallotSubmitted)
    assert stored[-1].originator_version > closed.cutoff["mayor-bobigny"]
    # Counted: the four ballots before the cut-off, all ranking D2's candidates in order.
    assert decisions["D2"]["quorum"]["cast"] == 4
    assert decisions["D2"]["ranking"] == b.candidates["D2"]
    assert not decisions["D2"]["casting_vote_used"]
    # A recomputation from the stored events ignores the late ballot too.
    cases_activities = app.activities_at_cutoff(closed)
    assert "mayor-bobigny" not in cases_activities


def test_personal_ballot_prevails_over_the_proxy_holders(b: Built) -> None:
    app, cid = b.app, b.commission_id
    c = b.candidates["D3"]
    app.give_proxy(cid, actor=Actor("prefecture", "prefecture"), holder_id="tenants")
    app.submit_ballot(cid, "tenants", dwelling_id="D3", ranking=c[::-1], on_behalf_of="prefecture")
    app.submit_ballot(cid, "president", dwelling_id="D3", ranking=c)
    app.submit_ballot(cid, "board2", dwelling_id="D3", ranking=c[::-1])
    app.submit_ballot(cid, "prefecture", dwelling_id="D3", ranking=c)
    decisions = {d["dwelling"]: d for d in app.close_commission(cid, actor=STAFF)}
    assert decisions["D3"]["quorum"]["cast"] == 3
    # Two of three prefer c: the prefecture's own ballot counted, not the reversed proxy ballot.
    assert decisions["D3"]["ranking"] == c
