"""The commission's internal rules (règlement intérieur, RI): what the law leaves to it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from domain.errors import InvalidInput


class Method(StrEnum):
    SCHULZE = "schulze"
    BORDA = "borda"


@dataclass(frozen=True)
class Rules:
    method: Method = Method.SCHULZE
    #: "half": at least half of the voting members with rights on the dwelling cast a ballot
    #: (themselves or by proxy); an int: that many ballots.
    quorum: str | int = "half"
    max_proxies_per_holder: int = 1
    min_candidates: int = 3
    #: How many voting members with rights on a dwelling must ask for a referral to obtain it.
    referral_threshold: int = 1
    #: Days given to a candidate to provide a missing document (suspensive condition).
    condition_deadline_days: int = 10
    version: str = "1"

    def __post_init__(self) -> None:
        if not isinstance(self.method, Method):
            try:
                object.__setattr__(self, "method", Method(self.method))
            except ValueError:
                raise InvalidInput(f"unknown decision method {self.method!r}") from None
        quorum = self.quorum
        if isinstance(quorum, bool) or not (
            quorum == "half" or (isinstance(quorum, int) and quorum >= 1)
        ):
            raise InvalidInput(f"quorum must be 'half' or a positive integer, not {quorum!r}")
        for name in ("max_proxies_per_holder", "min_candidates", "referral_threshold"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInput(f"{name} must be a positive integer, not {value!r}")

    def quorum_required(self, voting_members_with_rights: int) -> int:
        if self.quorum == "half":
            return (voting_members_with_rights + 1) // 2
        assert isinstance(self.quorum, int)
        return self.quorum

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["method"] = self.method.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Rules:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        unknown = set(data) - set(known)
        if unknown:
            raise InvalidInput(f"unknown rule(s): {', '.join(sorted(unknown))}")
        return cls(**known)
