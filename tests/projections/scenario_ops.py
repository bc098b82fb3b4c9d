"""Random command sequences over two commissions and an in-person session (no tests here).

`OPS` draws commands, valid or not, as a member or the staff would issue them; `Run.apply`
attempts one (a refused command records nothing) with the clock one second later than the
previous command, so that every command has its own instant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from hypothesis import strategies as st

from domain.actor import Actor
from domain.closing import dwelling_cases
from domain.errors import DomainError
from domain.participation import MemberActivity, activity_id
from ledger.application import CaleolApplication
from ledger.in_person_commands import (
    convene_in_person_member,
    record_attendance,
    schedule_in_person_session,
)
from tests.projections.projection_support import (
    BY_ID,
    MEMBER_IDS,
    Clock,
    actor_of,
    set_up_commission,
)
from tests.scenario import MEMBERS, STAFF

DWELLING_IDS = ["D1", "D2", "D3"]
_member = st.sampled_from(MEMBER_IDS)
_dwelling = st.sampled_from(DWELLING_IDS)
_which = st.integers(0, 1)

_voter = st.sampled_from([m for m in MEMBER_IDS if BY_ID[m].is_voting])
_ballot = st.tuples(
    st.just("ballot"), _which, _voter, _dwelling, st.permutations([0, 1, 2]), st.integers(0, 3)
)
_proxy_ballot = st.tuples(
    st.just("ballot"),
    _which,
    _voter,
    _dwelling,
    st.permutations([0, 1, 2]),
    st.integers(0, 3),
    _voter,
)
#: Weighted: ballots, logins and consultations are what members mostly do.
OPS = st.one_of(
    _ballot,
    _ballot,
    _ballot,
    _proxy_ballot,
    st.tuples(st.just("login"), _which, _member),
    st.tuples(st.just("login"), _which, _member),
    st.tuples(st.just("consult"), _which, _member, _dwelling, st.integers(0, 2)),
    st.tuples(st.just("proxy"), _which, _voter, _voter),
    st.tuples(st.just("proxy"), _which, _voter, _voter),
    st.tuples(st.just("revoke"), _which, _voter),
    st.tuples(
        st.just("opinion"), _which, _member, _dwelling, st.sampled_from(["favourable", "reserved"])
    ),
    st.tuples(st.just("referral"), _which, _voter, _dwelling),
    st.tuples(st.just("message"), _which, _member, st.booleans()),
    st.tuples(st.just("time"), st.integers(1, 20 * 60)),
    st.tuples(st.just("open"), _which),
    st.tuples(
        st.just("attend"),
        _member,
        st.sampled_from(["present", "represented", "absent"]),
        _voter,
    ),
)
#: Closing, late ballots, minutes: rarer, so that most scripts have a window to ballot in.
ENDINGS = st.one_of(
    st.tuples(st.just("close"), _which),
    st.tuples(st.just("late"), _which, _voter, _dwelling, st.permutations([0, 1, 2])),
    st.tuples(st.just("approve"), _which),
)
SCRIPTS = st.builds(
    lambda body, ending, after: [*body, *ending, *after],
    st.lists(OPS, min_size=8, max_size=40),
    st.lists(ENDINGS, max_size=4),
    st.lists(OPS, max_size=8),
)


def ballot(candidates: list[str], perm: list[int], cut: int) -> dict[str, Any]:
    order = [candidates[i] for i in perm]
    return {
        "ranking": order[:cut],
        "inadmissible": {},
        "non_attribution": {
            c: {"code": "priority_to_other_candidates", "text": ""} for c in order[cut:]
        },
    }


@dataclass
class Run:
    app: CaleolApplication
    clock: Clock
    commissions: list[UUID] = field(default_factory=list)
    candidates: list[dict[str, list[str]]] = field(default_factory=list)
    session: UUID | None = None
    #: (instant, head notification id) after each command that recorded events
    steps: list[tuple[datetime, int]] = field(default_factory=list)

    def set_up(self) -> None:
        for agency, title in (("agence-93", "CALEOL A"), ("agence-75", "CALEOL B")):
            cid, cands = set_up_commission(self.app, self.clock, agency=agency, title=title)
            self.commissions.append(cid)
            self.candidates.append(cands)
        self.clock.tick()
        self.session = schedule_in_person_session(
            self.app,
            actor=STAFF,
            agency_id="agence-93",
            title="CAL présentielle",
            held_at=self.clock(),
            dwellings=4,
        )
        for member in MEMBERS:
            self.clock.tick()
            convene_in_person_member(self.app, self.session, actor=STAFF, member=member)
        self.clock.tick()
        self.app.open_commission(self.commissions[0], actor=STAFF)

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def apply(self, op: tuple[Any, ...]) -> bool:
        """Attempts one command; True if it recorded events."""
        before = self.head()
        kind = op[0]
        if kind == "time":
            self.clock.tick(op[1] * 60)
            return False
        self.clock.tick()
        try:
            self._command(kind, op)
        except DomainError:
            assert self.head() == before, "a refused command recorded events"
        if self.head() != before:
            self.steps.append((self.clock(), self.head()))
            return True
        return False

    def _command(self, kind: str, op: tuple[Any, ...]) -> None:
        app = self.app
        if kind == "attend":
            _, member, attendance, holder = op
            assert self.session is not None
            record_attendance(
                app,
                self.session,
                actor=STAFF,
                member_id=member,
                attendance=attendance,
                represented_by=holder if attendance == "represented" else None,
            )
            return
        cid, cands = self.commissions[op[1]], self.candidates[op[1]]
        if kind == "open":
            if app.run_schedule(cid) is None:
                app.open_commission(cid, actor=STAFF)
        elif kind == "login":
            app.log_in(cid, op[2], method="magic_link", session_id=f"s-{op[2]}-{self.head()}")
        elif kind == "consult":
            _, _, member, dwelling, i = op
            app.consult_file(cid, member, dwelling_id=dwelling, candidate_id=cands[dwelling][i])
        elif kind == "ballot":
            member, dwelling, perm, cut = op[2:6]
            behalf = op[6] if len(op) > 6 else None
            app.submit_ballot(
                cid,
                member,
                dwelling_id=dwelling,
                on_behalf_of=behalf,
                **ballot(cands[dwelling], perm, cut),
            )
        elif kind == "proxy":
            app.give_proxy(cid, actor=actor_of(op[2]), holder_id=op[3])
        elif kind == "revoke":
            app.revoke_proxy(cid, actor=actor_of(op[2]))
        elif kind == "opinion":
            _, _, member, dwelling, opinion = op
            app.give_opinion(
                cid, member, dwelling_id=dwelling, opinion=opinion, candidate_id=None, text="avis"
            )
        elif kind == "referral":
            app.request_referral(
                cid, op[2], dwelling_id=op[3], reason={"code": "other", "text": "à voir"}
            )
        elif kind == "message":
            _, _, member, by_staff = op
            author = STAFF if by_staff else Actor(member, BY_ID[member].role.value)
            app.post_message(cid, member, author=author, text="Question sur le dossier")
        elif kind == "close":
            app.close_commission(cid, actor=STAFF)
        elif kind == "late":
            # Reads the commission open, commits after the closing: recorded, late.
            _, _, member, dwelling, perm = op
            stale = app.commission(cid)
            stale.require_open(self.clock())
            activity = app.activity(stale, member)
            activity.submit_ballot(
                commission=stale,
                at=self.clock(),
                dwelling_id=dwelling,
                **ballot(cands[dwelling], perm, 2),
            )
            app.close_commission(cid, actor=STAFF)
            app.save(activity)
        elif kind == "approve":
            app.approve_minutes(
                cid,
                actor=Actor("president", "board"),
                president_id="president",
                minutes_sha256="ab" * 32,
            )
        else:  # pragma: no cover
            raise AssertionError(kind)


def domain_oracle(app: CaleolApplication, cid: UUID) -> dict[str, Any]:
    """What the domain itself says (`domain.closing`): whose ballot is in, per dwelling, and
    which ballots are late — independently of the projections."""
    commission = app.commission(cid)
    closed = bool(commission.cutoff)
    activities: dict[str, MemberActivity] = {}
    late: set[tuple[str, int]] = set()
    for member_id in commission.members:
        stream = activity_id(cid, member_id)
        events = list(app.events.get(stream))
        if not events:
            continue
        cut = commission.cutoff.get(member_id, 0) if closed else events[-1].originator_version
        if cut:
            activities[member_id] = app.repository.get(stream, version=cut)
        late |= {
            (member_id, e.originator_version)
            for e in events
            if e.originator_version > cut and isinstance(e, MemberActivity.BallotSubmitted)
        }
    ballots_in = {
        (case.dwelling.id, b.voter)
        for case in dwelling_cases(commission, activities)
        for b in case.ballots
    }
    return {"ballots_in": ballots_in, "late": late, "status": commission.status.value}
