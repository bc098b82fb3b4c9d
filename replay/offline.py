"""Recomputation from stored events alone, with no database: the regulator's side.

:func:`offline_app` loads stored events (their exact stored bytes) into an in-memory
`CaleolApplication` that decodes them with the ledger's canonical transcoder; the applicant
vault is empty, so personal data reads as erased. :func:`recompute_decisions` redoes what the
platform did at closing: the commission as it was just before its ``Closed`` event, each
member's activity cut at the recorded cut-off, then `domain.closing.decide_all`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import StoredEvent

from domain.closing import decide_all
from domain.commission import Commission, Status
from domain.participation import MemberActivity, activity_id
from ledger.application import CaleolApplication

__all__ = ["Recomputed", "canonical", "offline_app", "recompute_decisions"]

_ENV = {
    "PERSISTENCE_MODULE": "eventsourcing.popo",
    "TRANSCODER_TOPIC": "ledger.canonical:CanonicalTranscoder",
}


def canonical(value: Any) -> bytes:
    """Canonical JSON bytes (sorted keys, compact) of plain JSON data, for comparisons."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def offline_app(stored_events: Iterable[StoredEvent]) -> CaleolApplication:
    """An in-memory application holding exactly ``stored_events`` (no vault keys)."""
    app = CaleolApplication(env=dict(_ENV))
    by_stream: dict[str, list[StoredEvent]] = {}
    for stored in stored_events:
        by_stream.setdefault(str(stored.originator_id), []).append(stored)
    for events in by_stream.values():
        events.sort(key=lambda s: s.originator_version)
        app.recorder.insert_events(
            [
                StoredEvent(UUID(str(s.originator_id)), s.originator_version, s.topic, s.state)
                for s in events
            ]
        )
    return app


@dataclass(frozen=True)
class Recomputed:
    """Decisions recomputed from the events, and those the platform recorded."""

    closed: bool
    recomputed: list[dict[str, Any]]
    recorded: list[dict[str, Any]]
    closed_version: int | None

    @property
    def identical(self) -> bool:
        return canonical(self.recomputed) == canonical(self.recorded)

    def differences(self) -> list[str]:
        """Dwellings whose recomputed decision differs from the recorded one."""
        mine = {d.get("dwelling"): canonical(d) for d in self.recomputed}
        theirs = {d.get("dwelling"): canonical(d) for d in self.recorded}
        return sorted(str(k) for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))


def recompute_decisions(app: CaleolApplication, commission_id: UUID) -> Recomputed:
    """Redo the closing's decisions from the stored events (see the module docstring)."""
    commission: Any = None
    before_close: Commission | None = None
    cutoff: dict[str, int] = {}
    recorded: list[dict[str, Any]] | None = None
    recomputed: list[dict[str, Any]] = []
    closed_version = None
    event: Any
    for event in app.events.get(commission_id):
        if isinstance(event, Commission.Closed) and before_close is None:
            before_close = commission
            cutoff = dict(event.cutoff)
            closed_version = event.originator_version
            recomputed = _decide(app, before_close, commission_id, cutoff)
        if isinstance(event, Commission.DecisionsRecorded) and recorded is None:
            recorded = orjson.loads(canonical(event.decisions))
        commission = event.mutate(commission)
    if before_close is None:
        return Recomputed(False, [], [], None)
    return Recomputed(True, orjson.loads(canonical(recomputed)), recorded or [], closed_version)


def _decide(
    app: CaleolApplication,
    commission: Commission | None,
    commission_id: UUID,
    cutoff: dict[str, int],
) -> list[dict[str, Any]]:
    if commission is None or commission.status is not Status.OPEN:
        return []  # the platform records no decision for a commission that was not open
    activities: dict[str, MemberActivity] = {}
    for member_id, version in sorted(cutoff.items()):
        if version:
            activities[member_id] = app.repository.get(
                activity_id(commission_id, member_id), version=version
            )
    return decide_all(commission, activities)
