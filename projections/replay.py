"""The read models up to an instant, from a commission's own streams (as `replay.state` reads
them): the commission's stream, then each convened member's activity stream, every event
recorded at or before the instant, through the same `projections.fold`.

A document does not depend on how the events of different streams interleave, so folding the
streams one after the other gives what the live projection (which follows the global
notification order) held once it had processed every event recorded up to that instant.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from domain.participation import activity_id
from projections.fold import fold_activity, fold_commission, fold_in_person
from projections.read_models import commission_state, participation

__all__ = [
    "EventSource",
    "commission_doc_at",
    "commission_state_at",
    "participation_at",
    "session_doc_at",
]


class EventSource(Protocol):
    """What reads one stream's domain events in version order (``app.events``)."""

    def get(self, originator_id: UUID) -> Iterable[Any]: ...


def _upto(events: Iterable[Any], at: datetime | None) -> Iterator[Any]:
    for event in events:
        if at is not None and event.timestamp > at:
            return  # a stream's events are in time order: the clock never goes back
        yield event


def commission_doc_at(
    events: EventSource, commission_id: UUID, at: datetime | None = None
) -> dict[str, Any] | None:
    doc: dict[str, Any] | None = None
    for event in _upto(events.get(commission_id), at):
        doc = fold_commission(doc, event)
    if doc is None:
        return None
    for member_id in sorted(doc["members"]):
        for event in _upto(events.get(activity_id(commission_id, member_id)), at):
            doc = fold_activity(doc, member_id, event)
    return doc


def session_doc_at(
    events: EventSource, session_id: UUID, at: datetime | None = None
) -> dict[str, Any] | None:
    doc: dict[str, Any] | None = None
    for event in _upto(events.get(session_id), at):
        doc = fold_in_person(doc, event)
    return doc


def commission_state_at(
    events: EventSource, commission_id: UUID, at: datetime | None = None
) -> dict[str, Any] | None:
    """The commission-state read model as it was at ``at`` (now if None); None if the
    commission did not exist yet."""
    doc = commission_doc_at(events, commission_id, at)
    return commission_state(doc) if doc is not None else None


def participation_at(
    events: EventSource, commission_id: UUID, at: datetime | None = None
) -> dict[str, Any] | None:
    doc = commission_doc_at(events, commission_id, at)
    return participation(doc) if doc is not None else None
