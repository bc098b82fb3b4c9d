"""Stateful property test: random command sequences through a commission keep every invariant.

A ``RuleBasedStateMachine`` drives the application with members trying every command, valid or
not, while the clock moves on. The model kept here is independent of the aggregates: the static
rights table, the proxies in force and the last accepted ballot per voter. After every step:

- a refused command recorded nothing; an accepted one was allowed by the rules (rights, window,
  proxies never chained nor above the RI's maximum);
- nothing about ballots, referrals, proxies or opinions is recorded outside the window;
- at closing the recorded decisions equal the decisions computed from the model's last ballots
  (last ballot counts, personal ballot prevails over a proxy's), and a recomputation from the
  stored events gives the same decisions (determinism).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from domain.actor import Actor
from domain.closing import dwelling_cases
from domain.commission import Commission, Status
from domain.decisions.case import CandidateFile, CaseBallot, CaseReferral, DwellingCase
from domain.decisions.decide import decide
from domain.errors import DomainError
from domain.members import Right, right_on
from domain.participation import MemberActivity
from domain.reasons import NON_ATTRIBUTION_REASONS, REFERRAL_REASONS, reason_label
from tests.scenario import DWELLINGS, MEMBERS, WEDNESDAY_NOON, Built, build

MEMBER_IDS = [m.id for m in MEMBERS] + ["stranger"]
DWELLING_IDS = [d[0] for d in DWELLINGS]
BY_ID = {m.id: m for m in MEMBERS}
WINDOW_EVENTS = (
    MemberActivity.BallotSubmitted,
    MemberActivity.ReferralRequested,
    MemberActivity.OpinionGiven,
    Commission.ProxyGiven,
    Commission.ProxyRevoked,
)


def ballot_shape(draw_perm: list[str], cut: int) -> tuple[list[str], dict[str, Any]]:
    ranking = draw_perm[:cut]
    marks = {c: {"code": "priority_to_other_candidates", "text": ""} for c in draw_perm[cut:]}
    return ranking, marks


class CommissionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.b: Built = build()
        self.commission = self.b.app.commission(self.b.commission_id)
        self.proxies: dict[str, str] = {}
        # (voter, dwelling) -> (cast_by, ranking, marks) of the last accepted ballot, own or proxy
        self.own: dict[tuple[str, str], tuple[list[str], dict[str, Any]]] = {}
        self.by_proxy: dict[tuple[str, str, str], tuple[list[str], dict[str, Any]]] = {}
        self.referrals: dict[tuple[str, str], dict[str, str]] = {}
        self.closed = False
        self.last_error: DomainError | None = None
        self.checked_up_to = 0

    # -------------------------------------------------------------- helpers
    def count(self) -> int:
        return self.b.app.recorder.max_notification_id() or 0

    def attempt(self, command: Any) -> bool:
        before = self.count()
        try:
            command()
        except DomainError as e:
            assert self.count() == before, f"refused command recorded events: {e}"
            self.last_error = e
            return False
        return True

    def window_open(self) -> bool:
        return not self.closed and self.b.clock.now < WEDNESDAY_NOON

    def right(self, member_id: str, dwelling_id: str) -> Right:
        member = BY_ID.get(member_id)
        if member is None:
            return Right.NONE
        return right_on(member, self.commission.dwelling_scope(dwelling_id))

    # ---------------------------------------------------------------- rules
    @rule(minutes=st.integers(min_value=1, max_value=60 * 8))
    def time_passes(self, minutes: int) -> None:
        self.b.clock.advance(minutes=minutes)

    @rule(
        member=st.sampled_from(MEMBER_IDS),
        dwelling=st.sampled_from(DWELLING_IDS),
        data=st.data(),
        proxy=st.booleans(),
    )
    def ballot(self, member: str, dwelling: str, data: st.DataObject, proxy: bool) -> None:
        candidates = self.b.candidates[dwelling]
        perm = data.draw(st.permutations(candidates))
        cut = data.draw(st.integers(min_value=0, max_value=len(candidates)))
        ranking, marks = ballot_shape(list(perm), cut)
        principal = None
        if proxy:
            principal = data.draw(st.sampled_from(MEMBER_IDS))
        accepted = self.attempt(
            lambda: self.b.app.submit_ballot(
                self.b.commission_id,
                member,
                dwelling_id=dwelling,
                ranking=ranking,
                non_attribution=marks,
                on_behalf_of=principal,
            )
        )
        voter = principal or member
        if accepted:
            assert self.window_open(), "a ballot was accepted outside the window"
            assert self.right(voter, dwelling) is Right.VOTE, "a ballot without a vote"
            if principal is not None:
                assert self.proxies.get(principal) == member, "a proxy ballot without proxy"
                self.by_proxy[(principal, dwelling, member)] = (ranking, marks)
            else:
                self.own[(member, dwelling)] = (ranking, marks)
        elif self.window_open() and self.right(voter, dwelling) is Right.VOTE:
            legal_proxy = principal is None or self.proxies.get(principal) == member
            assert not (legal_proxy and BY_ID[member].is_voting), (
                f"a valid ballot was refused: {self.last_error}"
            )

    @rule(principal=st.sampled_from(MEMBER_IDS), holder=st.sampled_from(MEMBER_IDS))
    def give_proxy(self, principal: str, holder: str) -> None:
        role = BY_ID[principal].role.value if principal in BY_ID else "board"
        if self.attempt(
            lambda: self.b.app.give_proxy(
                self.b.commission_id, actor=Actor(principal, role), holder_id=holder
            )
        ):
            assert self.window_open()
            self.proxies[principal] = holder

    @rule(principal=st.sampled_from(MEMBER_IDS))
    def revoke_proxy(self, principal: str) -> None:
        role = BY_ID[principal].role.value if principal in BY_ID else "board"
        if self.attempt(
            lambda: self.b.app.revoke_proxy(self.b.commission_id, actor=Actor(principal, role))
        ):
            assert self.window_open()
            del self.proxies[principal]

    @rule(member=st.sampled_from(MEMBER_IDS), dwelling=st.sampled_from(DWELLING_IDS))
    def refer(self, member: str, dwelling: str) -> None:
        reason = {"code": "disputed_dwelling", "text": "à discuter"}
        if self.attempt(
            lambda: self.b.app.request_referral(
                self.b.commission_id, member, dwelling_id=dwelling, reason=reason
            )
        ):
            assert self.window_open() and self.right(member, dwelling) is Right.VOTE
            self.referrals[(member, dwelling)] = reason

    @rule(member=st.sampled_from(MEMBER_IDS), dwelling=st.sampled_from(DWELLING_IDS))
    def opinion(self, member: str, dwelling: str) -> None:
        if self.attempt(
            lambda: self.b.app.give_opinion(
                self.b.commission_id, member, dwelling_id=dwelling, opinion="reserved"
            )
        ):
            assert self.window_open() and self.right(member, dwelling) is Right.OPINION

    @rule(member=st.sampled_from(MEMBER_IDS))
    def log_in(self, member: str) -> None:
        accepted = self.attempt(
            lambda: self.b.app.log_in(
                self.b.commission_id, member, method="magic_link", session_id=f"s-{member}"
            )
        )
        assert accepted == (member in BY_ID)

    @precondition(lambda self: not self.closed)
    @rule(by_schedule=st.booleans())
    def close(self, by_schedule: bool) -> None:
        app, cid = self.b.app, self.b.commission_id
        if by_schedule:
            outcome = app.run_schedule(cid)
            if outcome is None:
                assert self.b.clock.now < WEDNESDAY_NOON
                return
        else:
            app.close_commission(cid, actor=Actor("staff:agence-93", "staff"))
        self.closed = True
        self.check_decisions()

    # -------------------------------------------------------------- checks
    def model_cases(self) -> list[DwellingCase]:
        commission = self.b.app.commission(self.b.commission_id)
        cases = []
        for dwelling in DWELLING_IDS:
            ballots = []
            for member in sorted(BY_ID):
                chosen = self.own.get((member, dwelling))
                cast_by = member
                if chosen is None and member in self.proxies:
                    cast_by = self.proxies[member]
                    chosen = self.by_proxy.get((member, dwelling, cast_by))
                if chosen is not None:
                    ranking, marks = chosen
                    ballots.append(
                        CaseBallot(
                            member_id=cast_by,
                            on_behalf_of=None if cast_by == member else member,
                            ranking=tuple(ranking),
                            non_attribution={
                                c: reason_label(NON_ATTRIBUTION_REASONS, r)
                                for c, r in marks.items()
                            },
                        )
                    )
            referrals = tuple(
                CaseReferral(m, reason_label(REFERRAL_REASONS, r))
                for (m, d), r in sorted(self.referrals.items())
                if d == dwelling
            )
            cases.append(
                DwellingCase(
                    dwelling=commission.dwelling_scope(dwelling),
                    candidates=tuple(CandidateFile(c) for c in self.b.candidates[dwelling]),
                    members=tuple(BY_ID[m] for m in sorted(BY_ID)),
                    proxies=dict(self.proxies),
                    ballots=tuple(ballots),
                    referrals=referrals,
                    rules=commission.rules,
                )
            )
        return cases

    def check_decisions(self) -> None:
        app, cid = self.b.app, self.b.commission_id
        commission = app.commission(cid)
        assert commission.status is Status.CLOSED
        expected = [decide(case).to_json() for case in self.model_cases()]
        recorded = [commission.decisions[d] for d in DWELLING_IDS]
        assert recorded == expected, "recorded decisions differ from the model's"
        # Determinism: recompute from the stored events alone.
        before_close = app.commission(cid, version=commission.version - 2)
        recomputed = [
            decide(case).to_json()
            for case in dwelling_cases(before_close, app.activities_at_cutoff(commission))
        ]
        assert recomputed == recorded

    @invariant()
    def proxies_within_rules(self) -> None:
        commission = self.b.app.commission(self.b.commission_id)
        assert commission.proxies == self.proxies
        limit = commission.rules.max_proxies_per_holder
        for holder in set(commission.proxies.values()):
            assert commission.holders_load(holder) <= limit
            assert holder not in commission.proxies, "a proxy chain was recorded"

    @invariant()
    def nothing_outside_the_window(self) -> None:
        commission = self.b.app.commission(self.b.commission_id)
        opened = commission.opened_at
        assert opened is not None
        end = commission.closed_at or WEDNESDAY_NOON
        for notification in self.b.app.recorder.select_notifications(
            start=self.checked_up_to + 1, limit=100_000
        ):
            self.checked_up_to = notification.id
            event = self.b.app.mapper.to_domain_event(notification)
            if isinstance(event, WINDOW_EVENTS):
                assert opened <= event.timestamp <= end and event.timestamp < WEDNESDAY_NOON
            if isinstance(event, MemberActivity.Event) and commission.status is Status.CLOSED:
                member = event.actor["id"]
                late = event.originator_version > commission.cutoff.get(member, 0)
                assert not (late and isinstance(event, WINDOW_EVENTS)), "window event after cut-off"
        if commission.status is Status.CLOSED:
            assert commission.closed_at is not None


CommissionMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestCommissionMachine = CommissionMachine.TestCase
