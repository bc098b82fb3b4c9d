"""The event that convenes a member, shared by the remote commission and the in-person session."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate

from domain.members import convened_member


class MemberConvenedEvent(Aggregate.Event):
    """Base of each aggregate's own ``MemberConvened`` (each keeps its topic); the aggregate
    holds its convened members in ``members``."""

    actor: dict[str, Any]
    member_id: str
    name: str
    role: str
    vote: str
    communes: list[str]
    contingent: str | None

    def apply(self, aggregate: Any) -> None:
        aggregate.members[self.member_id] = convened_member(
            self.member_id, self.name, self.role, self.vote, self.communes, self.contingent
        )
