"""A commission's state at any instant, rebuilt from its stored events alone.

The same folds as everywhere else (the aggregates' own ``apply``), applied to the events recorded
up to the instant: the commission stream and every member's activity stream. The result also
says what the decisions would have been had the commission closed then.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.closing import decide_all
from domain.commission import Commission, Status
from domain.errors import DomainError
from domain.participation import MemberActivity, activity_id
from ledger.application import CaleolApplication, CommissionNotFound

A = TypeVar("A", bound=Aggregate)


def _fold(events: Iterable[Any], at: datetime | None) -> Any:
    aggregate = None
    for event in events:
        if at is not None and event.timestamp > at:
            break  # a stream's events are in time order: the clock never goes back
        aggregate = event.mutate(aggregate)
    return aggregate


def state_at(
    app: CaleolApplication, commission_id: UUID, at: datetime | None = None
) -> dict[str, Any]:
    commission: Commission | None = _fold(app.events.get(commission_id), at)
    if commission is None:
        raise CommissionNotFound(
            f"no commission {commission_id} at {at.isoformat() if at else 'now'}"
        )
    activities: dict[str, MemberActivity] = {}
    for member_id in sorted(commission.members):
        activity = _fold(app.events.get(activity_id(commission_id, member_id)), at)
        if activity is not None:
            activities[member_id] = activity
    return describe(commission, activities, at)


def state_upto(app: CaleolApplication, commission_id: UUID, leaf: int) -> dict[str, Any]:
    """The commission's state once the ledger held its leaves ``0..leaf`` (inclusive).

    Needs a ledger store: the leaf of each event is read from the ledger entries of the
    commission's stream and its members' activity streams; each stream is folded up to the
    last of its events at or below ``leaf``.
    """
    from ledger.merkle_store import AuditDB

    if leaf < 0:
        raise ValueError("the leaf index is a non-negative integer")
    try:
        db = AuditDB(app.recorder)
    except TypeError:
        raise CommissionNotFound("--upto needs a ledger database (SQLite or PostgreSQL)") from None
    streams = [str(commission_id)]
    last = db.leaves_of_streams(streams)
    upto: dict[str, int] = {}
    for at_leaf, stream, version in last:
        if at_leaf <= leaf:
            upto[stream] = max(upto.get(stream, 0), version)
    if str(commission_id) not in upto:
        raise CommissionNotFound(f"no commission {commission_id} at leaf {leaf}")
    commission: Commission = app.repository.get(commission_id, version=upto[str(commission_id)])
    members = sorted(commission.members)
    ids = {str(activity_id(commission_id, m)): m for m in members}
    for at_leaf, stream, version in db.leaves_of_streams(list(ids)):
        if at_leaf <= leaf:
            upto[stream] = max(upto.get(stream, 0), version)
    activities: dict[str, MemberActivity] = {}
    for stream, member_id in ids.items():
        if upto.get(stream):
            activities[member_id] = app.repository.get(
                activity_id(commission_id, member_id), version=upto[stream]
            )
    state = describe(commission, activities, None)
    state["upto_leaf"] = leaf
    state["stream_versions"] = {
        "commission": upto[str(commission_id)],
        "activities": {ids[s]: v for s, v in sorted(upto.items()) if s in ids},
    }
    return state


def describe(
    commission: Commission, activities: dict[str, MemberActivity], at: datetime | None
) -> dict[str, Any]:
    members = []
    for member_id in sorted(commission.members):
        m = commission.members[member_id]
        activity = activities.get(member_id)
        members.append(
            {
                "id": m.id,
                "name": m.name,
                "role": m.role.value,
                "vote": m.vote.value,
                "communes": sorted(m.communes),
                "contingent": m.contingent,
                "convoked": member_id in commission.convoked,
                "logins": [t.isoformat() for t in activity.logins] if activity else [],
                "files_consulted": len(activity.consulted) if activity else 0,
                "ballots": [
                    {
                        "dwelling": d,
                        "on_behalf_of": who,
                        "revision": b.revision,
                        "at": b.timestamp.isoformat(),
                    }
                    for (d, who), b in sorted(
                        activity.ballots.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")
                    )
                ]
                if activity
                else [],
                "opinions": len(activity.opinions) if activity else 0,
                "referrals": sorted(activity.referrals) if activity else [],
                "messages": len(activity.messages) if activity else 0,
            }
        )
    provisional: list[dict[str, Any]] | None = None
    if commission.status is Status.OPEN:
        try:
            provisional = decide_all(commission, activities)
        except DomainError as e:  # pragma: no cover - decisions from accepted ballots are valid
            provisional = [{"error": str(e)}]
    return {
        "commission": str(commission.id),
        "at": at.isoformat() if at else None,
        "version": commission.version,
        "agency": commission.agency_id,
        "title": commission.title,
        "status": commission.status.value,
        "rules": commission.rules.to_json(),
        "window": {
            "opens_at": commission.opens_at.isoformat(),
            "closes_at": commission.closes_at.isoformat(),
            "opened_at": commission.opened_at.isoformat() if commission.opened_at else None,
            "closed_at": commission.closed_at.isoformat() if commission.closed_at else None,
        },
        "members": members,
        "proxies": [{"from": p, "to": h} for p, h in sorted(commission.proxies.items())],
        "dwellings": [
            {
                "id": d["id"],
                "commune": d["commune"],
                "contingent": d["contingent"],
                "candidates": list(d["candidates"]),
                "exception": d["exception"],
            }
            for d in (commission.dwellings[k] for k in sorted(commission.dwellings))
        ],
        "decisions": [commission.decisions[d] for d in sorted(commission.decisions)],
        "decisions_if_closed_now": provisional,
        "minutes_sha256": commission.minutes_sha256,
    }
