"""The Borda count, the RI's alternative ranking method.

With ``n`` candidates, a ballot gives ``n - 1`` points to its first candidate, ``n - 2`` to the
second, and so on down to 0; candidates it does not rank get 0 from it (truncated ballots).
Candidates a ballot ranks equal share the points of the places they occupy (the mean, which may
be a half point: scores are exact :class:`fractions.Fraction`). Candidates with equal totals are
tied; the ranking lists groups of equal score, best first, each group in input order.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from domain.decisions.orders import BallotOrder, TieGroups, check_candidates, normalise

NAME = "borda"
VERSION = "1"


def scores(candidates: Sequence[str], ballots: Sequence[BallotOrder]) -> dict[str, Fraction]:
    """Each candidate's Borda total, exact."""
    cands = check_candidates(candidates)
    allowed = frozenset(cands)
    n = len(cands)
    doubled: dict[str, int] = dict.fromkeys(cands, 0)  # twice the points: half points stay exact
    for ballot in ballots:
        place = 0  # 0-based place of the group's first candidate
        for group in normalise(ballot, allowed):
            size = len(group)
            # mean of (n-1-place) ... (n-1-(place+size-1)), doubled
            points2 = 2 * (n - 1 - place) - (size - 1)
            for cand in group:
                doubled[cand] += points2
            place += size
    return {cand: Fraction(doubled[cand], 2) for cand in cands}


def rank_from_scores(candidates: Sequence[str], totals: dict[str, Fraction]) -> TieGroups:
    cands = check_candidates(candidates)
    levels = sorted({totals[c] for c in cands}, reverse=True)
    return tuple(tuple(c for c in cands if totals[c] == level) for level in levels)


def rank(candidates: Sequence[str], ballots: Sequence[BallotOrder]) -> TieGroups:
    """The Borda ranking of ``candidates``, ties as groups, best first."""
    return rank_from_scores(candidates, scores(candidates, ballots))
