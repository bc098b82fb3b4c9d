"""Housing-cost figures of an applicant file: exact integers, never floats.

Money is in integer cents (monthly amounts), ratios in integer basis points (1 bp = 0.01 %),
consumption units in integer tenths. Divisions are exact (:class:`fractions.Fraction`) and the
result is rounded once, half away from zero ("half-up" as in accounting: 0.5 -> 1, -0.5 -> -1).

- Taux d'effort: (rent + recoverable charges - housing benefit APL/AL) / monthly resources.
- Unités de consommation (modified OECD scale, INSEE): 1 for the first person aged 14 or more,
  0.5 for each other person aged 14 or more, 0.3 for each child under 14.
- Reste à vivre: resources - rent - charges + housing benefit, by default per consumption unit and
  per day (30-day month); also the household total per month, or per person and per day.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from domain.errors import InvalidInput

__all__ = [
    "BASIS_POINTS",
    "FinanceError",
    "ResteAVivreFormula",
    "ZeroResources",
    "consumption_units_tenths",
    "consumption_units_tenths_from_ages",
    "reste_a_vivre_cents",
    "round_half_up",
    "taux_effort_bp",
]

BASIS_POINTS = 10_000  # 100 % in basis points
FIRST_ADULT_TENTHS = 10
OTHER_ADULT_TENTHS = 5
CHILD_TENTHS = 3
ADULT_AGE = 14


class FinanceError(InvalidInput):
    code = "invalid_financial_figures"


class ZeroResources(FinanceError):
    """A ratio over the household's resources needs resources above zero."""

    code = "zero_resources"


def round_half_up(value: Fraction) -> int:
    """Round to the nearest integer, halves away from zero."""
    magnitude = abs(value)
    rounded = int(magnitude + Fraction(1, 2))  # int() truncates: floor for non-negatives
    return rounded if value >= 0 else -rounded


def _amount(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FinanceError(f"{name} must be an integer number of cents, not {value!r}")
    if value < 0:
        raise FinanceError(f"{name} cannot be negative ({value} cents)")
    return value


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FinanceError(f"{name} must be a non-negative integer, not {value!r}")
    return value


def _housing_cost(rent_cents: int, charges_cents: int, housing_benefit_cents: int) -> int:
    return (
        _amount("rent_cents", rent_cents)
        + _amount("charges_cents", charges_cents)
        - _amount("housing_benefit_cents", housing_benefit_cents)
    )


def taux_effort_bp(
    rent_cents: int,
    charges_cents: int,
    housing_benefit_cents: int,
    monthly_resources_cents: int,
) -> int:
    """Housing-cost ratio in basis points: (rent + charges - benefit) / resources, rounded.

    Negative when the benefit exceeds rent and charges. Raises :class:`ZeroResources` when the
    household declares no resources: the ratio is then undefined, not infinite.
    """
    cost = _housing_cost(rent_cents, charges_cents, housing_benefit_cents)
    resources = _amount("monthly_resources_cents", monthly_resources_cents)
    if resources == 0:
        raise ZeroResources("taux d'effort undefined: the household's monthly resources are zero")
    return round_half_up(Fraction(cost * BASIS_POINTS, resources))


def consumption_units_tenths(persons_14_or_older: int, children_under_14: int) -> int:
    """Consumption units of a household, in tenths (modified OECD scale).

    10 for the first person aged 14 or more, 5 for each other one, 3 for each child under 14.
    A household of children only (rare: a minor head of household) counts its first child as
    the reference person (10).
    """
    adults = _count("persons_14_or_older", persons_14_or_older)
    children = _count("children_under_14", children_under_14)
    if adults == 0 and children == 0:
        raise FinanceError("a household has at least one person")
    if adults == 0:
        return FIRST_ADULT_TENTHS + CHILD_TENTHS * (children - 1)
    return FIRST_ADULT_TENTHS + OTHER_ADULT_TENTHS * (adults - 1) + CHILD_TENTHS * children


def consumption_units_tenths_from_ages(ages: list[int] | tuple[int, ...]) -> int:
    """Consumption units in tenths from the ages (in completed years) of the household members."""
    checked = [_count("age", age) for age in ages]
    adults = sum(1 for age in checked if age >= ADULT_AGE)
    return consumption_units_tenths(adults, len(checked) - adults)


Basis = Literal["per_uc_per_day", "per_month", "per_person_per_day"]
BASES: tuple[Basis, ...] = ("per_uc_per_day", "per_month", "per_person_per_day")


@dataclass(frozen=True)
class ResteAVivreFormula:
    """How the RI (or the agency) states the reste à vivre.

    ``per_uc_per_day`` (default): per consumption unit and per day; ``per_month``: the household's
    monthly total; ``per_person_per_day``: per household member and per day. ``days_per_month``
    is the conventional month length used for the per-day figures.
    """

    basis: Basis = "per_uc_per_day"
    days_per_month: int = 30

    def __post_init__(self) -> None:
        if self.basis not in BASES:
            raise FinanceError(
                f"unknown reste à vivre basis {self.basis!r} (one of {', '.join(BASES)})"
            )
        days = self.days_per_month
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise FinanceError(f"days_per_month must be a positive integer, not {days!r}")


DEFAULT_FORMULA = ResteAVivreFormula()


def reste_a_vivre_cents(
    monthly_resources_cents: int,
    rent_cents: int,
    charges_cents: int,
    housing_benefit_cents: int,
    *,
    persons_14_or_older: int,
    children_under_14: int = 0,
    formula: ResteAVivreFormula = DEFAULT_FORMULA,
) -> int:
    """Income left after housing costs, in integer cents, as the ``formula`` states it.

    ``per_month``: resources - rent - charges + benefit (exact, no rounding);
    ``per_uc_per_day``: that / consumption units / days per month, rounded half-up;
    ``per_person_per_day``: that / household members / days per month, rounded half-up.
    May be negative.
    """
    resources = _amount("monthly_resources_cents", monthly_resources_cents)
    monthly = resources - _housing_cost(rent_cents, charges_cents, housing_benefit_cents)
    if formula.basis == "per_month":
        return monthly
    if formula.basis == "per_person_per_day":
        persons = _count("persons_14_or_older", persons_14_or_older) + _count(
            "children_under_14", children_under_14
        )
        if persons == 0:
            raise FinanceError("a household has at least one person")
        return round_half_up(Fraction(monthly, persons * formula.days_per_month))
    uc_tenths = consumption_units_tenths(persons_14_or_older, children_under_14)
    return round_half_up(Fraction(monthly * 10, uc_tenths * formula.days_per_month))
