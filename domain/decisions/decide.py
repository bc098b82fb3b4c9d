"""Deciding one dwelling at closing (DESIGN §3 "Decisions at closing", CCH R441-3).

:func:`validate_case` checks a case and raises the named error of the first problem found;
:func:`decide` validates, then applies, in this order:

1. referral: enough distinct voting members with rights on the dwelling asked for it;
2. quorum: enough voting members with rights cast a ballot (themselves or by proxy);
3. rejections: a candidate marked ``inadmissible`` or ``non_attribution`` by a strict majority of
   the counted ballots is decided so (the mark with more ballots; equal: non-attribution);
4. the remaining candidates are ranked by the RI's method (Schulze or Borda);
5. ties are broken by the ballot of the mayor of the dwelling's commune (casting vote); an
   unbroken tie for first place refers the dwelling to an in-person session;
6. remaining candidates get ``attribution`` with their rank, or ``attribution_conditional``
   when their file lacks documents.

Pure and deterministic: the outcome depends on no dict or set order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Protocol

from domain.decisions import borda, schulze
from domain.decisions.case import (
    CandidateDecision,
    CaseBallot,
    DwellingCase,
    DwellingDecision,
)
from domain.decisions.orders import BallotOrder, TieGroups, competition_ranks, flatten
from domain.errors import (
    DuplicateEntity,
    InvalidBallot,
    InvalidInput,
    NoRightOnDwelling,
    NotVotingMember,
    ProxyChained,
    ProxyError,
    ProxyLimitReached,
    ProxyNotHeld,
    UnknownCandidate,
    UnknownMember,
)
from domain.members import (
    CONSULTATIVE_ROLES,
    Member,
    Right,
    VoteType,
    casting_voter,
    right_on,
)
from domain.rules import Method, Rules

__all__ = [
    "METHODS",
    "break_ties",
    "counted_ballots",
    "decide",
    "method_module",
    "rejection",
    "validate_case",
    "voting_members_with_rights",
]


class RankingMethod(Protocol):
    NAME: str
    VERSION: str

    def rank(self, candidates: Sequence[str], ballots: Sequence[BallotOrder]) -> TieGroups: ...


METHODS: Mapping[Method, RankingMethod] = {Method.SCHULZE: schulze, Method.BORDA: borda}


def method_module(rules: Rules) -> RankingMethod:
    return METHODS[rules.method]


# --------------------------------------------------------------------------------------------
# validation


def _nonempty_str(value: object) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _validate_members(case: DwellingCase) -> dict[str, Member]:
    members: dict[str, Member] = {}
    for member in case.members:
        if not _nonempty_str(member.id):
            raise InvalidInput(f"member id must be a non-empty string, not {member.id!r}")
        if member.id in members:
            raise DuplicateEntity(f"member {member.id!r} listed twice")
        if member.role in CONSULTATIVE_ROLES and member.vote is VoteType.DELIBERATIVE:
            raise InvalidInput(
                f"member {member.id!r} is a {member.role.value}: the law makes it consultative, "
                "it cannot be deliberative"
            )
        members[member.id] = member
    return members


def _validate_candidates(case: DwellingCase) -> set[str]:
    if not case.candidates:
        raise InvalidInput(f"dwelling {case.dwelling.id!r} has no candidate")
    ids: set[str] = set()
    for cand in case.candidates:
        if not _nonempty_str(cand.id):
            raise InvalidInput(f"candidate id must be a non-empty string, not {cand.id!r}")
        if cand.id in ids:
            raise DuplicateEntity(f"candidate {cand.id!r} listed twice")
        for doc in cand.missing_documents:
            if not _nonempty_str(doc):
                raise InvalidInput(f"candidate {cand.id!r}: missing document must be named")
        if len(set(cand.missing_documents)) != len(cand.missing_documents):
            raise InvalidInput(f"candidate {cand.id!r}: missing document listed twice")
        ids.add(cand.id)
    return ids


def _validate_proxies(case: DwellingCase, members: Mapping[str, Member]) -> None:
    held: Counter[str] = Counter()
    for principal, holder in sorted(case.proxies.items()):
        for who in (principal, holder):
            if who not in members:
                raise UnknownMember(f"unknown member {who!r} in proxy from {principal!r}")
            if not members[who].is_voting:
                raise NotVotingMember(
                    f"member {who!r} is not a voting member: cannot give or hold a proxy"
                )
        if principal == holder:
            raise ProxyError(f"member {principal!r} cannot give a proxy to themselves")
        if holder in case.proxies:
            raise ProxyChained(
                f"member {holder!r} holds a proxy from {principal!r} but gave their own proxy "
                f"to {case.proxies[holder]!r}: proxies cannot be chained"
            )
        held[holder] += 1
    for holder in sorted(held):
        if held[holder] > case.rules.max_proxies_per_holder:
            raise ProxyLimitReached(
                f"member {holder!r} holds {held[holder]} proxies, more than the "
                f"{case.rules.max_proxies_per_holder} allowed"
            )


def _validate_ballot(
    case: DwellingCase,
    number: int,
    ballot: CaseBallot,
    members: Mapping[str, Member],
    candidate_ids: set[str],
) -> None:
    where = f"in ballot {number}"
    caster = ballot.member_id
    if caster not in members:
        raise UnknownMember(f"unknown member {caster!r} {where}")
    principal = ballot.on_behalf_of
    if principal is not None and principal != caster:
        if principal not in members:
            raise UnknownMember(f"unknown member {principal!r} {where}")
        if case.proxies.get(principal) != caster:
            raise ProxyNotHeld(f"member {caster!r} holds no proxy from {principal!r} {where}")
    voter = members[ballot.voter]
    if not voter.is_voting:
        raise NotVotingMember(f"member {voter.id!r} is not a voting member {where}")
    if right_on(voter, case.dwelling) is not Right.VOTE:
        raise NoRightOnDwelling(
            f"member {voter.id!r} has no vote on dwelling {case.dwelling.id!r} {where}"
        )
    ranked: set[str] = set()
    for cand in ballot.ranking:
        if not isinstance(cand, str) or cand not in candidate_ids:
            raise UnknownCandidate(f"unknown candidate {cand!r} {where}")
        if cand in ranked:
            raise InvalidBallot(f"candidate {cand!r} ranked twice {where}")
        ranked.add(cand)
    marked: dict[str, str] = {}
    for mark, entries in (
        ("non_attribution", ballot.non_attribution),
        ("inadmissible", ballot.inadmissible),
    ):
        for cand, reason in sorted(entries.items()):
            if not isinstance(cand, str) or cand not in candidate_ids:
                raise UnknownCandidate(f"unknown candidate {cand!r} {where}")
            if cand in ranked:
                raise InvalidBallot(f"candidate {cand!r} both ranked and marked {mark} {where}")
            if cand in marked:
                raise InvalidBallot(
                    f"candidate {cand!r} marked both {marked[cand]} and {mark} {where}"
                )
            if not _nonempty_str(reason):
                raise InvalidBallot(f"candidate {cand!r} marked {mark} without a reason {where}")
            marked[cand] = mark
    missing = sorted(candidate_ids - ranked - set(marked))
    if missing:
        raise InvalidBallot(
            f"candidate(s) {', '.join(repr(c) for c in missing)} neither ranked nor marked "
            f"non_attribution/inadmissible {where}"
        )


def validate_case(case: DwellingCase) -> None:
    """Raise the named domain error of the first problem of ``case``; return None if it is sound.

    Ballot numbers in messages count from 1 in the order of ``case.ballots``.
    """
    members = _validate_members(case)
    candidate_ids = _validate_candidates(case)
    _validate_proxies(case, members)
    for number, ballot in enumerate(case.ballots, start=1):
        _validate_ballot(case, number, ballot, members, candidate_ids)
    for number, referral in enumerate(case.referrals, start=1):
        where = f"in referral {number}"
        if referral.member_id not in members:
            raise UnknownMember(f"unknown member {referral.member_id!r} {where}")
        member = members[referral.member_id]
        if not member.is_voting:
            raise NotVotingMember(f"member {member.id!r} is not a voting member {where}")
        if right_on(member, case.dwelling) is not Right.VOTE:
            raise NoRightOnDwelling(
                f"member {member.id!r} has no vote on dwelling {case.dwelling.id!r} {where}"
            )
        if not _nonempty_str(referral.reason):
            raise InvalidInput(f"referral without a reason {where}")


# --------------------------------------------------------------------------------------------
# deciding


def voting_members_with_rights(case: DwellingCase) -> tuple[str, ...]:
    """Ids of the members with a vote on the dwelling, sorted."""
    return tuple(sorted(m.id for m in case.members if right_on(m, case.dwelling) is Right.VOTE))


def counted_ballots(case: DwellingCase) -> dict[str, CaseBallot]:
    """voter id -> the ballot that counts (their last one), only voters with a vote on it."""
    voters = set(voting_members_with_rights(case))
    last: dict[str, CaseBallot] = {}
    for ballot in case.ballots:
        if ballot.voter in voters:
            last[ballot.voter] = ballot
    return {voter: last[voter] for voter in sorted(last)}


def _referred(
    case: DwellingCase, reason: str, required: int, cast: int, method: RankingMethod
) -> DwellingDecision:
    return DwellingDecision(
        dwelling_id=case.dwelling.id,
        status="referred",
        referral_reason=reason,
        quorum_required=required,
        quorum_cast=cast,
        ranking=(),
        decisions={},
        casting_vote_used=False,
        method=method.NAME,
        method_version=method.VERSION,
        referrals=case.referrals,
    )


def rejection(cand: str, ballots: Sequence[CaseBallot]) -> CandidateDecision | None:
    """The rejection of ``cand`` if a strict majority of ``ballots`` mark it, else None.

    The mark with more ballots wins (equal: non-attribution); its reasons are given, sorted and
    without repetition.
    """
    na = [b.non_attribution[cand] for b in ballots if cand in b.non_attribution]
    inad = [b.inadmissible[cand] for b in ballots if cand in b.inadmissible]
    if 2 * (len(na) + len(inad)) <= len(ballots):
        return None
    if len(inad) > len(na):
        return CandidateDecision("inadmissible", None, tuple(sorted(set(inad))))
    return CandidateDecision("non_attribution", None, tuple(sorted(set(na))))


def break_ties(groups: TieGroups, casting_ranking: Sequence[str] | None) -> tuple[TieGroups, bool]:
    """Split tied groups following the casting voter's ranking; report whether it split any.

    Within a tied group, the candidates the casting ballot ranks come first, one by one, in its
    order; those it does not rank stay tied among themselves, after them.
    """
    if not casting_ranking:
        return groups, False
    position = {cand: i for i, cand in enumerate(casting_ranking)}
    result: list[tuple[str, ...]] = []
    used = False
    for group in groups:
        if len(group) < 2:
            result.append(group)
            continue
        ranked = sorted((c for c in group if c in position), key=position.__getitem__)
        rest = tuple(c for c in group if c not in position)
        if not ranked:
            result.append(group)
            continue
        used = True
        result.extend((c,) for c in ranked)
        if rest:
            result.append(rest)
    return tuple(result), used


def decide(case: DwellingCase) -> DwellingDecision:
    """The decisions on one dwelling at closing (validates ``case`` first)."""
    validate_case(case)
    method = method_module(case.rules)
    voters = voting_members_with_rights(case)
    required = max(1, case.rules.quorum_required(len(voters)))
    ballots = counted_ballots(case)
    cast = len(ballots)

    requesters = {r.member_id for r in case.referrals if r.member_id in voters}
    if len(requesters) >= case.rules.referral_threshold:
        return _referred(case, "member_request", required, cast, method)
    if cast < required:
        return _referred(case, "no_quorum", required, cast, method)

    counted = list(ballots.values())
    decisions: dict[str, CandidateDecision] = {}
    remaining: list[str] = []
    for cand in case.candidates:
        rejected = rejection(cand.id, counted)
        if rejected is None:
            remaining.append(cand.id)
        else:
            decisions[cand.id] = rejected

    groups = method.rank(remaining, [b.ranking for b in counted])
    mayor = casting_voter(case.members, case.dwelling)
    mayor_ballot = ballots.get(mayor) if mayor is not None else None
    groups, used = break_ties(groups, mayor_ballot.ranking if mayor_ballot else None)
    if groups and len(groups[0]) > 1:
        return _referred(case, "tie_for_first_place", required, cast, method)

    ranks = competition_ranks(groups)
    files = {cand.id: cand for cand in case.candidates}
    for cand_id in remaining:
        missing = files[cand_id].missing_documents
        if missing:
            decisions[cand_id] = CandidateDecision(
                "attribution_conditional",
                ranks[cand_id],
                missing,
                missing_documents=missing,
                condition_deadline_days=case.rules.condition_deadline_days,
            )
        else:
            decisions[cand_id] = CandidateDecision("attribution", ranks[cand_id], ())
    return DwellingDecision(
        dwelling_id=case.dwelling.id,
        status="decided",
        referral_reason=None,
        quorum_required=required,
        quorum_cast=cast,
        ranking=flatten(groups),
        decisions={cand.id: decisions[cand.id] for cand in case.candidates},
        casting_vote_used=used,
        method=method.NAME,
        method_version=method.VERSION,
        referrals=case.referrals,
    )
