"""Participation statistics from the participation read model's rows (`read_models.participation`).

Figures, for any group of sessions (a commission, an agency, a month, a format) and for the
members of a category:

- ``convened``, ``logged_in`` (for an in-person session: present), ``voted`` (voting members who
  voted themselves, ``voted_in_person``, or through a proxy, ``voted_by_proxy``; in a physical
  session: present or represented), ``took_part`` (voted, or for a consultative member gave an
  opinion / attended), with their rates;
- ``median_first_login_s`` / ``median_first_ballot_s``: time from opening to the member's first
  login and first own ballot (remote commissions only);
- ``dwellings``, ``dwellings_quorum`` and ``quorum_share``; ``files``, ``consultations`` and
  ``consultations_per_file``; chat volume (``messages_members``, ``messages_staff``); referral
  requests and dwellings referred to an in-person session.

``comparison`` sets the dematerialised format beside the physical one, per category (the
landlord measured +20–30 % participation of local authorities with the remote format).
Rates are fractions rounded to 4 decimals; None when there is nothing to divide by.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from statistics import median_low
from typing import Any

from projections.read_models import CATEGORIES

__all__ = ["CSV_COLUMNS", "FORMATS", "flatten", "render_csv", "render_table", "statistics"]

Row = dict[str, Any]
FORMATS = {"remote": "dématérialisée", "in_person": "présentielle"}

MEMBER_FIGURES = (
    "convened",
    "logged_in",
    "voting_convened",
    "voted",
    "voted_in_person",
    "voted_by_proxy",
    "took_part",
    "login_rate",
    "vote_rate",
    "participation_rate",
    "median_first_login_s",
    "median_first_ballot_s",
)
SESSION_FIGURES = (
    "sessions",
    "dwellings",
    "dwellings_quorum",
    "quorum_share",
    "files",
    "consultations",
    "consultations_per_file",
    "messages_members",
    "messages_staff",
    "referral_requests",
    "dwellings_referred",
)


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _sum(rows: Iterable[Row], column: str) -> int:
    return sum(int(r[column]) for r in rows if r.get(column) is not None)


def _median(values: Iterable[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return int(median_low(present)) if present else None


def member_figures(members: list[Row]) -> Row:
    convened = [m for m in members if m["convened"]]
    voting = [m for m in convened if m["voting"]]
    took_part = sum(1 for m in convened if m["voted"] or (not m["voting"] and m["opinions"]))
    return {
        "convened": len(convened),
        "logged_in": _sum(convened, "logged_in"),
        "voting_convened": len(voting),
        "voted": _sum(voting, "voted"),
        "voted_in_person": _sum(voting, "voted_in_person"),
        "voted_by_proxy": _sum(voting, "voted_by_proxy"),
        "took_part": took_part,
        "login_rate": _rate(_sum(convened, "logged_in"), len(convened)),
        "vote_rate": _rate(_sum(voting, "voted"), len(voting)),
        "participation_rate": _rate(took_part, len(convened)),
        "median_first_login_s": _median(m["first_login_s"] for m in convened),
        "median_first_ballot_s": _median(m["first_ballot_s"] for m in convened),
    }


def session_figures(sessions: list[Row]) -> Row:
    remote = [s for s in sessions if s["files"] is not None]
    return {
        "sessions": len(sessions),
        "dwellings": _sum(sessions, "dwellings"),
        "dwellings_quorum": _sum(sessions, "dwellings_quorum"),
        "quorum_share": _rate(_sum(sessions, "dwellings_quorum"), _sum(sessions, "dwellings")),
        "files": _sum(remote, "files") if remote else None,
        "consultations": _sum(remote, "consultations") if remote else None,
        "consultations_per_file": _rate(_sum(remote, "consultations"), _sum(remote, "files")),
        "messages_members": _sum(remote, "messages_members") if remote else None,
        "messages_staff": _sum(remote, "messages_staff") if remote else None,
        "referral_requests": _sum(remote, "referral_requests") if remote else None,
        "dwellings_referred": _sum(remote, "dwellings_referred") if remote else None,
    }


def _group(
    rows: Iterable[Row], key: Callable[[Row], tuple[Any, ...]]
) -> dict[tuple[Any, ...], list[Row]]:
    groups: dict[tuple[Any, ...], list[Row]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return dict(sorted(groups.items(), key=lambda kv: tuple(str(k) for k in kv[0])))


def flatten(participations: Iterable[Row]) -> tuple[list[Row], list[Row]]:
    """`read_models.participation` results -> (session rows, member rows) shaped as the
    ``proj_sessions`` and ``proj_participation`` tables."""
    sessions: list[Row] = []
    members: list[Row] = []
    for p in participations:
        s = p["session"]
        sessions.append(
            {"session_key": s["key"], "agency_id": s["agency"]}
            | {k: v for k, v in s.items() if k not in ("key", "agency")}
        )
        for m in p["members"]:
            members.append(
                {
                    "session_key": s["key"],
                    "member_id": m["member"],
                    "format": s["format"],
                    "agency_id": s["agency"],
                    "held_on": s["held_on"],
                }
                | {k: v for k, v in m.items() if k != "member"}
            )
    sessions.sort(key=lambda r: (r["held_on"], r["session_key"]))
    members.sort(key=lambda r: (r["held_on"], r["session_key"], r["member_id"]))
    return sessions, members


def statistics(
    sessions: list[Row], members: list[Row], filters: Row | None = None
) -> dict[str, Any]:
    """The statistics report from session rows and member rows (``proj_sessions`` and
    ``proj_participation``, or `read_models.participation` results)."""
    members_of = _group(members, lambda m: (m["session_key"],))
    report_sessions = []
    for s in sorted(sessions, key=lambda s: (s["held_on"], s["session_key"])):
        report_sessions.append(
            {
                "session": s["session_key"],
                "format": s["format"],
                "agency": s["agency_id"],
                "title": s["title"],
                "held_on": s["held_on"],
                "status": s["status"],
                **member_figures(members_of.get((s["session_key"],), [])),
                **session_figures([s]),
            }
        )

    def grouped(
        key: Callable[[Row], tuple[Any, ...]], names: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        out = []
        by_session = _group(sessions, key)
        by_member = _group(members, key)
        for k in sorted(set(by_session) | set(by_member), key=lambda k: tuple(map(str, k))):
            out.append(
                {
                    **dict(zip(names, k, strict=True)),
                    **member_figures(by_member.get(k, [])),
                    **session_figures(by_session.get(k, [])),
                }
            )
        return out

    by_category = []
    for (fmt, category), rows in _group(members, lambda m: (m["format"], m["category"])).items():
        by_category.append(
            {
                "format": fmt,
                "category": category,
                "label": CATEGORIES.get(category, category),
                **member_figures(rows),
            }
        )
    comparison = []
    categories = sorted({m["category"] for m in members})
    for category in categories:
        rates = {}
        for fmt in FORMATS:
            rows = [m for m in members if m["category"] == category and m["format"] == fmt]
            rates[fmt] = member_figures(rows)["participation_rate"] if rows else None
        remote, physical = rates["remote"], rates["in_person"]
        comparison.append(
            {
                "category": category,
                "label": CATEGORIES.get(category, category),
                "remote_participation_rate": remote,
                "in_person_participation_rate": physical,
                "difference_points": round((remote - physical) * 100, 2)
                if remote is not None and physical is not None
                else None,
            }
        )
    return {
        "filters": filters or {},
        "totals": grouped(lambda r: (r["format"],), ("format",)),
        "sessions": report_sessions,
        "by_agency": grouped(lambda r: (r["agency_id"], r["format"]), ("agency", "format")),
        "by_month": grouped(lambda r: (r["held_on"][:7], r["format"]), ("month", "format")),
        "by_category": by_category,
        "comparison": comparison,
    }


# ------------------------------------------------------------------------------ rendering

CSV_COLUMNS = (
    "section",
    "key",
    "format",
    "category",
    *MEMBER_FIGURES,
    *SESSION_FIGURES,
)


def _csv_rows(report: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for section, key in (
        ("totals", "format"),
        ("sessions", "session"),
        ("by_agency", "agency"),
        ("by_month", "month"),
        ("by_category", "category"),
    ):
        for entry in report[section]:
            rows.append(
                {
                    "section": section,
                    "key": entry[key],
                    "format": entry.get("format", ""),
                    "category": entry.get("category", ""),
                    **{c: entry.get(c) for c in (*MEMBER_FIGURES, *SESSION_FIGURES)},
                }
            )
    return rows


def render_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in _csv_rows(report):
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def _duration(value: Any) -> str:
    if value is None:
        return "—"
    hours, rest = divmod(int(value), 3600)
    return f"{hours} h {rest // 60:02d}"


def _table(title: str, headers: list[str], rows: list[list[str]]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    return "\n".join(lines)


def render_table(report: dict[str, Any]) -> str:
    def participation_row(label: list[str], e: Row) -> list[str]:
        return [
            *label,
            str(e["convened"]),
            str(e["logged_in"]),
            f"{e['voted']}/{e['voting_convened']}",
            str(e["voted_by_proxy"]),
            _pct(e["participation_rate"]),
            _duration(e["median_first_login_s"]),
            _duration(e["median_first_ballot_s"]),
        ]

    head = ["convened", "logged in", "voted", "by proxy", "took part", "1st login", "1st ballot"]
    sections = []
    filters = report["filters"]
    shown = ", ".join(f"{k} {v}" for k, v in filters.items() if v) or "all sessions"
    sections.append(f"Participation statistics ({shown})")
    sections.append(
        _table(
            "\nBy session",
            ["held on", "format", "agency", "dwellings", "quorum", "files/consult.", "chat", *head],
            [
                participation_row(
                    [
                        e["held_on"],
                        FORMATS.get(e["format"], e["format"]),
                        e["agency"],
                        str(e["dwellings"]),
                        _pct(e["quorum_share"]),
                        f"{_cell(e['files'])}/{_cell(e['consultations'])}",
                        _cell(
                            None
                            if e["messages_members"] is None
                            else e["messages_members"] + e["messages_staff"]
                        ),
                    ],
                    e,
                )
                for e in report["sessions"]
            ],
        )
    )
    sections.append(
        _table(
            "\nBy agency",
            ["agency", "format", "sessions", "quorum", "consult./file", "referrals", *head],
            [
                participation_row(
                    [
                        e["agency"],
                        FORMATS.get(e["format"], e["format"]),
                        str(e["sessions"]),
                        _pct(e["quorum_share"]),
                        _cell(e["consultations_per_file"]),
                        _cell(e["referral_requests"]),
                    ],
                    e,
                )
                for e in report["by_agency"]
            ],
        )
    )
    sections.append(
        _table(
            "\nBy member category",
            ["category", "format", *head],
            [
                participation_row([e["label"], FORMATS.get(e["format"], e["format"])], e)
                for e in report["by_category"]
            ],
        )
    )
    sections.append(
        _table(
            "\nBy month",
            ["month", "format", "sessions", "quorum", *head],
            [
                participation_row(
                    [
                        e["month"],
                        FORMATS.get(e["format"], e["format"]),
                        str(e["sessions"]),
                        _pct(e["quorum_share"]),
                    ],
                    e,
                )
                for e in report["by_month"]
            ],
        )
    )
    sections.append(
        _table(
            "\nDematerialised vs in person (members who took part)",
            ["category", "remote", "in person", "difference (points)"],
            [
                [
                    e["label"],
                    _pct(e["remote_participation_rate"]),
                    _pct(e["in_person_participation_rate"]),
                    _cell(e["difference_points"]),
                ]
                for e in report["comparison"]
            ],
        )
    )
    return "\n".join(sections) + "\n"
