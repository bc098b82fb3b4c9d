"""Borda count: textbook examples and a cross-check against votelib on random profiles."""

from __future__ import annotations

import random
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from votelib.component.rankscore import Borda as VotelibBorda
from votelib.convert import RankedToPositionalVotes
from votelib.evaluate.core import Tie, get_n_best

from domain.decisions import borda
from domain.decisions.orders import BallotOrder

TENNESSEE = ("Memphis", "Nashville", "Chattanooga", "Knoxville")
TENNESSEE_100 = (
    [("Memphis", "Nashville", "Chattanooga", "Knoxville")] * 42
    + [("Nashville", "Chattanooga", "Knoxville", "Memphis")] * 26
    + [("Chattanooga", "Knoxville", "Nashville", "Memphis")] * 15
    + [("Knoxville", "Chattanooga", "Nashville", "Memphis")] * 17
)


def test_name_and_version() -> None:
    assert borda.NAME == "borda"
    assert isinstance(borda.VERSION, str) and borda.VERSION


def test_tennessee_elects_nashville() -> None:
    assert borda.scores(TENNESSEE, TENNESSEE_100) == {
        "Memphis": 126,
        "Nashville": 194,
        "Chattanooga": 173,
        "Knoxville": 107,
    }
    ranking = borda.rank(TENNESSEE, TENNESSEE_100)
    assert ranking == (("Nashville",), ("Chattanooga",), ("Memphis",), ("Knoxville",))


def test_standard_points_and_truncated_ballots() -> None:
    # n = 3: 2, 1, 0 points; unranked candidates get 0 from the ballot
    assert borda.scores(["a", "b", "c"], [("a", "b", "c")]) == {"a": 2, "b": 1, "c": 0}
    assert borda.scores(["a", "b", "c"], [("c",)]) == {"a": 0, "b": 0, "c": 2}


def test_only_remaining_candidates_count() -> None:
    # "z" is not remaining: n = 2 and it is dropped from the ballots
    assert borda.scores(["a", "b"], [("z", "b", "a")]) == {"a": 0, "b": 1}


def test_ties_are_groups_in_input_order() -> None:
    ballots = [("a", "b", "c"), ("b", "a", "c")]
    assert borda.rank(["c", "b", "a"], ballots) == (("b", "a"), ("c",))
    assert borda.rank(["a", "b", "c"], ballots) == (("a", "b"), ("c",))
    assert borda.rank(["a", "b"], []) == (("a", "b"),)
    assert borda.rank([], []) == ()


def test_equal_positions_share_the_mean() -> None:
    ballots: list[BallotOrder] = [({"a", "b"}, "c")]
    assert borda.scores(["a", "b", "c"], ballots) == {
        "a": Fraction(3, 2),
        "b": Fraction(3, 2),
        "c": 0,
    }


def test_rejects_duplicates() -> None:
    with pytest.raises(ValueError):
        borda.scores(["a", "b"], [("b", "b")])


# ---------------------------------------------------------------------------------- votelib


@st.composite
def strict_profiles(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, ...]]]:
    n = draw(st.integers(min_value=1, max_value=6))
    cands = list("abcdef"[:n])
    # one complete ballot so that votelib sees every candidate (it counts n from the ballots)
    ballots = [tuple(draw(st.permutations(cands)))]
    for _ in range(draw(st.integers(min_value=0, max_value=14))):
        order = draw(st.permutations(cands))
        ballots.append(tuple(order[: draw(st.integers(min_value=1, max_value=n))]))
    return cands, ballots


@settings(max_examples=200, deadline=None)
@given(strict_profiles())
def test_agrees_with_votelib(case: tuple[list[str], list[tuple[str, ...]]]) -> None:
    cands, ballots = case
    votes = dict(Counter(ballots))
    expected = RankedToPositionalVotes(VotelibBorda(base=0)).convert(votes)
    totals = borda.scores(cands, ballots)
    assert totals == expected

    ranking = borda.rank(cands, ballots)
    # groups are the score levels, best first
    levels = [totals[group[0]] for group in ranking]
    assert levels == sorted(set(totals.values()), reverse=True)
    assert all(
        totals[c] == level for group, level in zip(ranking, levels, strict=True) for c in group
    )
    # votelib's plurality over the Borda scores names the same winner(s)
    (elected,) = get_n_best(expected, 1)
    assert (set(elected) if isinstance(elected, Tie) else {elected}) == set(ranking[0])


@settings(max_examples=100, deadline=None)
@given(strict_profiles(), st.randoms(use_true_random=False))
def test_independent_of_ballot_order(
    case: tuple[list[str], list[tuple[str, ...]]], rnd: random.Random
) -> None:
    cands, ballots = case
    shuffled = list(ballots)
    rnd.shuffle(shuffled)
    assert borda.rank(cands, shuffled) == borda.rank(cands, ballots)
