"""``MemberActivity``: one stream per member and commission (DESIGN §3, aggregate boundaries).

It holds what a member does during a commission: logins, consultations of applicant files,
ballots and their revisions, opinions, referral requests and the member's chat thread with the
agency's staff. Commands read the ``Commission`` (passed in, never loaded here) to check the window
and the member's rights; they append only to this member's stream, so members never contend.

The closing cut-off: the ``Closed`` event records, for each member, the last version of this
stream that counts. A ballot (or opinion, or referral) counts if and only if its event's version is
at most that cut-off. A command that reads the commission as open and commits after the cut-off
was taken is recorded and shown as late, and never counted; one that reads it closed is refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.actor import Actor
from domain.commission import NAMESPACE, Commission, Status
from domain.errors import (
    CommissionClosed,
    InvalidBallot,
    InvalidInput,
    InvalidTransition,
    NoRightOnDwelling,
    NotConsultativeMember,
    NotVotingMember,
    ProxyNotHeld,
    UnknownCandidate,
)
from domain.members import Right, right_on
from domain.reasons import (
    INADMISSIBLE_REASONS,
    NON_ATTRIBUTION_REASONS,
    REFERRAL_REASONS,
    reason,
)

OPINIONS = {
    "favourable": "Avis favorable",
    "unfavourable": "Avis défavorable",
    "reserved": "Avis réservé",
}
LOGIN_METHODS = frozenset({"magic_link", "password", "france_connect", "in_person"})
MAX_MESSAGE_LENGTH = 4000


def activity_id(commission_id: UUID, member_id: str) -> UUID:
    return uuid5(NAMESPACE, f"activity:{commission_id}:{member_id}")


class MemberActivity(Aggregate):
    class Started(Aggregate.Created):
        actor: dict[str, Any]
        commission_id: UUID
        member_id: str

    class Event(Aggregate.Event):
        actor: dict[str, Any]

    class LoggedIn(Event):
        method: str
        session_hash: str  # SHA-256 of the session id; never the raw id, never an IP

        def apply(self, a: MemberActivity) -> None:
            a.logins.append(self.timestamp)

    class FileConsulted(Event):
        dwelling_id: str
        candidate_id: str

        def apply(self, a: MemberActivity) -> None:
            a.consulted.add(self.candidate_id)

    class BallotSubmitted(Event):
        dwelling_id: str
        on_behalf_of: str | None
        ranking: list[str]
        non_attribution: dict[str, dict[str, str]]
        inadmissible: dict[str, dict[str, str]]
        revision: int

        def apply(self, a: MemberActivity) -> None:
            a.ballots[(self.dwelling_id, self.on_behalf_of)] = self

    class OpinionGiven(Event):
        dwelling_id: str
        opinion: str
        candidate_id: str | None  # the candidate the opinion is about, or the dwelling as a whole
        text: str

        def apply(self, a: MemberActivity) -> None:
            a.opinions.append(self)

    class ReferralRequested(Event):
        dwelling_id: str
        reason: dict[str, str]

        def apply(self, a: MemberActivity) -> None:
            a.referrals[self.dwelling_id] = self

    class MessagePosted(Event):
        message_id: str
        author: dict[str, Any]  # the member, or a staff member of the agency
        text: str
        dwelling_id: str | None
        reply_to: str | None  # corrections are new messages pointing to the earlier one

        def apply(self, a: MemberActivity) -> None:
            a.messages[self.message_id] = self

    def __init__(self, actor: dict[str, Any], commission_id: UUID, member_id: str) -> None:
        self.commission_id = commission_id
        self.member_id = member_id
        self.logins: list[datetime] = []
        self.consulted: set[str] = set()
        self.ballots: dict[tuple[str, str | None], MemberActivity.BallotSubmitted] = {}
        self.opinions: list[MemberActivity.OpinionGiven] = []
        self.referrals: dict[str, MemberActivity.ReferralRequested] = {}
        self.messages: dict[str, MemberActivity.MessagePosted] = {}

    @staticmethod
    def create_id(commission_id: UUID, member_id: str) -> UUID:
        return activity_id(commission_id, member_id)

    @classmethod
    def start(cls, *, commission: Commission, member_id: str, at: datetime) -> MemberActivity:
        member = commission.member(member_id)
        return cls._create(
            cls.Started,
            timestamp=at,
            actor=Actor(member.id, member.role.value).to_json(),
            commission_id=commission.id,
            member_id=member_id,
        )

    # ---------------------------------------------------------------- helpers
    def _actor(self, commission: Commission, on_behalf_of: str | None = None) -> dict[str, Any]:
        member = commission.member(self.member_id)
        return Actor(member.id, member.role.value, on_behalf_of).to_json()

    def _check_commission(self, commission: Commission) -> None:
        if commission.id != self.commission_id:
            raise InvalidInput("this activity belongs to another commission")

    # --------------------------------------------------------------- commands
    def log_in(
        self, *, commission: Commission, at: datetime, method: str, session_hash: str
    ) -> None:
        self._check_commission(commission)
        if commission.status in (Status.DRAFT, Status.CANCELLED):
            raise InvalidTransition("members log in once convened")
        if method not in LOGIN_METHODS:
            raise InvalidInput(f"unknown login method {method!r}")
        if len(session_hash) != 64:
            raise InvalidInput("session_hash is the hex SHA-256 of the session id")
        self.trigger_event(
            self.LoggedIn,
            timestamp=at,
            actor=self._actor(commission),
            method=method,
            session_hash=session_hash,
        )

    def consult_file(
        self, *, commission: Commission, at: datetime, dwelling_id: str, candidate_id: str
    ) -> None:
        self._check_commission(commission)
        if commission.status not in (Status.CONVENED, Status.OPEN):
            raise InvalidTransition("applicant files are consulted between convocation and closing")
        scope = commission.dwelling_scope(dwelling_id)
        if right_on(commission.member(self.member_id), scope) is Right.NONE:
            raise NoRightOnDwelling(f"{self.member_id} has no right on dwelling {dwelling_id}")
        if candidate_id not in commission.active_candidates(dwelling_id):
            raise UnknownCandidate(f"{candidate_id!r} is not a candidate for {dwelling_id}")
        self.trigger_event(
            self.FileConsulted,
            timestamp=at,
            actor=self._actor(commission),
            dwelling_id=dwelling_id,
            candidate_id=candidate_id,
        )

    def submit_ballot(
        self,
        *,
        commission: Commission,
        at: datetime,
        dwelling_id: str,
        ranking: list[str],
        non_attribution: dict[str, Any],
        inadmissible: dict[str, Any],
        on_behalf_of: str | None = None,
    ) -> int:
        """Records a ballot (or a revision of it); returns the revision number (1 for the first)."""
        self._check_commission(commission)
        commission.require_open(at)
        scope = commission.dwelling_scope(dwelling_id)
        member = commission.member(self.member_id)
        if not member.is_voting:
            raise NotVotingMember(f"{member.id} is a consultative member and gives opinions only")
        voter = member
        if on_behalf_of is not None:
            if commission.proxies.get(on_behalf_of) != member.id:
                raise ProxyNotHeld(f"{member.id} holds no proxy from {on_behalf_of}")
            voter = commission.member(on_behalf_of)
        if right_on(voter, scope) is not Right.VOTE:
            raise NoRightOnDwelling(f"{voter.id} has no vote on dwelling {dwelling_id}")
        normalised = check_ballot(
            commission.active_candidates(dwelling_id), ranking, non_attribution, inadmissible
        )
        previous = self.ballots.get((dwelling_id, on_behalf_of))
        revision = previous.revision + 1 if previous else 1
        self.trigger_event(
            self.BallotSubmitted,
            timestamp=at,
            actor=self._actor(commission, on_behalf_of),
            dwelling_id=dwelling_id,
            on_behalf_of=on_behalf_of,
            ranking=normalised[0],
            non_attribution=normalised[1],
            inadmissible=normalised[2],
            revision=revision,
        )
        return revision

    def give_opinion(
        self,
        *,
        commission: Commission,
        at: datetime,
        dwelling_id: str,
        opinion: str,
        candidate_id: str | None,
        text: str,
    ) -> None:
        self._check_commission(commission)
        commission.require_open(at)
        member = commission.member(self.member_id)
        scope = commission.dwelling_scope(dwelling_id)
        right = right_on(member, scope)
        if right is Right.VOTE:
            raise NotConsultativeMember("voting members express themselves by their ballot")
        if right is Right.NONE:
            raise NoRightOnDwelling(f"{member.id} has no right on dwelling {dwelling_id}")
        if opinion not in OPINIONS:
            raise InvalidInput(f"unknown opinion {opinion!r}; expected one of {sorted(OPINIONS)}")
        if candidate_id is not None and candidate_id not in commission.active_candidates(
            dwelling_id
        ):
            raise UnknownCandidate(f"{candidate_id!r} is not a candidate for {dwelling_id}")
        self.trigger_event(
            self.OpinionGiven,
            timestamp=at,
            actor=self._actor(commission),
            dwelling_id=dwelling_id,
            opinion=opinion,
            candidate_id=candidate_id,
            text=text.strip(),
        )

    def request_referral(
        self, *, commission: Commission, at: datetime, dwelling_id: str, reason_given: Any
    ) -> None:
        self._check_commission(commission)
        commission.require_open(at)
        member = commission.member(self.member_id)
        if right_on(member, commission.dwelling_scope(dwelling_id)) is not Right.VOTE:
            raise NoRightOnDwelling(
                f"only a voting member with rights on {dwelling_id} may refer it to a session"
            )
        if dwelling_id in self.referrals:
            raise InvalidTransition(f"{member.id} has already referred {dwelling_id}")
        normalised = reason(REFERRAL_REASONS, reason_given)
        self.trigger_event(
            self.ReferralRequested,
            timestamp=at,
            actor=self._actor(commission),
            dwelling_id=dwelling_id,
            reason=normalised,
        )

    def post_message(
        self,
        *,
        commission: Commission,
        at: datetime,
        author: Actor,
        message_id: str,
        text: str,
        dwelling_id: str | None = None,
        reply_to: str | None = None,
    ) -> None:
        """A message in this member's thread, by the member or by the agency's staff."""
        self._check_commission(commission)
        if commission.status in (Status.CLOSED, Status.MINUTES_APPROVED):
            raise CommissionClosed("the chat closes with the commission")
        if commission.status in (Status.DRAFT, Status.CANCELLED):
            raise InvalidTransition("the chat opens with the convocation")
        if author.role != "staff" and author.id != self.member_id:
            raise InvalidInput("a member writes only in their own thread")
        if not text.strip() or len(text) > MAX_MESSAGE_LENGTH:
            raise InvalidInput(f"a message has 1 to {MAX_MESSAGE_LENGTH} characters")
        if message_id in self.messages:
            raise InvalidInput(f"message {message_id!r} already exists")
        if reply_to is not None and reply_to not in self.messages:
            raise InvalidInput(f"message {reply_to!r} is not in this thread")
        if dwelling_id is not None:
            commission.dwelling_scope(dwelling_id)
        self.trigger_event(
            self.MessagePosted,
            timestamp=at,
            actor=author.to_json(),
            message_id=message_id,
            author=author.to_json(),
            text=text,
            dwelling_id=dwelling_id,
            reply_to=reply_to,
        )


def check_ballot(
    candidates: list[str],
    ranking: list[str],
    non_attribution: dict[str, Any],
    inadmissible: dict[str, Any],
) -> tuple[list[str], dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """A ballot ranks candidates in order of priority; every candidate it does not rank is marked
    ``non_attribution`` or ``inadmissible`` with a reason. Returns the normalised ballot."""
    known = set(candidates)
    if len(set(ranking)) != len(ranking):
        raise InvalidBallot("a candidate appears twice in the ranking")
    marked_na = {c: reason(NON_ATTRIBUTION_REASONS, r) for c, r in non_attribution.items()}
    marked_in = {c: reason(INADMISSIBLE_REASONS, r) for c, r in inadmissible.items()}
    mentioned = [*ranking, *marked_na, *marked_in]
    for candidate in mentioned:
        if candidate not in known:
            raise UnknownCandidate(f"{candidate!r} is not a candidate for this dwelling")
    if len(mentioned) != len(set(mentioned)):
        raise InvalidBallot("a candidate is both ranked and marked, or marked twice")
    missing = known - set(mentioned)
    if missing:
        raise InvalidBallot(
            "every candidate is ranked or marked non-attribution/inadmissible with a reason; "
            f"missing: {', '.join(sorted(missing))}"
        )
    return list(ranking), dict(sorted(marked_na.items())), dict(sorted(marked_in.items()))
