"""The register of erasures: destroying an applicant's data key is itself an event."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.actor import Actor
from domain.commission import NAMESPACE
from domain.errors import InvalidInput

ERASURE_REASONS = frozenset({"right_to_erasure", "retention_end"})


class ErasureRegister(Aggregate):
    ID: UUID = uuid5(NAMESPACE, "erasure-register")

    class Opened(Aggregate.Created):
        actor: dict[str, Any]

    class ApplicantErased(Aggregate.Event):
        actor: dict[str, Any]
        applicant_ref: str  # never the numéro unique: the register holds no personal data
        reason: str

        def apply(self, r: ErasureRegister) -> None:
            r.erased.append(self.applicant_ref)

    def __init__(self, actor: dict[str, Any]) -> None:
        self.erased: list[str] = []

    @classmethod
    def open(cls, *, actor: Actor, at: datetime) -> ErasureRegister:
        return cls._create(cls.Opened, id=cls.ID, timestamp=at, actor=actor.to_json())

    def record(self, *, actor: Actor, at: datetime, applicant_ref: str, reason: str) -> None:
        if reason not in ERASURE_REASONS:
            raise InvalidInput(f"erasure reason must be one of {sorted(ERASURE_REASONS)}")
        self.trigger_event(
            self.ApplicantErased,
            timestamp=at,
            actor=actor.to_json(),
            applicant_ref=applicant_ref,
            reason=reason,
        )
