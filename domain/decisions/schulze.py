"""The Schulze method (beatpath / widest path), the RI's default ranking method.

Markus Schulze, "A new monotonic, clone-independent, reversal symmetric, and Condorcet-consistent
single-winner election method", Social Choice and Welfare 36 (2011) 267-303.

- ``d[x, y]``: the number of ballots that rank ``x`` strictly above ``y``. A ballot expresses no
  preference between candidates it ranks equal, nor about any candidate it does not rank.
- The strength of the direct link ``x -> y`` is ``d[x, y]`` when ``d[x, y] > d[y, x]``, else 0
  (winning votes); ``p[x, y]`` is the strength of the widest path from ``x`` to ``y``
  (Floyd-Warshall variant).
- ``x`` beats ``y`` when ``p[x, y] > p[y, x]``; this relation is a strict partial order (Schulze
  2011, §4.1). The winners are the candidates beaten by nobody.
- The ranking is built by taking the winners as the first group, then the winners among the
  others as the next group, and so on: whenever ``x`` beats ``y``, ``x`` is in an earlier group,
  and two candidates of the same group never beat each other (they are tied).
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.decisions.orders import BallotOrder, TieGroups, check_candidates, normalise

NAME = "schulze"
VERSION = "1"

Pairwise = dict[tuple[str, str], int]


def pairwise_preferences(candidates: Sequence[str], ballots: Sequence[BallotOrder]) -> Pairwise:
    """``d[x, y]`` for every ordered pair of distinct candidates (0 when no ballot says so)."""
    cands = check_candidates(candidates)
    allowed = frozenset(cands)
    d: Pairwise = {(x, y): 0 for x in cands for y in cands if x != y}
    for ballot in ballots:
        groups = normalise(ballot, allowed)
        for i, upper in enumerate(groups):
            for lower in groups[i + 1 :]:
                for x in upper:
                    for y in lower:
                        d[x, y] += 1
    return d


def strengths(candidates: Sequence[str], d: Pairwise) -> Pairwise:
    """``p[x, y]``, the strength of the widest path from ``x`` to ``y``."""
    cands = check_candidates(candidates)
    p: Pairwise = {}
    for x in cands:
        for y in cands:
            if x != y:
                forward, backward = d.get((x, y), 0), d.get((y, x), 0)
                p[x, y] = forward if forward > backward else 0
    for k in cands:
        for i in cands:
            if i == k:
                continue
            p_ik = p[i, k]
            if p_ik == 0:
                continue
            for j in cands:
                if j in (i, k):
                    continue
                via = min(p_ik, p[k, j])
                if via > p[i, j]:
                    p[i, j] = via
    return p


def beats(p: Pairwise, x: str, y: str) -> bool:
    return p.get((x, y), 0) > p.get((y, x), 0)


def rank_from_strengths(candidates: Sequence[str], p: Pairwise) -> TieGroups:
    """Iterated sets of unbeaten candidates, each in input order."""
    remaining = list(check_candidates(candidates))
    groups: list[tuple[str, ...]] = []
    while remaining:
        top = tuple(x for x in remaining if not any(beats(p, y, x) for y in remaining if y != x))
        if not top:  # impossible: the beat relation is a strict partial order
            raise AssertionError("Schulze beat relation is not acyclic")
        groups.append(top)
        remaining = [x for x in remaining if x not in top]
    return tuple(groups)


def rank(candidates: Sequence[str], ballots: Sequence[BallotOrder]) -> TieGroups:
    """The Schulze ranking of ``candidates``, ties as groups, best first."""
    d = pairwise_preferences(candidates, ballots)
    return rank_from_strengths(candidates, strengths(candidates, d))
