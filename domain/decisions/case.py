"""The inputs and outputs of deciding one dwelling at closing: pure data, JSON-friendly."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from domain.members import DwellingScope, Member
from domain.rules import Rules


@dataclass(frozen=True)
class CandidateFile:
    id: str
    missing_documents: tuple[str, ...] = ()


@dataclass(frozen=True)
class CaseBallot:
    """A voting member's ballot on one dwelling, cast by ``member_id``, possibly for a principal."""

    member_id: str
    ranking: tuple[str, ...]
    non_attribution: Mapping[str, str] = field(default_factory=dict)
    inadmissible: Mapping[str, str] = field(default_factory=dict)
    on_behalf_of: str | None = None

    @property
    def voter(self) -> str:
        """Whose vote this ballot is: the principal's when cast under a proxy."""
        return self.on_behalf_of or self.member_id


@dataclass(frozen=True)
class CaseReferral:
    member_id: str
    reason: str


@dataclass(frozen=True)
class DwellingCase:
    dwelling: DwellingScope
    candidates: tuple[CandidateFile, ...]
    members: tuple[Member, ...]
    #: principal member id -> proxy holder member id, proxies in force at closing
    proxies: Mapping[str, str]
    #: every counted ballot in recording order; for each voter the last one counts
    ballots: tuple[CaseBallot, ...]
    referrals: tuple[CaseReferral, ...]
    rules: Rules


Decision = Literal["attribution", "attribution_conditional", "non_attribution", "inadmissible"]


@dataclass(frozen=True)
class CandidateDecision:
    decision: Decision
    rank: int | None
    reasons: tuple[str, ...]
    missing_documents: tuple[str, ...] = ()
    #: attribution_conditional: days given to provide the missing documents (RI)
    condition_deadline_days: int | None = None


@dataclass(frozen=True)
class DwellingDecision:
    dwelling_id: str
    status: Literal["decided", "referred"]
    referral_reason: str | None  # "member_request" | "no_quorum" | "tie_for_first_place"
    quorum_required: int
    quorum_cast: int
    ranking: tuple[str, ...]
    decisions: Mapping[str, CandidateDecision]
    casting_vote_used: bool
    method: str
    method_version: str
    referrals: tuple[CaseReferral, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The `caleol decide` output, also the payload recorded at closing."""
        return {
            "dwelling": self.dwelling_id,
            "status": self.status,
            "referral_reason": self.referral_reason,
            "referrals": [{"member": r.member_id, "reason": r.reason} for r in self.referrals],
            "quorum": {"required": self.quorum_required, "cast": self.quorum_cast},
            "ranking": list(self.ranking),
            "decisions": {
                cand: {
                    "decision": d.decision,
                    "rank": d.rank,
                    "reasons": list(d.reasons),
                    "missing_documents": list(d.missing_documents),
                    "condition_deadline_days": d.condition_deadline_days,
                }
                for cand, d in self.decisions.items()
            },
            "casting_vote_used": self.casting_vote_used,
            "method": self.method,
            "method_version": self.method_version,
        }
