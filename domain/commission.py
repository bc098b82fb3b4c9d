"""The ``Commission`` aggregate: a commission's setup and lifecycle (DESIGN §3).

Aggregate boundary: setup (members, dwellings, candidates, exceptions), lifecycle (convocation,
opening, closing, decisions, minutes) and proxies live here; they are written by staff, the
scheduler and, for proxies, occasionally by members. Each member's own activity (logins,
consultations, ballots, opinions, chat, referrals) lives in a ``MemberActivity`` stream of its own
(``domain.participation``), so two hundred members ranking at once never contend for this
aggregate's version.

Every command takes the instant ``at`` from an injected clock and the ``actor``; nothing here reads
the time or does I/O. Every broken rule raises a named ``DomainError`` and records nothing.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.actor import Actor
from domain.convocation import MemberConvenedEvent
from domain.errors import (
    CommissionClosed,
    DomainError,
    DuplicateEntity,
    IncompleteSetup,
    InvalidInput,
    InvalidTransition,
    NotVotingMember,
    OutsideWindow,
    ProxyChained,
    ProxyError,
    ProxyLimitReached,
    TooFewCandidates,
    UnknownCandidate,
    UnknownDwelling,
    UnknownMember,
)
from domain.members import (
    DwellingScope,
    Member,
    Role,
    VoteType,
    expected_vote_type,
    right_on,
)
from domain.rules import Rules

NAMESPACE = UUID("6f0b8f5e-6a31-4d7e-9d0c-2f4c4a8e7c11")


class Status(StrEnum):
    DRAFT = "draft"
    CONVENED = "convened"
    OPEN = "open"
    CLOSED = "closed"
    MINUTES_APPROVED = "minutes_approved"
    CANCELLED = "cancelled"


#: The documented cases where a dwelling may have fewer candidates than the RI's minimum.
EXCEPTION_REASONS = {
    "not_enough_applicants": "Insuffisance du nombre des candidats",
    "dalo_designated": "Candidat désigné par le préfet au titre du DALO",
    "specially_funded": "Logement financé spécifiquement (PLAI adapté, résidence sociale…)",
}


def _aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{name} must be a timezone-aware instant")


class Commission(Aggregate):
    # ----------------------------------------------------------------- events
    class Scheduled(Aggregate.Created):
        actor: dict[str, Any]
        agency_id: str
        landlord: str
        agency_name: str
        title: str
        rules: dict[str, Any]
        opens_at: datetime
        closes_at: datetime

    class Event(Aggregate.Event):
        actor: dict[str, Any]

    class MemberConvened(MemberConvenedEvent, Event):
        pass

    class ConvocationSent(Event):
        member_ids: list[str]

        def apply(self, c: Commission) -> None:
            c.convoked.update(self.member_ids)
            if c.status is Status.DRAFT:
                c.status = Status.CONVENED
                c.convened_at = self.timestamp

    class DwellingListed(Event):
        dwelling_id: str
        commune: str
        contingent: str | None
        description: dict[str, Any]  # address, typology, surface, rent and charges in cents

        def apply(self, c: Commission) -> None:
            c.dwellings[self.dwelling_id] = {
                "id": self.dwelling_id,
                "commune": self.commune,
                "contingent": self.contingent,
                "description": self.description,
                "candidates": [],
                "exception": None,
            }

    class CandidatePresented(Event):
        dwelling_id: str
        candidate_id: str
        applicant_ref: str  # the per-applicant key reference; the clear file is sealed
        sealed_file: str
        missing_documents: list[str]
        cotation: int | None

        def apply(self, c: Commission) -> None:
            c.candidates[self.candidate_id] = {
                "id": self.candidate_id,
                "dwelling_id": self.dwelling_id,
                "applicant_ref": self.applicant_ref,
                "sealed_file": self.sealed_file,
                "missing_documents": list(self.missing_documents),
                "cotation": self.cotation,
                "withdrawn": None,
            }
            c.dwellings[self.dwelling_id]["candidates"].append(self.candidate_id)

    class CandidateWithdrawn(Event):
        candidate_id: str
        reason: str

        def apply(self, c: Commission) -> None:
            candidate = c.candidates[self.candidate_id]
            candidate["withdrawn"] = self.reason
            c.dwellings[candidate["dwelling_id"]]["candidates"].remove(self.candidate_id)

    class ExceptionStated(Event):
        dwelling_id: str
        reason_code: str
        detail: str

        def apply(self, c: Commission) -> None:
            c.dwellings[self.dwelling_id]["exception"] = {
                "code": self.reason_code,
                "detail": self.detail,
            }

    class Opened(Event):
        by: str  # "schedule" or "staff"

        def apply(self, c: Commission) -> None:
            c.status = Status.OPEN
            c.opened_at = self.timestamp

    class ProxyGiven(Event):
        principal_id: str
        holder_id: str

        def apply(self, c: Commission) -> None:
            c.proxies[self.principal_id] = self.holder_id

    class ProxyRevoked(Event):
        principal_id: str

        def apply(self, c: Commission) -> None:
            del c.proxies[self.principal_id]

    class Closed(Event):
        by: str
        #: member id -> last version of their activity stream that counts (the cut-off)
        cutoff: dict[str, int]

        def apply(self, c: Commission) -> None:
            c.status = Status.CLOSED
            c.closed_at = self.timestamp
            c.cutoff = dict(self.cutoff)

    class DecisionsRecorded(Event):
        method: str
        method_version: str
        decisions: list[dict[str, Any]]
        late_ballots: list[dict[str, Any]]

        def apply(self, c: Commission) -> None:
            c.decisions = {d["dwelling"]: d for d in self.decisions}
            c.late_ballots = list(self.late_ballots)

    class MinutesApproved(Event):
        president_id: str
        minutes_sha256: str

        def apply(self, c: Commission) -> None:
            c.status = Status.MINUTES_APPROVED
            c.minutes_sha256 = self.minutes_sha256

    class Cancelled(Event):
        reason: str

        def apply(self, c: Commission) -> None:
            c.status = Status.CANCELLED

    # ------------------------------------------------------------------ state
    def __init__(
        self,
        actor: dict[str, Any],
        agency_id: str,
        landlord: str,
        agency_name: str,
        title: str,
        rules: dict[str, Any],
        opens_at: datetime,
        closes_at: datetime,
    ) -> None:
        self.created_by = actor
        self.agency_id = agency_id
        self.landlord = landlord
        self.agency_name = agency_name
        self.title = title
        self.rules = Rules.from_json(rules)
        self.opens_at = opens_at
        self.closes_at = closes_at
        self.status = Status.DRAFT
        self.members: dict[str, Member] = {}
        self.convoked: set[str] = set()
        self.dwellings: dict[str, dict[str, Any]] = {}
        self.candidates: dict[str, dict[str, Any]] = {}
        self.proxies: dict[str, str] = {}
        self.convened_at: datetime | None = None
        self.opened_at: datetime | None = None
        self.closed_at: datetime | None = None
        self.cutoff: dict[str, int] = {}
        self.decisions: dict[str, dict[str, Any]] = {}
        self.late_ballots: list[dict[str, Any]] = []
        self.minutes_sha256: str | None = None

    @staticmethod
    def create_id(agency_id: str, title: str, opens_at: datetime) -> UUID:
        # Deterministic: the same agency cannot schedule the same commission twice by accident.
        return uuid5(NAMESPACE, f"commission:{agency_id}:{title}:{opens_at.isoformat()}")

    @classmethod
    def schedule(
        cls,
        *,
        actor: Actor,
        at: datetime,
        agency_id: str,
        title: str,
        rules: Rules,
        opens_at: datetime,
        closes_at: datetime,
        landlord: str = "",
        agency_name: str = "",
    ) -> Commission:
        _aware(opens_at, "opens_at")
        _aware(closes_at, "closes_at")
        if not agency_id or not title.strip():
            raise InvalidInput("a commission needs an agency and a title")
        if closes_at <= opens_at:
            raise InvalidInput("the commission must close after it opens")
        if opens_at < at:
            raise InvalidInput("the opening cannot be scheduled in the past")
        return cls._create(
            cls.Scheduled,
            timestamp=at,
            actor=actor.to_json(),
            agency_id=agency_id,
            landlord=landlord.strip(),
            agency_name=agency_name.strip() or agency_id,
            title=title.strip(),
            rules=rules.to_json(),
            opens_at=opens_at,
            closes_at=closes_at,
        )

    # ------------------------------------------------------------------ queries
    @property
    def agency_label(self) -> str:
        """How documents name the agency: "Landlord — Agency", or the agency alone."""
        if self.landlord and self.landlord not in self.agency_name:
            return f"{self.landlord} — {self.agency_name}"
        return self.agency_name

    def dwelling_scope(self, dwelling_id: str) -> DwellingScope:
        try:
            d = self.dwellings[dwelling_id]
        except KeyError:
            raise UnknownDwelling(f"unknown dwelling {dwelling_id!r}") from None
        return DwellingScope(id=d["id"], commune=d["commune"], contingent=d["contingent"])

    def member(self, member_id: str) -> Member:
        try:
            return self.members[member_id]
        except KeyError:
            raise UnknownMember(f"member {member_id!r} is not convened") from None

    def active_candidates(self, dwelling_id: str) -> list[str]:
        return list(self.dwellings[dwelling_id]["candidates"])

    def is_open_at(self, at: datetime) -> bool:
        """The window: opened (on schedule or by hand), not closed, before the closing instant."""
        return self.status is Status.OPEN and at < self.closes_at

    def require_open(self, at: datetime) -> None:
        if self.status in (Status.CLOSED, Status.MINUTES_APPROVED):
            raise CommissionClosed("the commission is closed")
        if not self.is_open_at(at):
            raise OutsideWindow(
                f"the commission is not open (status {self.status.value}); "
                "ballots, referrals and proxies are accepted only during the window"
            )

    def holders_load(self, holder_id: str) -> int:
        return sum(1 for h in self.proxies.values() if h == holder_id)

    def setup_problems(self) -> list[DomainError]:
        """Why the commission cannot open yet, one error per problem; empty when it can."""
        problems: list[DomainError] = []
        if not self.dwellings:
            problems.append(IncompleteSetup("no dwelling listed"))
        if not any(m.is_voting for m in self.members.values()):
            problems.append(IncompleteSetup("no voting member convened"))
        unconvoked = sorted(set(self.members) - self.convoked)
        if unconvoked:
            problems.append(
                IncompleteSetup(f"members not sent a convocation: {', '.join(unconvoked)}")
            )
        minimum = self.rules.min_candidates
        for d in self.dwellings.values():
            n = len(d["candidates"])
            if n < minimum and (n == 0 or d["exception"] is None):
                problems.append(
                    TooFewCandidates(
                        f"dwelling {d['id']} has {n} candidate(s), fewer than {minimum}, "
                        "and no stated exception"
                        if n
                        else f"dwelling {d['id']} has no candidate"
                    )
                )
        return problems

    # ------------------------------------------------------------------ setup
    def _require_setup(self) -> None:
        if self.status not in (Status.DRAFT, Status.CONVENED):
            raise InvalidTransition(
                f"the setup cannot change once the commission is {self.status.value}"
            )

    def convene_member(self, *, actor: Actor, at: datetime, member: Member) -> None:
        self._require_setup()
        if member.id in self.members:
            raise DuplicateEntity(f"member {member.id!r} is already convened")
        if not member.id:
            raise InvalidInput("a member needs an id")
        if member.vote is VoteType.DELIBERATIVE and expected_vote_type(member.role) is not (
            VoteType.DELIBERATIVE
        ):
            raise InvalidInput(f"a {member.role.value} member is consultative, never deliberative")
        if member.role is Role.MAYOR and not member.communes:
            raise InvalidInput("a mayor's convocation names the commune(s) they represent")
        if member.role is Role.RESERVATION_HOLDER and not member.contingent:
            raise InvalidInput("a reservation holder's convocation names its contingent")
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

    def send_convocations(self, *, actor: Actor, at: datetime) -> list[str]:
        """Records the convocation of every member not yet convoked; returns their ids."""
        self._require_setup()
        pending = sorted(set(self.members) - self.convoked)
        if not pending:
            raise InvalidTransition("every convened member has already been sent a convocation")
        if at >= self.opens_at:
            raise InvalidTransition("convocations must be sent before the opening")
        self.trigger_event(
            self.ConvocationSent, timestamp=at, actor=actor.to_json(), member_ids=pending
        )
        return pending

    def list_dwelling(
        self,
        *,
        actor: Actor,
        at: datetime,
        dwelling_id: str,
        commune: str,
        contingent: str | None,
        description: dict[str, Any],
    ) -> None:
        self._require_setup()
        if not dwelling_id or not commune:
            raise InvalidInput("a dwelling needs an id and a commune (INSEE code)")
        if dwelling_id in self.dwellings:
            raise DuplicateEntity(f"dwelling {dwelling_id!r} is already listed")
        self.trigger_event(
            self.DwellingListed,
            timestamp=at,
            actor=actor.to_json(),
            dwelling_id=dwelling_id,
            commune=commune,
            contingent=contingent,
            description=dict(description),
        )

    def present_candidate(
        self,
        *,
        actor: Actor,
        at: datetime,
        dwelling_id: str,
        candidate_id: str,
        applicant_ref: str,
        sealed_file: str,
        missing_documents: list[str],
        cotation: int | None,
    ) -> None:
        """Presents a file already validated (``domain.applicants.ApplicantFile``) and sealed."""
        self._require_setup()
        self.dwelling_scope(dwelling_id)
        if candidate_id in self.candidates:
            raise DuplicateEntity(f"candidate {candidate_id!r} is already presented")
        if not applicant_ref or not sealed_file:
            raise InvalidInput("a candidate is presented with its sealed applicant file")
        for other in self.dwellings[dwelling_id]["candidates"]:
            if self.candidates[other]["applicant_ref"] == applicant_ref:
                raise DuplicateEntity("this applicant is already a candidate for this dwelling")
        self.trigger_event(
            self.CandidatePresented,
            timestamp=at,
            actor=actor.to_json(),
            dwelling_id=dwelling_id,
            candidate_id=candidate_id,
            applicant_ref=applicant_ref,
            sealed_file=sealed_file,
            missing_documents=list(missing_documents),
            cotation=cotation,
        )

    def withdraw_candidate(
        self, *, actor: Actor, at: datetime, candidate_id: str, reason: str
    ) -> None:
        self._require_setup()
        candidate = self.candidates.get(candidate_id)
        if candidate is None or candidate["withdrawn"] is not None:
            raise UnknownCandidate(f"no presented candidate {candidate_id!r}")
        if not reason.strip():
            raise InvalidInput("a withdrawal states its reason")
        self.trigger_event(
            self.CandidateWithdrawn,
            timestamp=at,
            actor=actor.to_json(),
            candidate_id=candidate_id,
            reason=reason.strip(),
        )

    def state_exception(
        self, *, actor: Actor, at: datetime, dwelling_id: str, reason_code: str, detail: str
    ) -> None:
        """States why a dwelling is presented with fewer candidates than the minimum."""
        self._require_setup()
        self.dwelling_scope(dwelling_id)
        if reason_code not in EXCEPTION_REASONS:
            raise InvalidInput(
                f"unknown exception {reason_code!r}; expected one of {sorted(EXCEPTION_REASONS)}"
            )
        if not detail.strip():
            raise InvalidInput("an exception to the minimum of candidates states its detail")
        self.trigger_event(
            self.ExceptionStated,
            timestamp=at,
            actor=actor.to_json(),
            dwelling_id=dwelling_id,
            reason_code=reason_code,
            detail=detail.strip(),
        )

    # -------------------------------------------------------------- lifecycle
    def open(self, *, actor: Actor, at: datetime, by: str = "staff") -> None:
        if self.status is not Status.CONVENED:
            raise InvalidTransition(f"only a convened commission opens (it is {self.status.value})")
        if at >= self.closes_at:
            raise OutsideWindow("the closing instant has passed; the commission cannot open")
        if by == "schedule" and at < self.opens_at:
            raise OutsideWindow("the scheduled opening instant has not come yet")
        problems = self.setup_problems()
        if problems:
            # The first problem names the error; the message lists them all.
            raise type(problems[0])(
                "the commission cannot open: " + "; ".join(str(p) for p in problems)
            )
        self.trigger_event(self.Opened, timestamp=at, actor=actor.to_json(), by=by)

    def close(
        self,
        *,
        actor: Actor,
        at: datetime,
        cutoff: dict[str, int],
        decisions: list[dict[str, Any]],
        late_ballots: list[dict[str, Any]],
        by: str = "staff",
    ) -> None:
        """Closes and records the decisions in one step (the application computes them).

        ``cutoff`` gives, for each member, the last version of their activity stream that counts:
        a ballot counts if and only if its event's version is at most the cut-off of its stream.
        """
        if self.status is not Status.OPEN:
            raise InvalidTransition(f"only an open commission closes (it is {self.status.value})")
        if by == "schedule" and at < self.closes_at:
            raise OutsideWindow("the scheduled closing instant has not come yet")
        self.trigger_event(self.Closed, timestamp=at, actor=actor.to_json(), by=by, cutoff=cutoff)
        methods = {str(d.get("method", self.rules.method.value)) for d in decisions}
        versions = {str(d.get("method_version", "")) for d in decisions}
        self.trigger_event(
            self.DecisionsRecorded,
            timestamp=at,
            actor=actor.to_json(),
            method=methods.pop() if len(methods) == 1 else self.rules.method.value,
            method_version=versions.pop() if len(versions) == 1 else "",
            decisions=decisions,
            late_ballots=late_ballots,
        )

    def approve_minutes(
        self, *, actor: Actor, at: datetime, president_id: str, minutes_sha256: str
    ) -> None:
        if self.status is not Status.CLOSED:
            raise InvalidTransition("minutes are approved once, after closing")
        president = self.member(president_id)
        if not president.is_voting or president.role not in (
            Role.BOARD,
            Role.TENANT_REPRESENTATIVE,
        ):
            raise NotVotingMember(
                "the president is one of the members designated by the landlord's board"
            )
        if len(minutes_sha256) != 64 or any(ch not in "0123456789abcdef" for ch in minutes_sha256):
            raise InvalidInput("minutes_sha256 must be a lower-case hex SHA-256")
        self.trigger_event(
            self.MinutesApproved,
            timestamp=at,
            actor=actor.to_json(),
            president_id=president_id,
            minutes_sha256=minutes_sha256,
        )

    def cancel(self, *, actor: Actor, at: datetime, reason: str) -> None:
        if self.status not in (Status.DRAFT, Status.CONVENED):
            raise InvalidTransition(f"a {self.status.value} commission cannot be cancelled")
        if not reason.strip():
            raise InvalidInput("a cancellation states its reason")
        self.trigger_event(self.Cancelled, timestamp=at, actor=actor.to_json(), reason=reason)

    # ---------------------------------------------------------------- proxies
    def give_proxy(self, *, actor: Actor, at: datetime, principal_id: str, holder_id: str) -> None:
        self.require_open(at)
        principal, holder = self.member(principal_id), self.member(holder_id)
        if not principal.is_voting or not holder.is_voting:
            raise NotVotingMember("a proxy is given by a voting member to another voting member")
        if principal_id == holder_id:
            raise ProxyError("a member cannot give a proxy to themselves")
        if principal_id in self.proxies:
            raise ProxyError(f"{principal_id} has already given a proxy; revoke it first")
        if holder_id in self.proxies:
            raise ProxyChained(f"{holder_id} has given their own proxy and cannot hold one")
        if principal_id in self.proxies.values():
            raise ProxyChained(f"{principal_id} holds a proxy and cannot pass their vote on")
        if self.holders_load(holder_id) >= self.rules.max_proxies_per_holder:
            raise ProxyLimitReached(
                f"{holder_id} already holds {self.rules.max_proxies_per_holder} proxy(ies), "
                "the maximum set by the rules"
            )
        self.trigger_event(
            self.ProxyGiven,
            timestamp=at,
            actor=actor.to_json(),
            principal_id=principal_id,
            holder_id=holder_id,
        )

    def revoke_proxy(self, *, actor: Actor, at: datetime, principal_id: str) -> None:
        self.require_open(at)
        if principal_id not in self.proxies:
            raise ProxyError(f"{principal_id} has no proxy in force")
        self.trigger_event(
            self.ProxyRevoked, timestamp=at, actor=actor.to_json(), principal_id=principal_id
        )

    def rights_of(self, member_id: str, dwelling_id: str) -> str:
        return right_on(self.member(member_id), self.dwelling_scope(dwelling_id)).value
