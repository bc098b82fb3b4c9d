"""One fold, many uses: the read side's state is a pure, deterministic fold over the events.

``fold(state, event)`` applies one domain event to a `FoldState`: a document per commission (and
per in-person session) holding the facts the read models need, plus the index that routes a
member's activity stream to its commission. The read models (`projections.read_models`) are pure
functions of one document. The same fold serves:

- the live projection, following the notification log with a stored tracking position
  (`projections.runner`), the documents kept in the database between batches;
- a full rebuild (`caleol projections rebuild`);
- a replay up to an instant (`projections.replay`), reading only the commission's own streams.

For the last one to agree with the live projection, a document does not depend on how events of
*different* streams interleave: each stream only adds facts to its own part (the commission's
setup and lifecycle, or one member's activity), and everything that relates streams (which ballot
counts, which is late, whether a ballot is in) is derived when the read models are computed.

No I/O and no clock: instants come from the events. ``fold`` updates the state it is given in
place (copying a document per event would make a rebuild of a million events quadratic) and
says which document it changed; documents are plain JSON values, stored and reloaded as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from domain.commission import Commission
from domain.in_person import InPersonSession
from domain.participation import MemberActivity, activity_id

__all__ = [
    "KIND_COMMISSION",
    "KIND_IN_PERSON",
    "FoldState",
    "fold",
    "fold_activity",
    "fold_commission",
    "fold_in_person",
    "iso",
]

KIND_COMMISSION = "commission"
KIND_IN_PERSON = "in_person"

Doc = dict[str, Any]


def iso(value: datetime) -> str:
    """UTC, microseconds, ``Z``: the ledger's instant format (sorts as text)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive instant {value!r}")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


@dataclass
class FoldState:
    """Documents by key (the commission's or session's id) and the activity-stream index."""

    docs: dict[str, Doc] = field(default_factory=dict)
    #: activity stream id -> [commission key, member id]
    streams: dict[str, list[str]] = field(default_factory=dict)


# ------------------------------------------------------------------------- commission stream


def _new_commission(e: Commission.Scheduled) -> Doc:
    return {
        "kind": KIND_COMMISSION,
        "id": str(e.originator_id),
        "agency": e.agency_id,
        "title": e.title,
        "rules": dict(e.rules),
        "scheduled_at": iso(e.timestamp),
        "scheduled_by": e.actor.get("id"),
        "opens_at": iso(e.opens_at),
        "closes_at": iso(e.closes_at),
        "status": "draft",
        "convened_at": None,
        "opened_at": None,
        "opened_by": None,
        "closed_at": None,
        "closed_by": None,
        "cancelled": None,
        "cutoff": None,
        "members": {},
        "convoked": {},
        "dwellings": {},
        "candidates": {},
        "proxies": {},
        "proxy_history": [],
        "decisions": None,
        "minutes": None,
        "events": 0,
        "activity": {},
    }


def _member_convened(d: Doc, e: Commission.MemberConvened) -> None:
    d["members"][e.member_id] = {
        "name": e.name,
        "role": e.role,
        "vote": e.vote,
        "communes": sorted(e.communes),
        "contingent": e.contingent,
        "convened_at": iso(e.timestamp),
    }


def _convocation_sent(d: Doc, e: Commission.ConvocationSent) -> None:
    for member_id in e.member_ids:
        d["convoked"].setdefault(member_id, iso(e.timestamp))
    if d["status"] == "draft":
        d["status"] = "convened"
        d["convened_at"] = iso(e.timestamp)


def _dwelling_listed(d: Doc, e: Commission.DwellingListed) -> None:
    d["dwellings"][e.dwelling_id] = {
        "commune": e.commune,
        "contingent": e.contingent,
        "description": dict(e.description),
        "candidates": [],
        "exception": None,
    }


def _candidate_presented(d: Doc, e: Commission.CandidatePresented) -> None:
    d["candidates"][e.candidate_id] = {
        "dwelling": e.dwelling_id,
        "applicant_ref": e.applicant_ref,
        "missing_documents": list(e.missing_documents),
        "cotation": e.cotation,
        "withdrawn": None,
    }
    d["dwellings"][e.dwelling_id]["candidates"].append(e.candidate_id)


def _candidate_withdrawn(d: Doc, e: Commission.CandidateWithdrawn) -> None:
    candidate = d["candidates"][e.candidate_id]
    candidate["withdrawn"] = e.reason
    listed = d["dwellings"][candidate["dwelling"]]["candidates"]
    if e.candidate_id in listed:
        listed.remove(e.candidate_id)


def _exception_stated(d: Doc, e: Commission.ExceptionStated) -> None:
    d["dwellings"][e.dwelling_id]["exception"] = {"code": e.reason_code, "detail": e.detail}


def _opened(d: Doc, e: Commission.Opened) -> None:
    d["status"] = "open"
    d["opened_at"] = iso(e.timestamp)
    d["opened_by"] = e.by


def _proxy_given(d: Doc, e: Commission.ProxyGiven) -> None:
    d["proxies"][e.principal_id] = e.holder_id
    d["proxy_history"].append(
        {
            "principal": e.principal_id,
            "holder": e.holder_id,
            "given_at": iso(e.timestamp),
            "revoked_at": None,
        }
    )


def _proxy_revoked(d: Doc, e: Commission.ProxyRevoked) -> None:
    d["proxies"].pop(e.principal_id, None)
    for entry in reversed(d["proxy_history"]):
        if entry["principal"] == e.principal_id and entry["revoked_at"] is None:
            entry["revoked_at"] = iso(e.timestamp)
            break


def _closed(d: Doc, e: Commission.Closed) -> None:
    d["status"] = "closed"
    d["closed_at"] = iso(e.timestamp)
    d["closed_by"] = e.by
    d["cutoff"] = dict(e.cutoff)


def _decisions_recorded(d: Doc, e: Commission.DecisionsRecorded) -> None:
    d["decisions"] = {
        "method": e.method,
        "method_version": e.method_version,
        "recorded_at": iso(e.timestamp),
        "dwellings": {str(x["dwelling"]): x for x in e.decisions},
        "late_ballots": list(e.late_ballots),
    }


def _minutes_approved(d: Doc, e: Commission.MinutesApproved) -> None:
    d["status"] = "minutes_approved"
    d["minutes"] = {
        "approved_at": iso(e.timestamp),
        "president": e.president_id,
        "sha256": e.minutes_sha256,
    }


def _cancelled(d: Doc, e: Commission.Cancelled) -> None:
    d["status"] = "cancelled"
    d["cancelled"] = {"at": iso(e.timestamp), "reason": e.reason}


_COMMISSION: dict[type, Callable[[Doc, Any], None]] = {
    Commission.MemberConvened: _member_convened,
    Commission.ConvocationSent: _convocation_sent,
    Commission.DwellingListed: _dwelling_listed,
    Commission.CandidatePresented: _candidate_presented,
    Commission.CandidateWithdrawn: _candidate_withdrawn,
    Commission.ExceptionStated: _exception_stated,
    Commission.Opened: _opened,
    Commission.ProxyGiven: _proxy_given,
    Commission.ProxyRevoked: _proxy_revoked,
    Commission.Closed: _closed,
    Commission.DecisionsRecorded: _decisions_recorded,
    Commission.MinutesApproved: _minutes_approved,
    Commission.Cancelled: _cancelled,
}


def fold_commission(doc: Doc | None, event: Any) -> Doc | None:
    """One event of a commission's own stream."""
    if isinstance(event, Commission.Scheduled):
        doc = _new_commission(event)
    elif doc is None:
        return None  # the commission's creation was not seen: nothing to attach the event to
    else:
        handler = _COMMISSION.get(type(event))
        if handler is not None:
            handler(doc, event)
    doc["events"] += 1
    return doc


# ------------------------------------------------------------------------ activity streams


def _new_activity() -> Doc:
    return {
        "events": 0,
        "version": 0,
        "started_at": None,
        "logins": [],
        "consulted": {},
        "consultations": 0,
        "ballots": {},
        "opinions": [],
        "referrals": {},
        "messages": {"member": 0, "staff": 0, "corrections": 0, "last_at": None},
    }


def _logged_in(a: Doc, e: MemberActivity.LoggedIn) -> None:
    a["logins"].append([iso(e.timestamp), e.method])


def _file_consulted(a: Doc, e: MemberActivity.FileConsulted) -> None:
    a["consultations"] += 1
    a["consulted"][e.candidate_id] = a["consulted"].get(e.candidate_id, 0) + 1


def _ballot_submitted(a: Doc, e: MemberActivity.BallotSubmitted) -> None:
    per_dwelling = a["ballots"].setdefault(e.dwelling_id, {})
    per_dwelling.setdefault(e.on_behalf_of or "", []).append(
        {"version": e.originator_version, "revision": e.revision, "at": iso(e.timestamp)}
    )


def _opinion_given(a: Doc, e: MemberActivity.OpinionGiven) -> None:
    a["opinions"].append(
        {
            "version": e.originator_version,
            "at": iso(e.timestamp),
            "dwelling": e.dwelling_id,
            "opinion": e.opinion,
            "candidate": e.candidate_id,
        }
    )


def _referral_requested(a: Doc, e: MemberActivity.ReferralRequested) -> None:
    a["referrals"][e.dwelling_id] = {
        "version": e.originator_version,
        "at": iso(e.timestamp),
        "reason": dict(e.reason),
    }


def _message_posted(a: Doc, e: MemberActivity.MessagePosted) -> None:
    counts = a["messages"]
    counts["staff" if e.author.get("role") == "staff" else "member"] += 1
    if e.reply_to is not None:
        counts["corrections"] += 1
    counts["last_at"] = iso(e.timestamp)


_ACTIVITY: dict[type, Callable[[Doc, Any], None]] = {
    MemberActivity.LoggedIn: _logged_in,
    MemberActivity.FileConsulted: _file_consulted,
    MemberActivity.BallotSubmitted: _ballot_submitted,
    MemberActivity.OpinionGiven: _opinion_given,
    MemberActivity.ReferralRequested: _referral_requested,
    MemberActivity.MessagePosted: _message_posted,
}


def fold_activity(doc: Doc | None, member_id: str, event: Any) -> Doc | None:
    """One event of a member's activity stream, into its commission's document."""
    if doc is None:
        return None
    activity = doc["activity"].get(member_id)
    if activity is None:
        activity = doc["activity"][member_id] = _new_activity()
    if isinstance(event, MemberActivity.Started):
        activity["started_at"] = iso(event.timestamp)
    else:
        handler = _ACTIVITY.get(type(event))
        if handler is not None:
            handler(activity, event)
    activity["events"] += 1
    activity["version"] = event.originator_version
    doc["events"] += 1
    return doc


# ------------------------------------------------------------------------ in-person sessions


def fold_in_person(doc: Doc | None, event: Any) -> Doc | None:
    if isinstance(event, InPersonSession.Scheduled):
        doc = {
            "kind": KIND_IN_PERSON,
            "id": str(event.originator_id),
            "agency": event.agency_id,
            "title": event.title,
            "held_at": iso(event.held_at),
            "dwellings": event.dwellings,
            "commission_id": event.commission_id,
            "status": "scheduled",
            "members": {},
            "attendance": {},
            "closed_at": None,
            "dwellings_examined": None,
            "events": 0,
        }
    elif doc is None:
        return None
    elif isinstance(event, InPersonSession.MemberConvened):
        doc["members"][event.member_id] = {
            "name": event.name,
            "role": event.role,
            "vote": event.vote,
            "communes": sorted(event.communes),
            "contingent": event.contingent,
        }
    elif isinstance(event, InPersonSession.AttendanceRecorded):
        doc["attendance"][event.member_id] = {
            "attendance": event.attendance,
            "represented_by": event.represented_by,
            "at": iso(event.timestamp),
        }
    elif isinstance(event, InPersonSession.SheetClosed):
        doc["status"] = "closed"
        doc["closed_at"] = iso(event.timestamp)
        doc["dwellings_examined"] = event.dwellings_examined
    doc["events"] += 1
    return doc


# ---------------------------------------------------------------------------------- routing

_COMMISSION_EVENTS = (Commission.Scheduled, Commission.Event)
_ACTIVITY_EVENTS = (MemberActivity.Started, MemberActivity.Event)
_IN_PERSON_EVENTS = (InPersonSession.Scheduled, InPersonSession.Event)


def route(state: FoldState, event: Any) -> tuple[str, str | None] | None:
    """(document key, member id for an activity event), or None if no read model needs it."""
    stream = str(event.originator_id)
    if isinstance(event, (*_COMMISSION_EVENTS, *_IN_PERSON_EVENTS)):
        return stream, None
    if isinstance(event, _ACTIVITY_EVENTS):
        if isinstance(event, MemberActivity.Started):
            return str(event.commission_id), event.member_id
        found = state.streams.get(stream)
        return (found[0], found[1]) if found else None
    return None


def fold(state: FoldState, event: Any) -> tuple[str, list[str]] | None:
    """Applies one event; returns (the key of the changed document, new activity stream ids
    registered), or None when the event concerns no read model (erasures, key log, ...)."""
    routed = route(state, event)
    if routed is None:
        return None
    key, member_id = routed
    doc = state.docs.get(key)
    new_streams: list[str] = []
    if member_id is not None:
        changed = fold_activity(doc, member_id, event)
        if isinstance(event, MemberActivity.Started):
            stream = str(event.originator_id)
            if stream not in state.streams:
                state.streams[stream] = [key, member_id]
                new_streams.append(stream)
    elif isinstance(event, _IN_PERSON_EVENTS):
        changed = fold_in_person(doc, event)
    else:
        changed = fold_commission(doc, event)
        if isinstance(event, Commission.MemberConvened):
            # The member's activity stream id is known from now on: route it here.
            stream = str(activity_id(UUID(key), event.member_id))
            if stream not in state.streams:
                state.streams[stream] = [key, event.member_id]
                new_streams.append(stream)
    if changed is None:
        return None
    state.docs[key] = changed
    return key, new_streams
