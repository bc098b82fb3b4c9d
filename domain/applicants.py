"""Applicant files (dossiers): personal data, validated here, sealed by the ledger before recording.

The domain never sees ciphertext keys; it checks the rules that apply to the clear file (a numéro
unique is required, amounts are integers) and receives the sealed form to record.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from domain.errors import InvalidInput, MissingNumeroUnique

_NUMERO_UNIQUE = re.compile(r"^[0-9A-Za-z]{10,30}$")


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    birth_date: str  # ISO date
    relation: str = "applicant"  # applicant | spouse | child | other


@dataclass(frozen=True)
class ApplicantFile:
    """The clear content of an applicant file; everything here is personal data."""

    numero_unique: str
    household: tuple[Person, ...]
    monthly_resources_cents: int
    housing_benefit_cents: int = 0
    situation: str = ""  # free text: current housing, reasons for the request
    priority_flags: tuple[str, ...] = field(default_factory=tuple)  # e.g. "dalo", "handicap"

    def __post_init__(self) -> None:
        numero = self.numero_unique.strip() if isinstance(self.numero_unique, str) else ""
        if not numero:
            raise MissingNumeroUnique(
                "a file without a numéro unique cannot be examined (CCH L441-2-1)"
            )
        if not _NUMERO_UNIQUE.match(numero):
            raise MissingNumeroUnique(f"malformed numéro unique {self.numero_unique!r}")
        if not self.household:
            raise InvalidInput("the household must list at least the applicant")
        for name in ("monthly_resources_cents", "housing_benefit_cents"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidInput(f"{name} must be a non-negative integer amount in cents")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["household"] = [asdict(p) for p in self.household]
        data["priority_flags"] = list(self.priority_flags)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ApplicantFile:
        try:
            household = tuple(Person(**p) for p in data.get("household", ()))
            return cls(
                numero_unique=data.get("numero_unique") or "",
                household=household,
                monthly_resources_cents=data["monthly_resources_cents"],
                housing_benefit_cents=data.get("housing_benefit_cents", 0),
                situation=data.get("situation", ""),
                priority_flags=tuple(data.get("priority_flags", ())),
            )
        except (KeyError, TypeError) as e:
            raise InvalidInput(f"malformed applicant file: {e}") from None
