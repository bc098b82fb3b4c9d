"""Minutes (procès-verbal, PV) of a closed commission: a pure, deterministic rendering of events.

The minutes are a fold of the commission's stream up to its closing (``Closed`` and
``DecisionsRecorded``) and of every member's activity stream, split at the member's cut-off:
events within the cut-off are the deliberation; ballots, opinions and referrals after it are
listed as late and never counted (``domain/closing.py``). Same events, same bytes, in every format.

What the president approves: :func:`minutes_digest`, the SHA-256 of the canonical JSON (orjson,
sorted keys, compact) of :class:`MinutesContent`. The content holds everything the commission
did and decided, and for each candidate the SHA-256 of the sealed (encrypted) applicant file as
recorded, never the clear personal data: the household summaries and numéros uniques are shown
beside the content (:attr:`Minutes.households`) and are outside the digest, so that erasing an
applicant (right to erasure, end of retention) turns them into "[données effacées]" and leaves
the approved digest valid, exactly as the ledger's hashes cover the ciphertext (DESIGN §5).
The approval itself, the ledger anchor (closing checkpoint) and the digest are shown, not digested.

Public entry points: :func:`build_minutes`, :func:`render_minutes` (json, md, html, pdf) and
:func:`minutes_digest` (used when the president approves).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import orjson
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from domain.closing import dwelling_cases
from domain.commission import EXCEPTION_REASONS, Commission, Status
from domain.decisions.case import DwellingCase
from domain.decisions.decide import (
    break_ties,
    counted_ballots,
    decide,
    method_module,
    rejection,
    voting_members_with_rights,
)
from domain.errors import DomainError
from domain.members import Role, VoteType, casting_voter
from domain.participation import OPINIONS, MemberActivity, activity_id
from ledger.application import CaleolApplication, CommissionNotFound
from ledger.vault import ERASED

__all__ = [
    "ERASED",
    "FORMAT",
    "FORMATS",
    "PARIS",
    "Approval",
    "Household",
    "Minutes",
    "MinutesContent",
    "MinutesNotAvailable",
    "build_minutes",
    "canonical_json",
    "minutes_content",
    "minutes_digest",
    "render_minutes",
]

#: Version of the minutes' content model; part of the digested content.
FORMAT = "caleol-minutes/1"
FORMATS = ("json", "md", "html", "pdf")
PARIS = ZoneInfo("Europe/Paris")
NOT_ANCHORED = "non ancré"
TEMPLATES = Path(__file__).resolve().parent / "templates"

ROLE_LABELS: dict[str, str] = {
    Role.BOARD.value: "Membre désigné par le conseil d'administration",
    Role.TENANT_REPRESENTATIVE.value: "Représentant des locataires",
    Role.MAYOR.value: "Maire de la commune ou son représentant",
    Role.PREFECTURE.value: "Représentant du préfet",
    Role.EPCI.value: "Président de l'EPCI ou son représentant",
    Role.RESERVATION_HOLDER.value: "Réservataire",
    Role.SOCIAL_ENGINEERING.value: "Organisme d'ingénierie sociale (art. L365-3 CCH)",
    Role.ARRONDISSEMENT_MAYOR.value: "Maire d'arrondissement",
}
VOTE_LABELS: dict[str, str] = {
    VoteType.DELIBERATIVE.value: "voix délibérative",
    VoteType.CONSULTATIVE.value: "voix consultative",
}
DECISION_LABELS: dict[str, str] = {
    "attribution": "Attribution",
    "attribution_conditional": "Attribution sous condition suspensive",
    "non_attribution": "Non-attribution",
    "inadmissible": "Rejet pour irrecevabilité",
}
REFERRAL_LABELS: dict[str, str] = {
    "member_request": "renvoi demandé par un membre de la commission",
    "no_quorum": "quorum non atteint",
    "tie_for_first_place": "égalité en première position non départagée",
}
METHOD_LABELS: dict[str, str] = {"schulze": "méthode de Schulze", "borda": "méthode de Borda"}
LATE_KIND_LABELS: dict[str, str] = {
    "ballot": "Bulletin",
    "opinion": "Avis",
    "referral": "Demande de renvoi",
}
OPENED_BY_LABELS: dict[str, str] = {
    "schedule": "automatiquement, à l'heure prévue",
    "staff": "manuellement, par l'agence",
}
RELATION_LABELS: dict[str, tuple[str, str]] = {
    "applicant": ("demandeur", "demandeurs"),
    "spouse": ("conjoint", "conjoints"),
    "child": ("enfant", "enfants"),
    "other": ("autre personne", "autres personnes"),
}


class MinutesNotAvailable(DomainError):
    """The minutes exist once the commission is closed."""

    code = "minutes_not_available"


# ------------------------------------------------------------------------------------- model


@dataclass(frozen=True)
class CommissionHeader:
    id: str
    agency_id: str
    agency: str
    title: str
    mode: str
    convened_at: str | None
    opens_at: str
    closes_at: str
    opened_at: str | None
    opened_by: str | None
    closed_at: str
    closed_by: str
    method: str
    method_version: str
    rules_version: str
    rules: dict[str, Any]


@dataclass(frozen=True)
class MemberLine:
    id: str
    name: str
    role: str
    vote: str
    communes: tuple[str, ...]
    contingent: str | None
    convoked: bool
    first_login: str | None
    logins: int
    files_consulted: int
    #: dwellings on which the member has a vote (voting members) or may give an opinion
    dwellings_in_scope: int
    #: dwellings on which the member's vote counted, cast personally or under their proxy
    votes_counted: int
    votes_in_person: int
    represented_by: str | None
    represents: tuple[str, ...]
    opinions: int
    referrals: int


@dataclass(frozen=True)
class ProxyLine:
    principal: str
    holder: str
    given_at: str
    revoked_at: str | None
    in_force_at_closing: bool


@dataclass(frozen=True)
class VoterLine:
    member: str
    #: "in_person", "by_proxy" (``cast_by`` holds the proxy) or "none"
    status: str
    cast_by: str | None


@dataclass(frozen=True)
class CandidateLine:
    number: int
    candidate_id: str
    sealed_file_sha256: str
    cotation: int | None
    missing_documents: tuple[str, ...]
    decision: str | None  # None: the dwelling was referred
    rank: int | None
    ex_aequo: bool
    reasons: tuple[str, ...]
    condition_deadline_days: int | None
    condition_deadline: str | None  # ISO date, Europe/Paris


@dataclass(frozen=True)
class WithdrawnLine:
    candidate_id: str
    sealed_file_sha256: str
    reason: str


@dataclass(frozen=True)
class TieLine:
    rank: int
    candidates: tuple[int, ...]  # candidate numbers
    #: groups still tied after the casting vote (empty when it broke the tie completely)
    still_tied: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class ReferralLine:
    member: str
    reason: str
    at: str | None


@dataclass(frozen=True)
class OpinionLine:
    member: str
    opinion: str
    candidate: int | None  # candidate number, None for the dwelling as a whole
    text: str
    at: str


@dataclass(frozen=True)
class DwellingSection:
    id: str
    commune: str
    contingent: str | None
    description: dict[str, Any]
    exception: dict[str, str] | None
    status: str  # "decided" | "referred"
    referral_reason: str | None
    quorum_required: int
    quorum_cast: int
    voters: tuple[VoterLine, ...]
    candidates: tuple[CandidateLine, ...]
    withdrawn: tuple[WithdrawnLine, ...]
    ranking: tuple[int, ...]
    ties: tuple[TieLine, ...]
    casting_voter: str | None
    casting_vote_cast: bool
    casting_vote_used: bool
    referrals: tuple[ReferralLine, ...]
    opinions: tuple[OpinionLine, ...]
    method: str
    method_version: str
    #: the decisions recomputed from the counted ballots equal the recorded ones
    recomputed_matches: bool


@dataclass(frozen=True)
class LateLine:
    member: str
    kind: str  # "ballot" | "opinion" | "referral"
    dwelling: str
    on_behalf_of: str | None
    at: str
    version: int
    cutoff: int


@dataclass(frozen=True)
class Summary:
    members_convened: int
    voting_members: int
    consultative_members: int
    members_logged_in: int
    members_voted: int
    proxies_in_force: int
    dwellings: int
    dwellings_decided: int
    dwellings_referred: int
    candidates: int
    late_events: int


@dataclass(frozen=True)
class MinutesContent:
    """What the president approves: its canonical JSON's SHA-256 is the minutes' digest."""

    format: str
    commission: CommissionHeader
    members: tuple[MemberLine, ...]
    proxies: tuple[ProxyLine, ...]
    dwellings: tuple[DwellingSection, ...]
    late: tuple[LateLine, ...]
    summary: Summary

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Household:
    """The minimal household summary shown in the minutes: never a name, never a birth date."""

    numero_unique: str
    size: int | None
    composition: str
    erased: bool


@dataclass(frozen=True)
class Approval:
    president: str
    at: str
    minutes_sha256: str
    matches: bool


@dataclass(frozen=True)
class Minutes:
    content: MinutesContent
    #: candidate id -> household summary (decrypted; outside the digest, see the module doc)
    households: Mapping[str, Household]
    approval: Approval | None
    anchor: Mapping[str, Any] | None = None
    member_names: Mapping[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return hashlib.sha256(canonical_json(self.content.to_json())).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "content": self.content.to_json(),
            "minutes_sha256": self.digest,
            "households": {k: asdict(v) for k, v in sorted(self.households.items())},
            "approval": asdict(self.approval) if self.approval else None,
            "anchor": dict(self.anchor) if self.anchor is not None else None,
        }


def canonical_json(data: Any) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


# ---------------------------------------------------------------------------------- folding


@dataclass
class _Folded:
    commission: Commission
    events: list[Any]
    later_commission_events: list[Any]
    proxy_events: list[Any]
    activities: dict[str, MemberActivity]
    late: list[LateLine]


def _iso(instant: datetime) -> str:
    return instant.isoformat()


def _fold(app: CaleolApplication, commission_id: UUID) -> _Folded:
    """The commission up to its closing and each member's activity up to their cut-off."""
    commission: Any = None
    events: list[Any] = list(app.events.get(commission_id))
    later: list[Any] = []
    proxy_events: list[Any] = []
    closed = False
    for event in events:
        if closed and not isinstance(event, Commission.DecisionsRecorded):
            later.append(event)
            continue
        commission = event.mutate(commission)
        if isinstance(event, Commission.ProxyGiven | Commission.ProxyRevoked):
            proxy_events.append(event)
        if isinstance(event, Commission.Closed):
            closed = True
    if commission is None:
        raise CommissionNotFound(f"no commission {commission_id}")
    assert isinstance(commission, Commission)
    if commission.status is not Status.CLOSED:
        raise MinutesNotAvailable(
            f"the minutes exist once the commission is closed (it is {commission.status.value})"
        )
    activities: dict[str, MemberActivity] = {}
    late: list[LateLine] = []
    for member_id in sorted(commission.members):
        cutoff = commission.cutoff.get(member_id, 0)
        activity: Any = None
        stream: Iterable[Any] = app.events.get(activity_id(commission_id, member_id))
        for event in stream:
            if event.originator_version <= cutoff:
                activity = event.mutate(activity)
                continue
            kind = _late_kind(event)
            if kind is not None:
                late.append(
                    LateLine(
                        member=member_id,
                        kind=kind,
                        dwelling=event.dwelling_id,
                        on_behalf_of=getattr(event, "on_behalf_of", None),
                        at=_iso(event.timestamp),
                        version=event.originator_version,
                        cutoff=cutoff,
                    )
                )
        if activity is not None:
            activities[member_id] = activity
    late.sort(key=lambda line: (line.at, line.member, line.version))
    return _Folded(commission, events, later, proxy_events, activities, late)


def _late_kind(event: Any) -> str | None:
    if isinstance(event, MemberActivity.BallotSubmitted):
        return "ballot"
    if isinstance(event, MemberActivity.OpinionGiven):
        return "opinion"
    if isinstance(event, MemberActivity.ReferralRequested):
        return "referral"
    return None  # logins, consultations and messages after the cut-off are not deliberation


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _paris_date(instant: datetime) -> date:
    return instant.astimezone(PARIS).date()


def _header(commission: Commission, events: list[Any]) -> CommissionHeader:
    assert commission.closed_at is not None
    closed_by = "staff"
    opened_by: str | None = None
    for event in events:
        if isinstance(event, Commission.Closed):
            closed_by = event.by
        elif isinstance(event, Commission.Opened):
            opened_by = event.by
    recorded = next((e for e in events if isinstance(e, Commission.DecisionsRecorded)), None)
    return CommissionHeader(
        id=str(commission.id),
        agency_id=commission.agency_id,
        agency=commission.agency_label,
        title=commission.title,
        mode="numérique",
        convened_at=_iso(commission.convened_at) if commission.convened_at else None,
        opens_at=_iso(commission.opens_at),
        closes_at=_iso(commission.closes_at),
        opened_at=_iso(commission.opened_at) if commission.opened_at else None,
        opened_by=opened_by,
        closed_at=_iso(commission.closed_at),
        closed_by=closed_by,
        method=recorded.method if recorded else commission.rules.method.value,
        method_version=recorded.method_version if recorded else "",
        rules_version=commission.rules.version,
        rules=commission.rules.to_json(),
    )


def _ties(
    case: DwellingCase, numbers: Mapping[str, int], recorded: Mapping[str, Any]
) -> tuple[tuple[TieLine, ...], bool]:
    """The ties of the ranking before the casting vote, and whether the casting ballot counted."""
    ballots = counted_ballots(case)
    mayor = casting_voter(case.members, case.dwelling)
    mayor_ballot = ballots.get(mayor) if mayor is not None else None
    if recorded["status"] == "referred" and recorded["referral_reason"] != "tie_for_first_place":
        return (), mayor_ballot is not None
    counted = list(ballots.values())
    remaining = [c.id for c in case.candidates if rejection(c.id, counted) is None]
    groups = method_module(case.rules).rank(remaining, [b.ranking for b in counted])
    after, _used = break_ties(groups, mayor_ballot.ranking if mayor_ballot else None)
    ties: list[TieLine] = []
    rank = 1
    for group in groups:
        if len(group) > 1:
            members = set(group)
            still = tuple(
                tuple(sorted(numbers[c] for c in sub))
                for sub in after
                if len(sub) > 1 and set(sub) <= members
            )
            ties.append(TieLine(rank, tuple(sorted(numbers[c] for c in group)), still))
        rank += len(group)
    return tuple(ties), mayor_ballot is not None


def _condition_deadline(closed_at: datetime, days: int | None) -> str | None:
    if days is None:
        return None
    return (_paris_date(closed_at) + timedelta(days=days)).isoformat()


def _dwelling_section(
    commission: Commission,
    case: DwellingCase,
    activities: Mapping[str, MemberActivity],
    withdrawn: list[WithdrawnLine],
) -> DwellingSection:
    dwelling_id = case.dwelling.id
    d = commission.dwellings[dwelling_id]
    recorded = commission.decisions.get(dwelling_id)
    if recorded is None:  # pragma: no cover - every dwelling is decided or referred at closing
        recorded = {
            "status": "referred",
            "referral_reason": None,
            "quorum": {"required": 0, "cast": 0},
            "ranking": [],
            "decisions": {},
            "casting_vote_used": False,
            "method": commission.rules.method.value,
            "method_version": "",
            "referrals": [],
        }
    numbers = {cand: n for n, cand in enumerate(d["candidates"], start=1)}
    assert commission.closed_at is not None

    ballots = counted_ballots(case)
    voters = []
    for voter in _by_role(commission, voting_members_with_rights(case)):
        ballot = ballots.get(voter)
        if ballot is None:
            voters.append(VoterLine(voter, "none", None))
        elif ballot.on_behalf_of is not None:
            voters.append(VoterLine(voter, "by_proxy", ballot.member_id))
        else:
            voters.append(VoterLine(voter, "in_person", None))

    decisions: Mapping[str, Any] = recorded["decisions"]
    rank_counts: dict[int, int] = {}
    for item in decisions.values():
        if item.get("rank") is not None:
            rank_counts[item["rank"]] = rank_counts.get(item["rank"], 0) + 1
    candidates = []
    for cand_id in d["candidates"]:
        cand = commission.candidates[cand_id]
        decided = decisions.get(cand_id)
        rank = decided.get("rank") if decided else None
        days = decided.get("condition_deadline_days") if decided else None
        candidates.append(
            CandidateLine(
                number=numbers[cand_id],
                candidate_id=cand_id,
                sealed_file_sha256=_sha256(cand["sealed_file"]),
                cotation=cand["cotation"],
                missing_documents=tuple(cand["missing_documents"]),
                decision=decided["decision"] if decided else None,
                rank=rank,
                ex_aequo=rank is not None and rank_counts.get(rank, 0) > 1,
                reasons=tuple(decided.get("reasons", ())) if decided else (),
                condition_deadline_days=days,
                condition_deadline=_condition_deadline(commission.closed_at, days),
            )
        )

    ties, casting_cast = _ties(case, numbers, recorded)
    referral_times = {
        member: _iso(a.referrals[dwelling_id].timestamp)
        for member, a in activities.items()
        if dwelling_id in a.referrals
    }
    referrals = tuple(
        ReferralLine(r["member"], r["reason"], referral_times.get(r["member"]))
        for r in recorded.get("referrals", [])
    )
    opinions = tuple(
        OpinionLine(
            member=member,
            opinion=o.opinion,
            candidate=numbers.get(o.candidate_id) if o.candidate_id else None,
            text=o.text,
            at=_iso(o.timestamp),
        )
        for member in sorted(activities)
        for o in activities[member].opinions
        if o.dwelling_id == dwelling_id
    )
    try:
        matches = decide(case).to_json() == recorded
    except DomainError:  # pragma: no cover - accepted ballots always make a valid case
        matches = False
    exception = d["exception"]
    return DwellingSection(
        id=dwelling_id,
        commune=d["commune"],
        contingent=d["contingent"],
        description=dict(d["description"]),
        exception=(
            {
                "code": exception["code"],
                "label": EXCEPTION_REASONS.get(exception["code"], exception["code"]),
                "detail": exception["detail"],
            }
            if exception
            else None
        ),
        status=recorded["status"],
        referral_reason=recorded["referral_reason"],
        quorum_required=recorded["quorum"]["required"],
        quorum_cast=recorded["quorum"]["cast"],
        voters=tuple(voters),
        candidates=tuple(candidates),
        withdrawn=tuple(withdrawn),
        ranking=tuple(numbers[c] for c in recorded["ranking"] if c in numbers),
        ties=ties,
        casting_voter=casting_voter(case.members, case.dwelling),
        casting_vote_cast=casting_cast,
        casting_vote_used=bool(recorded["casting_vote_used"]),
        referrals=referrals,
        opinions=opinions,
        method=recorded["method"],
        method_version=recorded["method_version"],
        recomputed_matches=matches,
    )


def _content(app: CaleolApplication, folded: _Folded) -> MinutesContent:
    commission = folded.commission
    header = _header(commission, folded.events)
    cases = {case.dwelling.id: case for case in dwelling_cases(commission, folded.activities)}

    withdrawn: dict[str, list[WithdrawnLine]] = {}
    for cand_id, cand in commission.candidates.items():
        if cand["withdrawn"] is not None:
            withdrawn.setdefault(cand["dwelling_id"], []).append(
                WithdrawnLine(cand_id, _sha256(cand["sealed_file"]), cand["withdrawn"])
            )
    dwellings = tuple(
        _dwelling_section(
            commission,
            cases[dwelling_id],
            folded.activities,
            sorted(withdrawn.get(dwelling_id, []), key=lambda w: w.candidate_id),
        )
        for dwelling_id in sorted(commission.dwellings)
    )

    proxies: list[ProxyLine] = []
    open_proxy: dict[str, int] = {}
    for event in folded.proxy_events:
        if isinstance(event, Commission.ProxyGiven):
            open_proxy[event.principal_id] = len(proxies)
            proxies.append(
                ProxyLine(event.principal_id, event.holder_id, _iso(event.timestamp), None, False)
            )
        else:
            index = open_proxy.pop(event.principal_id)
            line = proxies[index]
            proxies[index] = ProxyLine(
                line.principal, line.holder, line.given_at, _iso(event.timestamp), False
            )
    proxies = [
        ProxyLine(
            p.principal,
            p.holder,
            p.given_at,
            p.revoked_at,
            p.revoked_at is None and commission.proxies.get(p.principal) == p.holder,
        )
        for p in proxies
    ]

    counted_by_voter: dict[str, list[VoterLine]] = {}
    for section in dwellings:
        for voter in section.voters:
            counted_by_voter.setdefault(voter.member, []).append(voter)
    members = []
    for member_id in _by_role(commission, commission.members):
        m = commission.members[member_id]
        activity = folded.activities.get(member_id)
        lines = counted_by_voter.get(member_id, [])
        scope = sum(1 for case in cases.values() if _has_right(commission, member_id, case))
        members.append(
            MemberLine(
                id=m.id,
                name=m.name,
                role=m.role.value,
                vote=m.vote.value,
                communes=tuple(sorted(m.communes)),
                contingent=m.contingent,
                convoked=member_id in commission.convoked,
                first_login=_iso(min(activity.logins)) if activity and activity.logins else None,
                logins=len(activity.logins) if activity else 0,
                files_consulted=len(activity.consulted) if activity else 0,
                dwellings_in_scope=scope,
                votes_counted=sum(1 for v in lines if v.status != "none"),
                votes_in_person=sum(1 for v in lines if v.status == "in_person"),
                represented_by=commission.proxies.get(member_id),
                represents=tuple(sorted(p for p, h in commission.proxies.items() if h == m.id)),
                opinions=len(activity.opinions) if activity else 0,
                referrals=len(activity.referrals) if activity else 0,
            )
        )
    summary = Summary(
        members_convened=len(commission.members),
        voting_members=sum(1 for m in commission.members.values() if m.is_voting),
        consultative_members=sum(1 for m in commission.members.values() if not m.is_voting),
        members_logged_in=sum(1 for m in members if m.first_login is not None),
        members_voted=sum(1 for m in members if m.votes_counted > 0),
        proxies_in_force=len(commission.proxies),
        dwellings=len(dwellings),
        dwellings_decided=sum(1 for d in dwellings if d.status == "decided"),
        dwellings_referred=sum(1 for d in dwellings if d.status == "referred"),
        candidates=sum(len(d.candidates) for d in dwellings),
        late_events=len(folded.late),
    )
    return MinutesContent(
        format=FORMAT,
        commission=header,
        members=tuple(members),
        proxies=tuple(proxies),
        dwellings=dwellings,
        late=tuple(folded.late),
        summary=summary,
    )


_ROLE_ORDER = {role.value: i for i, role in enumerate(Role)}


def _by_role(commission: Commission, member_ids: Iterable[str]) -> list[str]:
    """Member ids in the order of the law's list of roles (CCH L441-2), then by id."""
    return sorted(member_ids, key=lambda m: (_ROLE_ORDER[commission.members[m].role.value], m))


def _has_right(commission: Commission, member_id: str, case: DwellingCase) -> bool:
    return commission.rights_of(member_id, case.dwelling.id) != "none"


def _household(app: CaleolApplication, candidate: Mapping[str, Any]) -> Household:
    file = app.vault.open(candidate["applicant_ref"], candidate["sealed_file"])
    if file is None:
        return Household(numero_unique=ERASED, size=None, composition=ERASED, erased=True)
    counts: dict[str, int] = {}
    for person in file.household:
        relation = person.relation if person.relation in RELATION_LABELS else "other"
        counts[relation] = counts.get(relation, 0) + 1
    parts = []
    for relation, (one, many) in RELATION_LABELS.items():
        n = counts.get(relation, 0)
        if n == 1:
            parts.append(one)
        elif n > 1:
            parts.append(f"{n} {many}")
    size = len(file.household)
    composition = "personne seule" if size == 1 else ", ".join(parts)
    return Household(file.numero_unique, size, composition, erased=False)


def build_minutes(
    app: CaleolApplication, commission_id: UUID, anchor: Mapping[str, Any] | None = None
) -> Minutes:
    """The minutes of a closed commission, from its events (and the vault, for households)."""
    folded = _fold(app, commission_id)
    content = _content(app, folded)
    commission = folded.commission
    households = {
        cand_id: _household(app, commission.candidates[cand_id])
        for section in content.dwellings
        for cand_id in [c.candidate_id for c in section.candidates]
        + [w.candidate_id for w in section.withdrawn]
    }
    digest = hashlib.sha256(canonical_json(content.to_json())).hexdigest()
    approval = None
    for event in folded.later_commission_events:
        if isinstance(event, Commission.MinutesApproved):
            approval = Approval(
                president=event.president_id,
                at=_iso(event.timestamp),
                minutes_sha256=event.minutes_sha256,
                matches=event.minutes_sha256 == digest,
            )
    names = {m.id: m.name or m.id for m in commission.members.values()}
    return Minutes(content, households, approval, anchor, names)


def minutes_content(app: CaleolApplication, commission: Commission) -> dict[str, Any]:
    """The digested content of the minutes, as JSON-ready data."""
    return _content(app, _fold(app, commission.id)).to_json()


def minutes_digest(app: CaleolApplication, commission: Commission) -> str:
    """The SHA-256 the president approves: the canonical JSON of the content up to closing.

    It is computed from the stored events (not from ``commission`` beyond its id), does not
    depend on the approval, on the anchor, nor on the vault (erasures leave it unchanged).
    """
    return hashlib.sha256(canonical_json(minutes_content(app, commission))).hexdigest()


# ------------------------------------------------------------------------- French formatting

_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
NBSP = "\u00a0"


def _parse(value: str | datetime) -> datetime:
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant.astimezone(PARIS)


def fr_date(value: str | datetime | date | None, weekday: bool = False) -> str:
    """ "8 décembre 2026" (or "mardi 8 décembre 2026"), Europe/Paris."""
    if value is None:
        return "—"
    if isinstance(value, str) and len(value) == 10:
        day = date.fromisoformat(value)
    elif isinstance(value, date) and not isinstance(value, datetime):
        day = value
    else:
        assert isinstance(value, str | datetime)
        day = _parse(value).date()
    text = f"{'1er' if day.day == 1 else day.day} {_MONTHS[day.month - 1]} {day.year}"
    return f"{_DAYS[day.weekday()]} {text}" if weekday else text


def fr_time(value: str | datetime) -> str:
    instant = _parse(value)
    return f"{instant.hour}{NBSP}h{NBSP}{instant.minute:02d}"


def fr_datetime(value: str | datetime | None, weekday: bool = True) -> str:
    """ "mardi 8 décembre 2026 à 9 h 00", Europe/Paris."""
    if value is None:
        return "—"
    return f"{fr_date(value, weekday)} à {fr_time(value)}"


def fr_short(value: str | datetime | None) -> str:
    """ "08/12/2026 09:12", Europe/Paris."""
    if value is None:
        return "—"
    instant = _parse(value)
    return instant.strftime("%d/%m/%Y %H:%M")


def fr_int(value: int) -> str:
    text = f"{abs(value):,}".replace(",", NBSP)
    return f"-{text}" if value < 0 else text


def euros(cents: int | None) -> str:
    if cents is None:
        return "—"
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{fr_int(cents // 100)},{cents % 100:02d}{NBSP}€"


def surface(dm2: int | None) -> str:
    if dm2 is None:
        return "—"
    return f"{fr_int(dm2 // 100)},{dm2 % 100:02d}{NBSP}m²"


def floor_label(floor: int | None) -> str:
    if floor is None:
        return "—"
    if floor == 0:
        return "rez-de-chaussée"
    return "1er étage" if floor == 1 else f"{floor}e étage"


def plural(n: int, one: str, many: str) -> str:
    return f"{n}{NBSP}{one if n <= 1 else many}"


def rules_lines(rules: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The RI's parameters, in French."""
    quorum = rules.get("quorum", "half")
    quorum_text = (
        "la moitié au moins des membres à voix délibérative ayant voix sur le logement "
        "(arrondie à l'unité supérieure), présents ou représentés"
        if quorum == "half"
        else plural(int(quorum), "bulletin exprimé", "bulletins exprimés")
    )
    threshold = int(rules.get("referral_threshold", 1))
    return [
        ("Version du règlement intérieur", str(rules.get("version", ""))),
        (
            "Méthode de classement",
            METHOD_LABELS.get(str(rules.get("method")), str(rules.get("method"))),
        ),
        ("Quorum par logement", quorum_text),
        (
            "Pouvoirs par mandataire",
            f"{rules.get('max_proxies_per_holder', 1)} au plus",
        ),
        (
            "Candidats présentés par logement",
            f"{rules.get('min_candidates', 3)} au moins, sauf exception motivée",
        ),
        (
            "Renvoi en séance présentielle",
            f"à la demande de {plural(threshold, 'membre', 'membres')} à voix délibérative "
            "ayant voix sur le logement",
        ),
        (
            "Délai pour lever une condition suspensive",
            plural(int(rules.get("condition_deadline_days", 10)), "jour", "jours"),
        ),
    ]


def anchor_lines(anchor: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """The ledger anchor (closing checkpoint) as label/value pairs; "non ancré" without one."""
    if anchor is None:
        return [("Point de contrôle du registre", NOT_ANCHORED)]
    labels = {
        "origin": "Origine du registre",
        "size": "Taille de l'arbre (nombre d'événements)",
        "root_hash": "Hachage racine",
        "signature": "Signature",
        "key_id": "Clé de signature",
    }
    lines = [(label, str(anchor[key])) for key, label in labels.items() if key in anchor]
    lines += [(str(key), str(anchor[key])) for key in sorted(anchor) if key not in labels]
    return lines


def anchor_short(anchor: Mapping[str, Any] | None) -> str:
    if anchor is None:
        return f"Ancrage du registre : {NOT_ANCHORED}"
    parts = []
    if "size" in anchor:
        parts.append(f"taille {anchor['size']}")
    if "root_hash" in anchor:
        parts.append(f"racine {anchor['root_hash']}")
    return "Ancrage du registre : " + (", ".join(parts) if parts else "point de contrôle fourni")


def member_label(minutes: Minutes, member_id: str | None) -> str:
    if member_id is None:
        return "—"
    return minutes.member_names.get(member_id, member_id)


def role_label(member: MemberLine) -> str:
    label = ROLE_LABELS.get(member.role, member.role)
    if member.communes:
        label += f" (commune{'s' if len(member.communes) > 1 else ''} {', '.join(member.communes)})"
    if member.contingent:
        label += f" (contingent {member.contingent})"
    return label


def decision_label(candidate: CandidateLine) -> str:
    if candidate.decision is None:
        return "Pas de décision (logement renvoyé)"
    label = DECISION_LABELS.get(candidate.decision, candidate.decision)
    if candidate.rank is not None:
        label += f", rang {candidate.rank}" + (" ex æquo" if candidate.ex_aequo else "")
    return label


def reasons_text(candidate: CandidateLine) -> str:
    if candidate.decision == "attribution_conditional":
        docs = ", ".join(candidate.missing_documents)
        deadline = fr_date(candidate.condition_deadline)
        return f"Pièce(s) à produire : {docs} ; au plus tard le {deadline}"
    return " ; ".join(candidate.reasons) if candidate.reasons else "—"


def voter_status(minutes: Minutes, voter: VoterLine) -> str:
    if voter.status == "in_person":
        return "a voté"
    if voter.status == "by_proxy":
        holder = member_label(minutes, voter.cast_by)
        return f"représenté(e), vote exprimé par son mandataire {holder}"
    return "n'a pas voté"


def tie_text(minutes: Minutes, section: DwellingSection, tie: TieLine) -> str:
    text = f"Égalité au rang {tie.rank} entre les candidats {_numbers(tie.candidates)}"
    if not tie.still_tied:
        who = member_label(minutes, section.casting_voter)
        return text + f" : départagée par la voix prépondérante ({who})."
    rest = " ; ".join(_numbers(group) for group in tie.still_tied)
    return text + f" : non départagée (restent à égalité : {rest})."


def _numbers(numbers: Iterable[int]) -> str:
    items = [f"n°{NBSP}{n}" for n in numbers]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " et " + items[-1]


def tie_lines(minutes: Minutes, section: DwellingSection) -> list[str]:
    """The ties of the ranking and the casting vote; none for a dwelling referred unranked."""
    if section.status == "referred" and section.referral_reason != "tie_for_first_place":
        return []
    ties = [tie_text(minutes, section, tie) for tie in section.ties]
    return [*(ties or ["Aucune égalité au classement."]), casting_text(minutes, section)]


def approval_text(minutes: Minutes) -> str:
    approval = minutes.approval
    if approval is None:
        return "En attente d'approbation par le président de la commission."
    return (
        f"Procès-verbal approuvé et signé le {fr_datetime(approval.at)} par "
        f"{member_label(minutes, approval.president)}, pour la présidence de la commission."
    )


def casting_text(minutes: Minutes, section: DwellingSection) -> str:
    if section.casting_voter is None:
        return "Voix prépondérante : aucun maire de la commune du logement n'est membre."
    who = member_label(minutes, section.casting_voter)
    if section.casting_vote_used:
        return f"Voix prépondérante ({who}) : utilisée pour départager une égalité."
    if not section.casting_vote_cast:
        return f"Voix prépondérante ({who}) : sans objet, aucun bulletin de sa part n'est compté."
    return f"Voix prépondérante ({who}) : non utilisée, aucune égalité à départager."


def referral_reason_label(section: DwellingSection) -> str:
    if section.referral_reason is None:
        return ""
    return REFERRAL_LABELS.get(section.referral_reason, section.referral_reason)


def opinion_label(code: str) -> str:
    return OPINIONS.get(code, code)


def dwelling_title(section: DwellingSection) -> str:
    address = section.description.get("address")
    return f"Logement {section.id}" + (f" — {address}" if address else "")


def dwelling_lines(section: DwellingSection) -> list[tuple[str, str]]:
    d = section.description
    described: list[tuple[str, str, Callable[[Any], str]]] = [
        ("address", "Adresse", str),
        ("typology", "Typologie", str),
        ("surface_dm2", "Surface habitable", surface),
        ("floor", "Étage", floor_label),
        ("rent_cents", "Loyer mensuel hors charges", euros),
        ("charges_cents", "Charges mensuelles", euros),
        ("financing", "Financement", str),
    ]
    lines = [(label, show(d[key])) for key, label, show in described if d.get(key) is not None]
    lines.insert(1 if "address" in d else 0, ("Commune (code INSEE)", section.commune))
    lines.append(("Contingent", section.contingent or "bailleur (non réservé)"))
    if section.exception:
        lines.append(
            (
                "Exception au nombre minimal de candidats",
                f"{section.exception['label']} — {section.exception['detail']}",
            )
        )
    return lines


def quorum_text(section: DwellingSection) -> str:
    reached = section.quorum_cast >= section.quorum_required
    cast = plural(section.quorum_cast, "bulletin compté", "bulletins comptés")
    return f"{cast} pour {section.quorum_required} requis : " + (
        "quorum atteint" if reached else "quorum non atteint"
    )


def ranking_text(section: DwellingSection) -> str:
    if not section.ranking:
        return "—"
    return " ; ".join(
        f"{i}.{NBSP}candidat n°{NBSP}{n}" for i, n in enumerate(section.ranking, start=1)
    )


def method_label(method: str) -> str:
    return METHOD_LABELS.get(method, method)


def participation(member: MemberLine) -> str:
    if member.vote == VoteType.CONSULTATIVE.value:
        text = plural(member.opinions, "avis donné", "avis donnés")
    else:
        text = (
            f"a voté pour {plural(member.votes_counted, 'logement', 'logements')} "
            f"sur {member.dwellings_in_scope}"
            + (
                f", dont {member.votes_counted - member.votes_in_person} par pouvoir"
                if member.votes_counted > member.votes_in_person
                else ""
            )
        )
    if member.referrals:
        text += f" ; {plural(member.referrals, 'demande', 'demandes')} de renvoi"
    return text


def proxy_text(minutes: Minutes, member: MemberLine) -> str:
    parts = []
    if member.represented_by:
        parts.append(f"représenté(e) par {member_label(minutes, member.represented_by)}")
    if member.represents:
        who = ", ".join(member_label(minutes, p) for p in member.represents)
        parts.append(f"mandataire de {who}")
    return " ; ".join(parts) if parts else "—"


def recomputation_text(section: DwellingSection) -> str:
    if section.recomputed_matches:
        return (
            "Décisions recalculées à partir des bulletins comptés : identiques aux décisions "
            "enregistrées à la clôture."
        )
    return (
        "ATTENTION : les décisions recalculées à partir des bulletins comptés diffèrent des "
        "décisions enregistrées à la clôture."
    )


def closed_by_label(by: str) -> str:
    return OPENED_BY_LABELS.get(by, by)


def household_text(household: Household | None) -> str:
    if household is None or household.erased:
        return ERASED
    if household.size == 1:
        return "personne seule"
    return f"{plural(household.size or 0, 'personne', 'personnes')} ({household.composition})"


# -------------------------------------------------------------------------------- rendering


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The Jinja2 environment of the minutes and letters: HTML autoescaped, strict undefined."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(
            enabled_extensions=("html", "html.j2"), default_for_string=True, default=False
        ),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        fr_date=fr_date,
        fr_datetime=fr_datetime,
        fr_short=fr_short,
        md=md_escape,
        mdcell=md_cell,
    )
    env.globals.update(
        ERASED=ERASED,
        NBSP=NBSP,
        ROLE_LABELS=ROLE_LABELS,
        VOTE_LABELS=VOTE_LABELS,
        LATE_KIND_LABELS=LATE_KIND_LABELS,
        anchor_lines=anchor_lines,
        anchor_short=anchor_short,
        casting_text=casting_text,
        closed_by_label=closed_by_label,
        decision_label=decision_label,
        dwelling_lines=dwelling_lines,
        dwelling_title=dwelling_title,
        household_text=household_text,
        member_label=member_label,
        method_label=method_label,
        participation=participation,
        proxy_text=proxy_text,
        recomputation_text=recomputation_text,
        opinion_label=opinion_label,
        quorum_text=quorum_text,
        ranking_text=ranking_text,
        reasons_text=reasons_text,
        referral_reason_label=referral_reason_label,
        role_label=role_label,
        rules_lines=rules_lines,
        tie_lines=tie_lines,
        approval_text=approval_text,
        voter_status=voter_status,
        plural=plural,
    )
    return env


#: Inline Markdown: the characters that could start emphasis, code, links, HTML, tables,
#: strike-through or entities. Values never start a line, so list and heading markers are inert.
_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|~&"})


def md_escape(value: Any) -> str:
    """Markdown-escapes text that comes from the events (names, reasons, free text)."""
    if value == ERASED:  # our own marker, never a link: kept readable
        return ERASED
    return " ".join(str(value).split()).translate(_MD_SPECIAL)


def md_cell(value: Any) -> str:
    return md_escape(value) or " "


def _template_context(minutes: Minutes) -> dict[str, Any]:
    return {
        "m": minutes,
        "c": minutes.content.commission,
        "content": minutes.content,
        "digest": minutes.digest,
        "anchor": minutes.anchor,
    }


def render_minutes(
    app: CaleolApplication,
    commission_id: UUID,
    fmt: str,
    anchor: dict[str, Any] | None = None,
) -> bytes:
    """The minutes as ``json``, ``md``, ``html`` or ``pdf`` bytes; same events, same bytes."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown minutes format {fmt!r}; expected one of {', '.join(FORMATS)}")
    minutes = build_minutes(app, commission_id, anchor)
    return render(minutes, fmt)


def render(minutes: Minutes, fmt: str) -> bytes:
    if fmt == "json":
        return canonical_json(minutes.to_json())
    if fmt in ("md", "html"):
        template = environment().get_template(f"minutes.{fmt}.j2")
        return template.render(_template_context(minutes)).encode()
    if fmt == "pdf":
        from projections.pdf import minutes_pdf

        return minutes_pdf(minutes)
    raise ValueError(f"unknown minutes format {fmt!r}; expected one of {', '.join(FORMATS)}")
