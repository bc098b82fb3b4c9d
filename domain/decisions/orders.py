"""Ballots as weak orders and rankings as ordered tie groups: the common vocabulary of the methods.

A ballot is a sequence of positions, best first; a position is either one candidate (a ``str``) or
a collection of candidates the ballot ranks equal. Candidates a ballot does not list are not part
of its preferences at all (the ballot says nothing about them). The outcome of a method is a
:data:`TieGroups`: groups of candidates, best group first, each group's candidates in the order
the candidates were given to the method (so that the outcome never depends on set or dict order).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

#: One ballot: positions best first, each a candidate or a collection of equally ranked candidates.
BallotOrder = Sequence[str | Collection[str]]
#: A weak order over candidates: groups of equal candidates, best group first.
TieGroups = tuple[tuple[str, ...], ...]


def normalise(ballot: BallotOrder, candidates: Collection[str]) -> TieGroups:
    """The ballot restricted to ``candidates``, as non-empty groups in candidate-id order.

    Candidates outside ``candidates`` (not remaining, or unknown) are dropped. A candidate listed
    twice in one ballot is an error: a ballot cannot rank one candidate at two places.
    """
    seen: set[str] = set()
    groups: list[tuple[str, ...]] = []
    for position in ballot:
        members = (position,) if isinstance(position, str) else tuple(position)
        kept: list[str] = []
        for cand in members:
            if not isinstance(cand, str):
                raise TypeError(f"candidate ids are strings, not {cand!r}")
            if cand in seen:
                raise ValueError(f"candidate {cand!r} appears twice in one ballot")
            seen.add(cand)
            if cand in candidates:
                kept.append(cand)
        if kept:
            groups.append(tuple(sorted(kept)))
    return tuple(groups)


def check_candidates(candidates: Sequence[str]) -> tuple[str, ...]:
    """The candidate ids as a tuple, refusing duplicates and non-strings."""
    result = tuple(candidates)
    for cand in result:
        if not isinstance(cand, str):
            raise TypeError(f"candidate ids are strings, not {cand!r}")
    if len(set(result)) != len(result):
        raise ValueError("duplicate candidate ids")
    return result


def flatten(groups: TieGroups) -> tuple[str, ...]:
    return tuple(cand for group in groups for cand in group)


def competition_ranks(groups: TieGroups) -> dict[str, int]:
    """Standard competition ranking ("1224"): a group's rank is 1 + the candidates before it."""
    ranks: dict[str, int] = {}
    before = 0
    for group in groups:
        for cand in group:
            ranks[cand] = before + 1
        before += len(group)
    return ranks
