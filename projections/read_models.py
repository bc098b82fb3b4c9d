"""The read models: pure functions of one folded document (`projections.fold`).

- `commission_state`: a commission's current state for the agency's staff and its members:
  status and window, members and their rights per dwelling, proxies, dwellings and candidates,
  per member and dwelling whether a ballot (or, for consultative members, an opinion) is in,
  referrals, decisions, minutes status, and the late ballots: those whose version in the
  member's activity stream is above the member's cut-off in the ``Closed`` event
  (docs/DESIGN-NOTES.md, "The closing cut-off").
- `participation`: one row for the session (remote commission or in-person session) and one row
  per convened member, the facts from which `projections.stats` computes participation figures.
- `table_rows`: both, as the rows of the materialised tables (`projections.store`).

Which ballot counts for a voter (as at closing, `domain.closing`): only ballots within the
cut-off; the voter's own last ballot; otherwise the last ballot cast on their behalf by the
holder of their proxy in force (at closing, or now while the commission is open).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.members import DwellingScope, Member, Right, Role, VoteType, right_on
from domain.rules import Rules
from projections.fold import KIND_COMMISSION, KIND_IN_PERSON

__all__ = [
    "CATEGORIES",
    "category_of",
    "commission_state",
    "participation",
    "table_rows",
]

Doc = dict[str, Any]

#: Member categories of the participation statistics.
CATEGORIES = {
    "elected": "Maires et élus",
    "prefecture": "Préfecture",
    "tenants": "Représentant des locataires",
    "reservation_holders": "Réservataires",
    "board": "Administrateurs",
    "social_engineering": "Organisme d'ingénierie sociale",
}
_CATEGORY_OF_ROLE = {
    Role.MAYOR.value: "elected",
    Role.ARRONDISSEMENT_MAYOR.value: "elected",
    Role.EPCI.value: "elected",
    Role.PREFECTURE.value: "prefecture",
    Role.TENANT_REPRESENTATIVE.value: "tenants",
    Role.RESERVATION_HOLDER.value: "reservation_holders",
    Role.BOARD.value: "board",
    Role.SOCIAL_ENGINEERING.value: "social_engineering",
}
#: Commissions are held in France: the day a session is held is its day in Paris.
LEGAL_TIMEZONE = ZoneInfo("Europe/Paris")


def category_of(role: str) -> str:
    return _CATEGORY_OF_ROLE.get(role, "other")


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _seconds(start: str | None, end: str | None) -> int | None:
    """Whole seconds from ``start`` to ``end``, at least 0 (a login before opening counts 0)."""
    if start is None or end is None:
        return None
    return max(0, int((_instant(end) - _instant(start)).total_seconds()))


def _day(text: str) -> str:
    return _instant(text).astimezone(LEGAL_TIMEZONE).date().isoformat()


def _member(member_id: str, m: Doc) -> Member:
    return Member(
        id=member_id,
        role=Role(m["role"]),
        vote=VoteType(m["vote"]),
        name=m["name"],
        communes=frozenset(m["communes"]),
        contingent=m["contingent"],
    )


class _Commission:
    """Derived facts of one commission document, computed once."""

    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self.closed = doc["cutoff"] is not None
        self.cutoff: dict[str, int] = doc["cutoff"] or {}
        self.members = {mid: _member(mid, m) for mid, m in sorted(doc["members"].items())}
        self.activity: dict[str, Doc] = doc["activity"]
        self._referrals: list[Doc] | None = None
        self._ballots_in: dict[tuple[str, str], tuple[str, Doc] | None] = {}
        self._dwelling_facts: dict[str, Doc] = {}
        self.rules = Rules.from_json(doc["rules"])
        self.rights: dict[tuple[str, str], Right] = {}
        for did, d in sorted(doc["dwellings"].items()):
            scope = DwellingScope(id=did, commune=d["commune"], contingent=d["contingent"])
            for mid, member in self.members.items():
                self.rights[(did, mid)] = right_on(member, scope)

    def counts(self, member_id: str, version: int) -> bool:
        """Within the closing cut-off (everything counts while the commission is not closed)."""
        return not self.closed or version <= self.cutoff.get(member_id, 0)

    def counted_ballot(self, cast_by: str, dwelling_id: str, on_behalf_of: str) -> Doc | None:
        activity = self.activity.get(cast_by)
        if activity is None:
            return None
        submitted = activity["ballots"].get(dwelling_id, {}).get(on_behalf_of, [])
        counted = [b for b in submitted if self.counts(cast_by, b["version"])]
        return counted[-1] if counted else None

    def ballot_in(self, member_id: str, dwelling_id: str) -> tuple[str, Doc] | None:
        """(cast by, ballot) of the ballot that counts for a voter on a dwelling."""
        key = (member_id, dwelling_id)
        if key not in self._ballots_in:
            self._ballots_in[key] = self._find_ballot(member_id, dwelling_id)
        return self._ballots_in[key]

    def _find_ballot(self, member_id: str, dwelling_id: str) -> tuple[str, Doc] | None:
        own = self.counted_ballot(member_id, dwelling_id, "")
        if own is not None:
            return member_id, own
        holder = self.doc["proxies"].get(member_id)
        if holder is not None:
            held = self.counted_ballot(holder, dwelling_id, member_id)
            if held is not None:
                return holder, held
        return None

    def opinion_in(self, member_id: str, dwelling_id: str) -> Doc | None:
        activity = self.activity.get(member_id)
        if activity is None:
            return None
        given = [
            o
            for o in activity["opinions"]
            if o["dwelling"] == dwelling_id and self.counts(member_id, o["version"])
        ]
        return given[-1] if given else None

    def referrals(self) -> list[Doc]:
        if self._referrals is None:
            self._referrals = self._find_referrals()
        return self._referrals

    def _find_referrals(self) -> list[Doc]:
        found = []
        for mid in sorted(self.activity):
            for did, r in sorted(self.activity[mid]["referrals"].items()):
                found.append(
                    {
                        "dwelling": did,
                        "member": mid,
                        "reason": r["reason"],
                        "at": r["at"],
                        "counted": self.counts(mid, r["version"]),
                    }
                )
        return found

    def late(self) -> tuple[list[Doc], list[Doc], list[Doc]]:
        ballots: list[Doc] = []
        opinions: list[Doc] = []
        referrals: list[Doc] = []
        if not self.closed:
            return ballots, opinions, referrals
        for mid in sorted(self.activity):
            a = self.activity[mid]
            cut = self.cutoff.get(mid, 0)
            for did in sorted(a["ballots"]):
                for behalf in sorted(a["ballots"][did]):
                    for b in a["ballots"][did][behalf]:
                        if b["version"] > cut:
                            ballots.append(
                                {
                                    "member": mid,
                                    "dwelling": did,
                                    "on_behalf_of": behalf or None,
                                    "revision": b["revision"],
                                    "version": b["version"],
                                    "cutoff": cut,
                                    "at": b["at"],
                                }
                            )
            for o in a["opinions"]:
                if o["version"] > cut:
                    opinions.append({"member": mid, **o, "cutoff": cut})
            for did, r in sorted(a["referrals"].items()):
                if r["version"] > cut:
                    referrals.append({"member": mid, "dwelling": did, **r, "cutoff": cut})
        ballots.sort(key=lambda b: (b["member"], b["version"]))
        opinions.sort(key=lambda o: (o["member"], o["version"]))
        referrals.sort(key=lambda r: (r["member"], r["version"]))
        return ballots, opinions, referrals

    def dwelling_facts(self, dwelling_id: str) -> Doc:
        if dwelling_id not in self._dwelling_facts:
            self._dwelling_facts[dwelling_id] = self._facts(dwelling_id)
        return self._dwelling_facts[dwelling_id]

    def _facts(self, dwelling_id: str) -> Doc:
        voters = [m for m in self.members if self.rights[(dwelling_id, m)] is Right.VOTE]
        cast = sum(1 for m in voters if self.ballot_in(m, dwelling_id) is not None)
        requests = [r for r in self.referrals() if r["dwelling"] == dwelling_id and r["counted"]]
        decided = (self.doc["decisions"] or {}).get("dwellings", {}).get(dwelling_id)
        if decided is not None:
            required = int(decided["quorum"]["required"])
            cast_recorded = int(decided["quorum"]["cast"])
            quorum = {
                "required": required,
                "cast": cast_recorded,
                "reached": cast_recorded >= required and cast_recorded > 0,
                "recorded": True,
            }
            status = decided["status"]
            referral_reason = decided.get("referral_reason")
        else:
            required = self.rules.quorum_required(len(voters))
            quorum = {
                "required": required,
                "cast": cast,
                "reached": cast >= required and cast > 0,
                "recorded": False,
            }
            status = "cancelled" if self.doc["status"] == "cancelled" else "pending"
            referral_reason = None
        return {
            "voters": len(voters),
            "ballots_in": cast,
            "quorum": quorum,
            "referral_requests": len(requests),
            "status": status,
            "referral_reason": referral_reason,
        }


def _minutes_status(doc: Doc) -> Doc:
    minutes = doc["minutes"]
    if minutes is not None:
        return {"status": "approved", **minutes}
    status = {
        "closed": "awaiting_approval",
        "cancelled": "none",
    }.get(doc["status"], "not_due")
    return {"status": status, "approved_at": None, "president": None, "sha256": None}


def commission_state(doc: Doc, derived: _Commission | None = None) -> Doc:
    """The commission-state read model of one commission document (JSON values only)."""
    c = derived or _Commission(doc)
    held: dict[str, list[str]] = {}
    for principal, holder in sorted(doc["proxies"].items()):
        held.setdefault(holder, []).append(principal)
    decisions = (doc["decisions"] or {}).get("dwellings", {})

    members = []
    for mid in c.members:
        m = doc["members"][mid]
        a = c.activity.get(mid)
        logins = [t for t, _ in a["logins"]] if a else []
        members.append(
            {
                "id": mid,
                "name": m["name"],
                "role": m["role"],
                "category": category_of(m["role"]),
                "vote": m["vote"],
                "communes": m["communes"],
                "contingent": m["contingent"],
                "convened_at": m["convened_at"],
                "convoked_at": doc["convoked"].get(mid),
                "rights": {
                    did: c.rights[(did, mid)].value
                    for did in sorted(doc["dwellings"])
                    if c.rights[(did, mid)] is not Right.NONE
                },
                "proxy_to": doc["proxies"].get(mid),
                "proxies_held": held.get(mid, []),
                "logins": len(logins),
                "first_login_at": min(logins) if logins else None,
                "last_login_at": max(logins) if logins else None,
                "files_consulted": len(a["consulted"]) if a else 0,
                "consultations": a["consultations"] if a else 0,
                "ballots_submitted": sum(
                    len(v) for per in a["ballots"].values() for v in per.values()
                )
                if a
                else 0,
                "opinions": len(a["opinions"]) if a else 0,
                "referrals": len(a["referrals"]) if a else 0,
                "messages": dict(a["messages"]) if a else None,
            }
        )

    ballots = []
    for did in sorted(doc["dwellings"]):
        for mid in c.members:
            right = c.rights[(did, mid)]
            if right is Right.NONE:
                continue
            entry: Doc = {"dwelling": did, "member": mid, "right": right.value}
            if right is Right.VOTE:
                found = c.ballot_in(mid, did)
                entry.update(
                    {
                        "in": found is not None,
                        "cast_by": found[0] if found else None,
                        "by_proxy": bool(found and found[0] != mid),
                        "revision": found[1]["revision"] if found else None,
                        "at": found[1]["at"] if found else None,
                    }
                )
            else:
                opinion = c.opinion_in(mid, did)
                entry.update(
                    {
                        "in": opinion is not None,
                        "cast_by": mid if opinion else None,
                        "by_proxy": False,
                        "revision": None,
                        "at": opinion["at"] if opinion else None,
                    }
                )
            ballots.append(entry)

    dwellings = []
    for did, d in sorted(doc["dwellings"].items()):
        dwellings.append(
            {
                "id": did,
                "commune": d["commune"],
                "contingent": d["contingent"],
                "description": d["description"],
                "candidates": list(d["candidates"]),
                "exception": d["exception"],
                **c.dwelling_facts(did),
            }
        )

    candidates = []
    for cid_, cand in sorted(doc["candidates"].items()):
        decided = decisions.get(cand["dwelling"], {}).get("decisions", {}).get(cid_)
        candidates.append(
            {
                "id": cid_,
                "dwelling": cand["dwelling"],
                "missing_documents": cand["missing_documents"],
                "cotation": cand["cotation"],
                "withdrawn": cand["withdrawn"],
                "decision": decided["decision"] if decided else None,
                "rank": decided["rank"] if decided else None,
                "reasons": decided["reasons"] if decided else [],
            }
        )

    late_ballots, late_opinions, late_referrals = c.late()
    return {
        "commission": doc["id"],
        "agency": doc["agency"],
        "title": doc["title"],
        "status": doc["status"],
        "rules": doc["rules"],
        "window": {
            "opens_at": doc["opens_at"],
            "closes_at": doc["closes_at"],
            "convened_at": doc["convened_at"],
            "opened_at": doc["opened_at"],
            "opened_by": doc["opened_by"],
            "closed_at": doc["closed_at"],
            "closed_by": doc["closed_by"],
        },
        "cancelled": doc["cancelled"],
        "members": members,
        "proxies": [
            {"from": p, "to": h, "given_at": _given_at(doc, p)}
            for p, h in sorted(doc["proxies"].items())
        ],
        "proxy_history": doc["proxy_history"],
        "dwellings": dwellings,
        "candidates": candidates,
        "ballots": ballots,
        "referrals": c.referrals(),
        "decisions": {
            "method": doc["decisions"]["method"],
            "method_version": doc["decisions"]["method_version"],
            "recorded_at": doc["decisions"]["recorded_at"],
            "dwellings": [decisions[k] for k in sorted(decisions)],
        }
        if doc["decisions"]
        else None,
        "cutoff": doc["cutoff"],
        "late_ballots": late_ballots,
        "late_opinions": late_opinions,
        "late_referrals": late_referrals,
        "minutes": _minutes_status(doc),
        "events": doc["events"],
    }


def _given_at(doc: Doc, principal: str) -> str | None:
    for entry in reversed(doc["proxy_history"]):
        if entry["principal"] == principal and entry["revoked_at"] is None:
            return str(entry["given_at"])
    return None


# ------------------------------------------------------------------------- participation


def participation(doc: Doc, derived: _Commission | None = None) -> Doc:
    """{"session": one row, "members": [one row per convened member]} for the statistics."""
    if doc["kind"] == KIND_IN_PERSON:
        return _in_person_participation(doc)
    c = derived or _Commission(doc)
    opened = doc["opened_at"]
    members = []
    for mid, member in c.members.items():
        a = c.activity.get(mid)
        voting = member.vote is VoteType.DELIBERATIVE
        own: list[Doc] = []
        by_proxy = False
        opinions = 0
        for did in sorted(doc["dwellings"]):
            right = c.rights[(did, mid)]
            if right is Right.VOTE:
                found = c.ballot_in(mid, did)
                if found is not None and found[0] == mid:
                    own.append(found[1])
                elif found is not None:
                    by_proxy = True
            elif right is Right.OPINION and c.opinion_in(mid, did) is not None:
                opinions += 1
        logins = sorted(t for t, _ in a["logins"]) if a else []
        first_own = min((b["at"] for b in _own_ballots(c, mid)), default=None)
        in_person = voting and bool(own)
        members.append(
            {
                "member": mid,
                "role": member.role.value,
                "category": category_of(member.role.value),
                "voting": int(voting),
                "convened": int(mid in doc["convoked"]),
                "logged_in": int(bool(logins)),
                "voted": int(in_person or (voting and by_proxy)),
                "voted_in_person": int(in_person),
                "voted_by_proxy": int(voting and by_proxy and not in_person),
                "opinions": opinions,
                "first_login_s": _seconds(opened, logins[0]) if logins else None,
                "first_ballot_s": _seconds(opened, first_own),
                "consultations": a["consultations"] if a else 0,
                "messages": a["messages"]["member"] if a else 0,
                "referral_requests": sum(
                    1 for r in c.referrals() if r["member"] == mid and r["counted"]
                ),
            }
        )
    facts = [c.dwelling_facts(did) for did in sorted(doc["dwellings"])]
    activities = c.activity.values()
    session = {
        "key": doc["id"],
        "format": "remote",
        "agency": doc["agency"],
        "title": doc["title"],
        "held_on": _day(doc["opens_at"]),
        "starts_at": opened or doc["opens_at"],
        "status": doc["status"],
        "dwellings": len(facts),
        "dwellings_quorum": sum(1 for f in facts if f["quorum"]["reached"]),
        "dwellings_referred": sum(1 for f in facts if f["status"] == "referred"),
        "files": sum(len(d["candidates"]) for d in doc["dwellings"].values()),
        "consultations": sum(a["consultations"] for a in activities),
        "messages_members": sum(a["messages"]["member"] for a in activities),
        "messages_staff": sum(a["messages"]["staff"] for a in activities),
        "referral_requests": sum(1 for r in c.referrals() if r["counted"]),
    }
    return {"session": session, "members": members}


def _own_ballots(c: _Commission, member_id: str) -> list[Doc]:
    a = c.activity.get(member_id)
    if a is None:
        return []
    return [
        b
        for per in a["ballots"].values()
        for b in per.get("", [])
        if c.counts(member_id, b["version"])
    ]


def _in_person_participation(doc: Doc) -> Doc:
    members = []
    voting_total = voting_there = 0
    for mid, m in sorted(doc["members"].items()):
        voting = m["vote"] == VoteType.DELIBERATIVE.value
        record = doc["attendance"].get(mid, {})
        attendance = record.get("attendance", "absent")
        present = attendance == "present"
        represented = voting and attendance == "represented"
        voting_total += voting
        voting_there += voting and (present or represented)
        members.append(
            {
                "member": mid,
                "role": m["role"],
                "category": category_of(m["role"]),
                "voting": int(voting),
                "convened": 1,
                "logged_in": int(present),
                "voted": int(voting and (present or represented)),
                "voted_in_person": int(voting and present),
                "voted_by_proxy": int(represented),
                "opinions": int(not voting and present),
                "first_login_s": None,
                "first_ballot_s": None,
                "consultations": None,
                "messages": None,
                "referral_requests": None,
            }
        )
    # Attendance only: the session's quorum (half of the voting members, there or represented)
    # holds for every dwelling it examined.
    examined = doc["dwellings_examined"]
    quorum = voting_total > 0 and voting_there >= (voting_total + 1) // 2
    session = {
        "key": doc["id"],
        "format": "in_person",
        "agency": doc["agency"],
        "title": doc["title"],
        "held_on": _day(doc["held_at"]),
        "starts_at": doc["held_at"],
        "status": doc["status"],
        "dwellings": doc["dwellings"],
        "dwellings_quorum": (doc["dwellings"] if examined is None else examined) if quorum else 0,
        "dwellings_referred": None,
        "files": None,
        "consultations": None,
        "messages_members": None,
        "messages_staff": None,
        "referral_requests": None,
    }
    return {"session": session, "members": members}


# ----------------------------------------------------------------------- table rows

#: Materialised tables: name -> (primary-key columns, other columns).
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "proj_commissions": (
        ("commission_id",),
        (
            "agency_id",
            "title",
            "status",
            "opens_at",
            "closes_at",
            "opened_at",
            "closed_at",
            "minutes_status",
            "members",
            "dwellings",
            "candidates",
            "ballots_in",
            "late_ballots",
            "dwellings_referred",
            "events",
            "state",
        ),
    ),
    "proj_members": (
        ("commission_id", "member_id"),
        (
            "name",
            "role",
            "category",
            "vote",
            "convoked_at",
            "proxy_to",
            "logins",
            "first_login_at",
            "files_consulted",
            "ballots_submitted",
        ),
    ),
    "proj_dwellings": (
        ("commission_id", "dwelling_id"),
        (
            "commune",
            "contingent",
            "candidates",
            "voters",
            "ballots_in",
            "quorum_required",
            "quorum_cast",
            "quorum_reached",
            "referral_requests",
            "status",
            "referral_reason",
        ),
    ),
    "proj_candidates": (
        ("commission_id", "candidate_id"),
        ("dwelling_id", "withdrawn", "decision", "rank_", "missing_documents"),
    ),
    "proj_ballots": (
        ("commission_id", "dwelling_id", "member_id"),
        ("right_", "ballot_in", "cast_by", "by_proxy", "revision", "submitted_at", "late"),
    ),
    "proj_sessions": (
        ("session_key",),
        (
            "format",
            "agency_id",
            "title",
            "held_on",
            "starts_at",
            "status",
            "dwellings",
            "dwellings_quorum",
            "dwellings_referred",
            "files",
            "consultations",
            "messages_members",
            "messages_staff",
            "referral_requests",
        ),
    ),
    "proj_participation": (
        ("session_key", "member_id"),
        (
            "format",
            "agency_id",
            "held_on",
            "role",
            "category",
            "voting",
            "convened",
            "logged_in",
            "voted",
            "voted_in_person",
            "voted_by_proxy",
            "opinions",
            "first_login_s",
            "first_ballot_s",
            "consultations",
            "messages",
            "referral_requests",
        ),
    ),
}
#: Integer columns (the others are text).
INTEGER_COLUMNS = frozenset(
    {
        "members",
        "dwellings",
        "candidates",
        "ballots_in",
        "late_ballots",
        "dwellings_referred",
        "events",
        "logins",
        "files_consulted",
        "ballots_submitted",
        "voters",
        "quorum_required",
        "quorum_cast",
        "quorum_reached",
        "referral_requests",
        "rank_",
        "missing_documents",
        "ballot_in",
        "by_proxy",
        "revision",
        "late",
        "dwellings_quorum",
        "files",
        "consultations",
        "messages_members",
        "messages_staff",
        "voting",
        "convened",
        "logged_in",
        "voted",
        "voted_in_person",
        "voted_by_proxy",
        "opinions",
        "first_login_s",
        "first_ballot_s",
        "messages",
    }
)

Rows = dict[str, dict[tuple[Any, ...], tuple[Any, ...]]]


def table_rows(doc: Doc, state_json: str | None = None) -> Rows:
    """The rows of every materialised table for one document: table -> {key: values}.

    ``state_json`` is the commission-state read model already serialised (stored as is).
    """
    rows: Rows = {name: {} for name in TABLES}
    derived = _Commission(doc) if doc["kind"] == KIND_COMMISSION else None
    p = participation(doc, derived)
    s = p["session"]
    rows["proj_sessions"][(s["key"],)] = (
        s["format"],
        s["agency"],
        s["title"],
        s["held_on"],
        s["starts_at"],
        s["status"],
        s["dwellings"],
        s["dwellings_quorum"],
        s["dwellings_referred"],
        s["files"],
        s["consultations"],
        s["messages_members"],
        s["messages_staff"],
        s["referral_requests"],
    )
    for m in p["members"]:
        rows["proj_participation"][(s["key"], m["member"])] = (
            s["format"],
            s["agency"],
            s["held_on"],
            m["role"],
            m["category"],
            m["voting"],
            m["convened"],
            m["logged_in"],
            m["voted"],
            m["voted_in_person"],
            m["voted_by_proxy"],
            m["opinions"],
            m["first_login_s"],
            m["first_ballot_s"],
            m["consultations"],
            m["messages"],
            m["referral_requests"],
        )
    if doc["kind"] != KIND_COMMISSION:
        return rows

    state = commission_state(doc, derived)
    if state_json is None:
        from projections.store import dumps

        state_json = dumps(state)
    key = state["commission"]
    late_by: dict[tuple[str, str], int] = {}
    for b in state["late_ballots"]:
        voter = b["on_behalf_of"] or b["member"]
        late_by[(b["dwelling"], voter)] = late_by.get((b["dwelling"], voter), 0) + 1
    rows["proj_commissions"][(key,)] = (
        state["agency"],
        state["title"],
        state["status"],
        state["window"]["opens_at"],
        state["window"]["closes_at"],
        state["window"]["opened_at"],
        state["window"]["closed_at"],
        state["minutes"]["status"],
        len(state["members"]),
        len(state["dwellings"]),
        sum(len(d["candidates"]) for d in state["dwellings"]),
        sum(1 for b in state["ballots"] if b["in"] and b["right"] == "vote"),
        len(state["late_ballots"]),
        sum(1 for d in state["dwellings"] if d["status"] == "referred"),
        state["events"],
        state_json,
    )
    for m in state["members"]:
        rows["proj_members"][(key, m["id"])] = (
            m["name"],
            m["role"],
            m["category"],
            m["vote"],
            m["convoked_at"],
            m["proxy_to"],
            m["logins"],
            m["first_login_at"],
            m["files_consulted"],
            m["ballots_submitted"],
        )
    for d in state["dwellings"]:
        rows["proj_dwellings"][(key, d["id"])] = (
            d["commune"],
            d["contingent"],
            len(d["candidates"]),
            d["voters"],
            d["ballots_in"],
            d["quorum"]["required"],
            d["quorum"]["cast"],
            int(d["quorum"]["reached"]),
            d["referral_requests"],
            d["status"],
            d["referral_reason"],
        )
    for cand in state["candidates"]:
        rows["proj_candidates"][(key, cand["id"])] = (
            cand["dwelling"],
            cand["withdrawn"],
            cand["decision"],
            cand["rank"],
            len(cand["missing_documents"]),
        )
    for b in state["ballots"]:
        rows["proj_ballots"][(key, b["dwelling"], b["member"])] = (
            b["right"],
            int(b["in"]),
            b["cast_by"],
            int(b["by_proxy"]),
            b["revision"],
            b["at"],
            late_by.get((b["dwelling"], b["member"]), 0),
        )
    return rows
