"""What counts at closing: pure functions from a commission and its members' activity to the
cases that ``domain.decisions`` decides. The same functions serve the platform at closing and a
regulator's recomputation on replay.

Which ballot counts for a voter on a dwelling:
1. only ballots within the closing cut-off (their stream version ≤ the member's cut-off);
2. the voter's own last ballot, if they cast one (a personal vote prevails over a proxy);
3. otherwise the last ballot cast on their behalf by the holder of their proxy in force at closing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.commission import Commission
from domain.decisions.case import CandidateFile, CaseBallot, CaseReferral, DwellingCase
from domain.participation import MemberActivity
from domain.reasons import (
    INADMISSIBLE_REASONS,
    NON_ATTRIBUTION_REASONS,
    REFERRAL_REASONS,
    reason_label,
)


def _case_ballot(ballot: MemberActivity.BallotSubmitted, member_id: str) -> CaseBallot:
    return CaseBallot(
        member_id=member_id,
        on_behalf_of=ballot.on_behalf_of,
        ranking=tuple(ballot.ranking),
        non_attribution={
            c: reason_label(NON_ATTRIBUTION_REASONS, r) for c, r in ballot.non_attribution.items()
        },
        inadmissible={
            c: reason_label(INADMISSIBLE_REASONS, r) for c, r in ballot.inadmissible.items()
        },
    )


def dwelling_cases(
    commission: Commission, activities: Mapping[str, MemberActivity]
) -> list[DwellingCase]:
    """One case per dwelling, from activities already cut at the closing cut-off."""
    members = tuple(commission.members[m] for m in sorted(commission.members))
    cases = []
    for dwelling_id in sorted(commission.dwellings):
        scope = commission.dwelling_scope(dwelling_id)
        ballots: list[CaseBallot] = []
        referrals: list[CaseReferral] = []
        for voter in members:
            own = activities.get(voter.id)
            chosen = own.ballots.get((dwelling_id, None)) if own else None
            cast_by = voter.id
            if chosen is None and voter.id in commission.proxies:
                holder = commission.proxies[voter.id]
                held = activities.get(holder)
                chosen = held.ballots.get((dwelling_id, voter.id)) if held else None
                cast_by = holder
            if chosen is not None:
                ballots.append(_case_ballot(chosen, cast_by))
            if own and dwelling_id in own.referrals:
                referral = own.referrals[dwelling_id]
                referrals.append(
                    CaseReferral(voter.id, reason_label(REFERRAL_REASONS, referral.reason))
                )
        candidates = tuple(
            CandidateFile(c, tuple(commission.candidates[c]["missing_documents"]))
            for c in commission.active_candidates(dwelling_id)
        )
        cases.append(
            DwellingCase(
                dwelling=scope,
                candidates=candidates,
                members=members,
                proxies=dict(commission.proxies),
                ballots=tuple(ballots),
                referrals=tuple(referrals),
                rules=commission.rules,
            )
        )
    return cases


def decide_all(
    commission: Commission, activities: Mapping[str, MemberActivity]
) -> list[dict[str, Any]]:
    from domain.decisions.decide import decide

    return [decide(case).to_json() for case in dwelling_cases(commission, activities)]
