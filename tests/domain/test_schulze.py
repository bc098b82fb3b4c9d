"""Schulze: textbook examples and a cross-check against votelib on random profiles."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Collection, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from votelib.convert import RankedToCondorcetVotes
from votelib.evaluate.condorcet import Schulze as VotelibSchulze
from votelib.evaluate.core import Tie

from domain.decisions import schulze
from domain.decisions.orders import BallotOrder


def profile(*blocks: tuple[int, str]) -> list[tuple[str, ...]]:
    """Ballots from (count, "ABC") blocks: each letter a candidate, best first."""
    return [tuple(order) for count, order in blocks for _ in range(count)]


WIKIPEDIA_45 = profile(
    (5, "ACBED"),
    (5, "ADECB"),
    (8, "BEDAC"),
    (3, "CABED"),
    (7, "CAEBD"),
    (2, "CBADE"),
    (7, "DCEBA"),
    (8, "EBADC"),
)

TENNESSEE = ("Memphis", "Nashville", "Chattanooga", "Knoxville")
TENNESSEE_100 = (
    [("Memphis", "Nashville", "Chattanooga", "Knoxville")] * 42
    + [("Nashville", "Chattanooga", "Knoxville", "Memphis")] * 26
    + [("Chattanooga", "Knoxville", "Nashville", "Memphis")] * 15
    + [("Knoxville", "Chattanooga", "Nashville", "Memphis")] * 17
)


def test_name_and_version() -> None:
    assert schulze.NAME == "schulze"
    assert isinstance(schulze.VERSION, str) and schulze.VERSION


def test_wikipedia_45_voters() -> None:
    cands = list("ABCDE")
    d = schulze.pairwise_preferences(cands, WIKIPEDIA_45)
    # the pairwise matrix and the widest paths printed in the Wikipedia article
    assert (d["A", "B"], d["B", "A"], d["A", "C"], d["C", "A"]) == (20, 25, 26, 19)
    assert (d["E", "D"], d["D", "E"], d["C", "B"], d["B", "C"]) == (31, 14, 29, 16)
    p = schulze.strengths(cands, d)
    expected = {
        "A": {"B": 28, "C": 28, "D": 30, "E": 24},
        "B": {"A": 25, "C": 28, "D": 33, "E": 24},
        "C": {"A": 25, "B": 29, "D": 29, "E": 24},
        "D": {"A": 25, "B": 28, "C": 28, "E": 24},
        "E": {"A": 25, "B": 28, "C": 28, "D": 31},
    }
    assert {x: {y: p[x, y] for y in cands if y != x} for x in cands} == expected
    assert schulze.rank(cands, WIKIPEDIA_45) == (("E",), ("A",), ("C",), ("B",), ("D",))


def test_wikipedia_result_independent_of_candidate_order() -> None:
    assert schulze.rank(list("DCBAE"), WIKIPEDIA_45) == (("E",), ("A",), ("C",), ("B",), ("D",))


def test_tennessee_elects_nashville() -> None:
    ranking = schulze.rank(TENNESSEE, TENNESSEE_100)
    assert ranking == (("Nashville",), ("Chattanooga",), ("Knoxville",), ("Memphis",))


def test_condorcet_cycle_is_a_tie() -> None:
    ballots = [("a", "b", "c"), ("b", "c", "a"), ("c", "a", "b")]
    assert schulze.rank(["a", "b", "c"], ballots) == (("a", "b", "c"),)


def test_unranked_candidates_carry_no_preference() -> None:
    # b ranks "x" only; "y" is excluded from that ballot, not placed below "x"
    assert schulze.rank(["x", "y"], [("x",), ("y", "x")]) == (("y",), ("x",))
    assert schulze.rank(["x", "y"], [("x",)]) == (("x", "y"),)


def test_ranking_is_restricted_to_remaining_candidates() -> None:
    ballots = [("z", "b", "a"), ("a", "z", "b"), ("b", "a", "z")]
    assert schulze.rank(["a", "b"], ballots) == (("b",), ("a",))


def test_weak_order_ballots() -> None:
    ballots: list[BallotOrder] = [({"a", "b"}, "c"), ("c", "a", "b")]
    # d[a,b]=1, d[a,c]=1, d[c,a]=1, d[b,c]=1, d[c,b]=1: only a beats b
    assert schulze.rank(["a", "b", "c"], ballots) == (("a", "c"), ("b",))


def test_incomparable_candidates_join_the_first_group_they_can() -> None:
    # a beats c; b is tied with both: a and b are both unbeaten, hence tied for first
    ballots = [("a", "c", "b"), ("b", "a", "c")]
    assert schulze.rank(["a", "b", "c"], ballots) == (("a", "b"), ("c",))


def test_no_ballots_all_tied() -> None:
    assert schulze.rank(["a", "b"], []) == (("a", "b"),)
    assert schulze.rank([], []) == ()


def test_rejects_duplicates() -> None:
    with pytest.raises(ValueError):
        schulze.rank(["a", "b"], [("a", "a")])
    with pytest.raises(ValueError):
        schulze.rank(["a", "a"], [])


# ---------------------------------------------------------------------------------- votelib

CANDS = "abcde"


@st.composite
def weak_profiles(draw: st.DrawFn) -> tuple[list[str], list[tuple[frozenset[str], ...]]]:
    n = draw(st.integers(min_value=1, max_value=5))
    cands = list(CANDS[:n])
    ballots = []
    for _ in range(draw(st.integers(min_value=0, max_value=12))):
        ranked = draw(st.permutations(cands))[: draw(st.integers(min_value=0, max_value=n))]
        groups: list[frozenset[str]] = []
        for cand in ranked:
            if groups and draw(st.integers(min_value=0, max_value=3)) == 0:
                groups[-1] = groups[-1] | {cand}  # tie with the previous position
            else:
                groups.append(frozenset({cand}))
        ballots.append(tuple(groups))
    return cands, ballots


def votelib_counts(ballots: Sequence[Sequence[Collection[str]]]) -> dict[tuple[str, str], int]:
    votes = Counter(tuple(frozenset(g) for g in ballot) for ballot in ballots if ballot)
    counts: dict[tuple[str, str], int] = RankedToCondorcetVotes(unranked_at_bottom=False).convert(
        dict(votes)
    )
    return counts


@settings(max_examples=200, deadline=None)
@given(weak_profiles())
def test_agrees_with_votelib(case: tuple[list[str], list[tuple[frozenset[str], ...]]]) -> None:
    cands, ballots = case
    d = schulze.pairwise_preferences(cands, ballots)
    counts = votelib_counts(ballots)
    assert {pair: n for pair, n in d.items() if n} == {p: n for p, n in counts.items() if n}

    p = schulze.strengths(cands, d)
    paths = VotelibSchulze.widest_paths(counts)
    for x in cands:
        for y in cands:
            if x != y:
                assert p[x, y] == paths.get((x, y), 0), (x, y)

    ranking = schulze.rank(cands, ballots)
    assert sorted(c for g in ranking for c in g) == sorted(cands)
    group_of = {c: i for i, g in enumerate(ranking) for c in g}

    def vl_beats(x: str, y: str) -> bool:
        return bool(paths.get((x, y), 0) > paths.get((y, x), 0))

    # the winners are exactly the candidates beaten by nobody (Schulze 2011, §4)
    unbeaten = {x for x in cands if not any(vl_beats(y, x) for y in cands if y != x)}
    assert set(ranking[0]) == unbeaten
    # whenever x beats y, x is ranked in an earlier group; members of a group never beat each other
    for x in cands:
        for y in cands:
            if x != y and vl_beats(x, y):
                assert group_of[x] < group_of[y]

    # votelib's own selection (by number of candidates beaten) picks among our winners,
    # and a sole winner of ours is votelib's sole winner
    selected = VotelibSchulze().evaluate(counts, 1) if counts else []
    if not selected:  # votelib finds no path win at all: everybody is tied
        assert ranking == (tuple(cands),)
    else:
        (elected,) = selected
        chosen = set(elected) if isinstance(elected, Tie) else {elected}
        assert chosen <= set(ranking[0])
        if len(ranking[0]) == 1:
            assert chosen == set(ranking[0])


@settings(max_examples=100, deadline=None)
@given(weak_profiles(), st.randoms(use_true_random=False))
def test_independent_of_candidate_and_ballot_order(
    case: tuple[list[str], list[tuple[frozenset[str], ...]]], rnd: random.Random
) -> None:
    cands, ballots = case
    ranking = schulze.rank(cands, ballots)
    shuffled_cands, shuffled_ballots = list(cands), list(ballots)
    rnd.shuffle(shuffled_cands)
    rnd.shuffle(shuffled_ballots)
    other = schulze.rank(shuffled_cands, shuffled_ballots)
    assert [set(g) for g in other] == [set(g) for g in ranking]
    # within a group, candidates keep the input order
    order = {c: i for i, c in enumerate(shuffled_cands)}
    for group in other:
        assert list(group) == sorted(group, key=order.__getitem__)
