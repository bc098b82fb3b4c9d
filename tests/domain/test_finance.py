"""Housing-cost figures: integer cents, basis points and tenths of consumption units."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InvalidInput
from domain.finance import (
    FinanceError,
    ResteAVivreFormula,
    ZeroResources,
    consumption_units_tenths,
    consumption_units_tenths_from_ages,
    reste_a_vivre_cents,
    round_half_up,
    taux_effort_bp,
)


def test_round_half_up() -> None:
    assert round_half_up(Fraction(5, 2)) == 3
    assert round_half_up(Fraction(7, 2)) == 4  # not banker's rounding
    assert round_half_up(Fraction(-5, 2)) == -3
    assert round_half_up(Fraction(249, 100)) == 2
    assert round_half_up(Fraction(0)) == 0


@settings(max_examples=200)
@given(st.integers(-(10**9), 10**9), st.integers(1, 10**6))
def test_round_half_up_matches_decimal(num: int, den: int) -> None:
    expected = (Decimal(num) / Decimal(den)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    # Decimal division is exact enough at these sizes (28 significant digits)
    assert round_half_up(Fraction(num, den)) == int(expected)


def test_taux_effort() -> None:
    # rent 450.00 + charges 80.00 - APL 200.00 = 330.00 over 1500.00 = 22 %
    assert taux_effort_bp(45_000, 8_000, 20_000, 150_000) == 2200
    # 330.00 / 1234.56 = 26.7301... %
    assert taux_effort_bp(45_000, 8_000, 20_000, 123_456) == 2673
    # half a basis point rounds up: 1 / 20000 = 0.5 bp
    assert taux_effort_bp(1, 0, 0, 20_000) == 1
    assert taux_effort_bp(0, 0, 0, 100_000) == 0
    # benefit above the costs: negative ratio
    assert taux_effort_bp(10_000, 0, 12_000, 100_000) == -200


def test_taux_effort_zero_resources_is_a_clear_error() -> None:
    with pytest.raises(ZeroResources, match="resources are zero"):
        taux_effort_bp(45_000, 8_000, 0, 0)
    assert issubclass(ZeroResources, InvalidInput)


@pytest.mark.parametrize(
    "args",
    [
        (450.0, 80, 0, 1500),
        (45_000, True, 0, 150_000),
        (45_000, 8_000, -1, 150_000),
        (45_000, 8_000, 0, -150_000),
        ("45000", 8_000, 0, 150_000),
    ],
)
def test_taux_effort_refuses_floats_bools_and_negatives(args: tuple[object, ...]) -> None:
    with pytest.raises(FinanceError):
        taux_effort_bp(*args)  # type: ignore[arg-type]


def test_consumption_units() -> None:
    assert consumption_units_tenths(1, 0) == 10  # single person
    assert consumption_units_tenths(2, 0) == 15  # couple
    assert consumption_units_tenths(2, 2) == 21  # couple with two children under 14
    assert consumption_units_tenths(1, 1) == 13  # single parent, one young child
    assert consumption_units_tenths(3, 1) == 23  # couple, one teenager, one child
    assert consumption_units_tenths(0, 2) == 13  # minor head of household
    with pytest.raises(FinanceError):
        consumption_units_tenths(0, 0)
    with pytest.raises(FinanceError):
        consumption_units_tenths(-1, 2)


def test_consumption_units_from_ages() -> None:
    assert consumption_units_tenths_from_ages([40, 38, 15, 13, 2]) == 10 + 5 + 5 + 3 + 3
    assert consumption_units_tenths_from_ages((14,)) == 10
    with pytest.raises(FinanceError):
        consumption_units_tenths_from_ages([])


def test_reste_a_vivre_default_per_uc_per_day() -> None:
    # 1800.00 - 600.00 - 100.00 + 250.00 = 1350.00 / 2.1 UC / 30 days = 21.428... -> 21.43
    assert (
        reste_a_vivre_cents(
            180_000, 60_000, 10_000, 25_000, persons_14_or_older=2, children_under_14=2
        )
        == 2143
    )


def test_reste_a_vivre_other_formulas() -> None:
    figures = (180_000, 60_000, 10_000, 25_000)
    per_month = ResteAVivreFormula("per_month")
    per_person = ResteAVivreFormula("per_person_per_day")
    kwargs = {"persons_14_or_older": 2, "children_under_14": 2}
    assert reste_a_vivre_cents(*figures, **kwargs, formula=per_month) == 135_000
    # 1350.00 / 4 persons / 30 days = 11.25
    assert reste_a_vivre_cents(*figures, **kwargs, formula=per_person) == 1125
    # a 31-day convention: 1350.00 / 4 / 31 = 10.887... -> 10.89
    per_person_31 = ResteAVivreFormula("per_person_per_day", days_per_month=31)
    assert reste_a_vivre_cents(*figures, **kwargs, formula=per_person_31) == 1089


def test_reste_a_vivre_can_be_negative() -> None:
    assert (
        reste_a_vivre_cents(
            50_000,
            60_000,
            5_000,
            0,
            persons_14_or_older=1,
            formula=ResteAVivreFormula("per_month"),
        )
        == -15_000
    )
    # -150.00 / 1 UC / 30 = -5.00
    assert reste_a_vivre_cents(50_000, 60_000, 5_000, 0, persons_14_or_older=1) == -500


def test_formula_is_frozen_and_validated() -> None:
    formula = ResteAVivreFormula()
    assert (formula.basis, formula.days_per_month) == ("per_uc_per_day", 30)
    with pytest.raises(AttributeError):
        formula.basis = "per_month"  # type: ignore[misc]
    with pytest.raises(FinanceError):
        ResteAVivreFormula("per_year")  # type: ignore[arg-type]
    with pytest.raises(FinanceError):
        ResteAVivreFormula(days_per_month=0)


@settings(max_examples=200)
@given(
    st.integers(0, 10**7),
    st.integers(0, 10**6),
    st.integers(0, 10**5),
    st.integers(0, 10**6),
    st.integers(1, 6),
    st.integers(0, 6),
)
def test_results_are_exact_integers(
    resources: int, rent: int, charges: int, benefit: int, adults: int, children: int
) -> None:
    rav = reste_a_vivre_cents(
        resources, rent, charges, benefit, persons_14_or_older=adults, children_under_14=children
    )
    assert type(rav) is int
    uc_tenths = consumption_units_tenths(adults, children)
    exact = Fraction((resources - rent - charges + benefit) * 10, uc_tenths * 30)
    assert abs(rav - exact) <= Fraction(1, 2)
    if resources:
        bp = taux_effort_bp(rent, charges, benefit, resources)
        assert type(bp) is int
        assert abs(bp - Fraction((rent + charges - benefit) * 10_000, resources)) <= Fraction(1, 2)
