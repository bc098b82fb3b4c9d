"""``caleol stats`` on the demo commission (``caleol demo``) gives the counts the domain itself
gives (independently of the projections), on SQLite and PostgreSQL alike; in-person sessions
recorded with ``caleol in-person record`` are compared with the remote format."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from statistics import median_low
from typing import Any

import pytest
from click.testing import CliRunner

from api.cli import main
from domain.closing import dwelling_cases
from domain.participation import MemberActivity, activity_id
from ledger.application import CaleolApplication
from ledger.config import environment_for
from projections.read_models import category_of
from tests.projections.projection_support import fresh_url, key_dir, pg_scratch

__all__ = ["fresh_url", "key_dir", "pg_scratch"]  # fixtures


def cli(key_dir: str, *args: str) -> Any:
    result = CliRunner().invoke(main, list(args), env={"CALEOL_KEY_DIR": key_dir})
    return result


def demo(url: str, key_dir: str) -> None:
    result = cli(key_dir, "demo", "--db", url)
    assert result.exit_code == 0, result.output


def stats_json(url: str, key_dir: str, *extra: str) -> dict[str, Any]:
    result = cli(key_dir, "stats", "--db", url, "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.output)
    return report


def expected_from_domain(url: str, key_dir: str) -> dict[str, Any]:
    """The demo's participation figures computed from the aggregates and `domain.closing`."""
    app = CaleolApplication(env=environment_for(url, key_dir=key_dir, create=False))
    try:
        (notification,) = [
            n
            for n in app.recorder.select_notifications(start=1, limit=10_000)
            if n.topic.endswith("Commission.Scheduled")
        ]
        commission = app.commission(notification.originator_id)
        cid = commission.id
        cases = dwelling_cases(commission, app.activities_at_cutoff(commission))
        own = {b.member_id for c in cases for b in c.ballots if b.on_behalf_of is None}
        proxied = {b.on_behalf_of for c in cases for b in c.ballots if b.on_behalf_of} - own
        first_login: dict[str, datetime] = {}
        first_ballot: dict[str, datetime] = {}
        consultations = member_messages = staff_messages = 0
        for member_id in commission.members:
            for e in app.events.get(activity_id(cid, member_id)):
                if isinstance(e, MemberActivity.LoggedIn):
                    first_login.setdefault(member_id, e.timestamp)
                elif isinstance(e, MemberActivity.BallotSubmitted) and e.on_behalf_of is None:
                    first_ballot.setdefault(member_id, e.timestamp)
                elif isinstance(e, MemberActivity.FileConsulted):
                    consultations += 1
                elif isinstance(e, MemberActivity.MessagePosted):
                    if e.author["role"] == "staff":
                        staff_messages += 1
                    else:
                        member_messages += 1
        assert commission.opened_at is not None
        opened = commission.opened_at
        decisions = commission.decisions.values()
        by_category: dict[str, dict[str, int]] = {}
        for member in commission.members.values():
            figures = by_category.setdefault(
                category_of(member.role.value),
                {"convened": 0, "logged_in": 0, "voted": 0, "voted_by_proxy": 0},
            )
            figures["convened"] += member.id in commission.convoked
            figures["logged_in"] += member.id in first_login
            figures["voted"] += member.id in own or member.id in proxied
            figures["voted_by_proxy"] += member.id in proxied
        return {
            "commission": str(cid),
            "agency": commission.agency_id,
            "convened": len(commission.convoked),
            "logged_in": len(first_login),
            "voting_convened": sum(1 for m in commission.members.values() if m.is_voting),
            "voted": len(own | proxied),
            "voted_in_person": len(own),
            "voted_by_proxy": len(proxied),
            "dwellings": len(commission.dwellings),
            "dwellings_quorum": sum(
                1 for d in decisions if 0 < d["quorum"]["cast"] >= d["quorum"]["required"]
            ),
            "dwellings_referred": sum(1 for d in decisions if d["status"] == "referred"),
            "files": sum(len(commission.active_candidates(d)) for d in commission.dwellings),
            "consultations": consultations,
            "messages_members": member_messages,
            "messages_staff": staff_messages,
            "referral_requests": 1,
            "median_first_login_s": median_low(
                max(0, int((t - opened).total_seconds())) for t in first_login.values()
            ),
            "median_first_ballot_s": median_low(
                int((t - opened).total_seconds()) for t in first_ballot.values()
            ),
            "by_category": by_category,
        }
    finally:
        app.close()


def test_stats_of_the_demo_commission(tmp_path: Path, key_dir: str) -> None:
    url = f"sqlite:///{tmp_path}/demo.db"
    demo(url, key_dir)
    report = stats_json(url, key_dir)
    expected = expected_from_domain(url, key_dir)

    (total,) = report["totals"]
    assert total["format"] == "remote"
    # the demo's story: 14 members convened; the board member who gave a proxy never logs in
    # and votes through it; one dwelling referred by the mayor of Pantin
    assert (total["convened"], total["logged_in"], total["voted_by_proxy"]) == (14, 13, 1)
    assert (total["dwellings"], total["referral_requests"], total["dwellings_referred"]) == (
        12,
        1,
        1,
    )
    for figure in (
        "convened",
        "logged_in",
        "voting_convened",
        "voted",
        "voted_in_person",
        "voted_by_proxy",
        "dwellings",
        "dwellings_quorum",
        "dwellings_referred",
        "files",
        "consultations",
        "messages_members",
        "messages_staff",
        "referral_requests",
        "median_first_login_s",
        "median_first_ballot_s",
    ):
        assert total[figure] == expected[figure], figure
    assert total["quorum_share"] == round(expected["dwellings_quorum"] / 12, 4)
    assert total["consultations_per_file"] == round(
        expected["consultations"] / expected["files"], 4
    )
    assert total["vote_rate"] == round(expected["voted"] / expected["voting_convened"], 4)

    (session,) = report["sessions"]
    assert session["session"] == expected["commission"]
    assert session["agency"] == expected["agency"] == "hf-93-nord"
    assert session["held_on"] == "2026-12-08"
    assert session["status"] == "minutes_approved"
    assert report["by_agency"][0] | {"agency": None, "format": None} == total | {
        "agency": None,
        "format": None,
    }
    categories = {c["category"]: c for c in report["by_category"]}
    assert (
        set(categories)
        == set(expected["by_category"])
        == {
            "board",
            "elected",
            "prefecture",
            "tenants",
            "reservation_holders",
            "social_engineering",
        }
    )
    for category, figures in expected["by_category"].items():
        for name, value in figures.items():
            assert categories[category][name] == value, (category, name)
    assert categories["board"]["voted_by_proxy"] == 1

    # filters
    assert stats_json(url, key_dir, "--agency", "other")["sessions"] == []
    assert stats_json(url, key_dir, "--from", "2026-12-09")["sessions"] == []
    assert (
        len(stats_json(url, key_dir, "--from", "2026-12-01", "--to", "2026-12-08")["sessions"]) == 1
    )

    # the other formats
    table = cli(key_dir, "stats", "--db", url)
    assert table.exit_code == 0 and "By member category" in table.output
    assert "Maires et élus" in table.output
    rows = list(
        csv.DictReader(io.StringIO(cli(key_dir, "stats", "--db", url, "--format", "csv").output))
    )
    totals = [r for r in rows if r["section"] == "totals"]
    assert totals[0]["convened"] == "14" and totals[0]["voted_by_proxy"] == "1"

    # the projection commands
    status = cli(key_dir, "projections", "status", "--db", url)
    assert status.exit_code == 0 and "0 event(s) behind" in status.output
    rebuilt = cli(key_dir, "projections", "rebuild", "--db", url)
    assert rebuilt.exit_code == 0 and "1 commission(s)" in rebuilt.output
    assert stats_json(url, key_dir, "--no-catch-up") == report
    state = cli(key_dir, "projections", "state", "--db", url, expected["commission"])
    assert json.loads(state.output)["minutes"]["status"] == "approved"
    then = cli(
        key_dir,
        "projections",
        "state",
        "--db",
        url,
        expected["commission"],
        "--at",
        "2026-12-08T12:00:00+01:00",
    )
    assert json.loads(then.output)["status"] == "open"

    # unusable input: exit 2
    assert cli(key_dir, "stats", "--db", url, "--from", "8/12/2026").exit_code == 2
    assert (
        cli(key_dir, "stats", "--db", url, "--from", "2026-12-09", "--to", "2026-12-01").exit_code
        == 2
    )
    assert cli(key_dir, "stats", "--db", f"sqlite:///{tmp_path}/missing.db").exit_code == 2


SHEET: dict[str, Any] = {
    "agency": "hf-93-nord",
    "title": "CAL présentielle du 3 novembre 2026",
    "held_at": "2026-11-03T14:00:00+01:00",
    "dwellings": 10,
    "dwellings_examined": 10,
    "by": "staff:c.lefebvre",
    "members": [
        {"id": "adm-girard", "name": "Hélène Girard", "role": "board", "vote": "deliberative",
         "attendance": "present"},
        {"id": "adm-moreau", "name": "Olivier Moreau", "role": "board", "vote": "deliberative",
         "attendance": "represented", "represented_by": "adm-girard"},
        {"id": "rep-locataires", "name": "Mohamed Ouali", "role": "tenant_representative",
         "vote": "deliberative", "attendance": "present"},
        {"id": "maire-bobigny", "name": "Adjointe", "role": "mayor", "vote": "deliberative",
         "communes": ["93008"], "attendance": "absent"},
        {"id": "maire-pantin", "name": "Adjoint", "role": "mayor", "vote": "deliberative",
         "communes": ["93055"], "attendance": "absent"},
        {"id": "prefecture-93", "name": "Préfecture", "role": "prefecture",
         "vote": "deliberative", "attendance": "present"},
        {"id": "action-logement", "name": "Action Logement", "role": "reservation_holder",
         "vote": "consultative", "contingent": "action_logement", "attendance": "absent"},
    ],
}  # fmt: skip


def test_in_person_sessions_compared_with_the_remote_format(tmp_path: Path, key_dir: str) -> None:
    url = f"sqlite:///{tmp_path}/demo.db"
    demo(url, key_dir)
    sheet = tmp_path / "sheet.json"
    sheet.write_text(json.dumps(SHEET))
    recorded = cli(key_dir, "in-person", "record", "--db", url, str(sheet))
    assert recorded.exit_code == 0, recorded.output
    assert "3/7 members present" in recorded.output
    again = cli(key_dir, "in-person", "record", "--db", url, str(sheet))
    assert again.exit_code == 2  # the same session twice

    report = stats_json(url, key_dir)
    totals = {t["format"]: t for t in report["totals"]}
    physical = totals["in_person"]
    assert (physical["convened"], physical["logged_in"], physical["voting_convened"]) == (7, 3, 6)
    assert (physical["voted"], physical["voted_in_person"], physical["voted_by_proxy"]) == (4, 3, 1)
    assert physical["dwellings"] == physical["dwellings_quorum"] == 10  # 4 of 6 voters there
    assert physical["files"] is None and physical["consultations_per_file"] is None
    assert [s["format"] for s in report["sessions"]] == ["in_person", "remote"]  # by date
    comparison = {c["category"]: c for c in report["comparison"]}
    elected = comparison["elected"]
    assert elected["in_person_participation_rate"] == 0.0
    assert elected["remote_participation_rate"] == 1.0
    assert elected["difference_points"] == 100.0
    assert comparison["social_engineering"]["in_person_participation_rate"] is None
    by_month = {(m["month"], m["format"]) for m in report["by_month"]}
    assert by_month == {("2026-11", "in_person"), ("2026-12", "remote")}
    assert stats_json(url, key_dir, "--to", "2026-11-30")["sessions"][0]["format"] == "in_person"

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**SHEET, "held_at": "2026-11-03T14:00:00"}))
    assert cli(key_dir, "in-person", "record", "--db", url, str(bad)).exit_code == 2
    chained = tmp_path / "chained.json"
    members = [dict(m) for m in SHEET["members"]]
    members[0] |= {"attendance": "represented", "represented_by": "action-logement"}
    chained.write_text(json.dumps({**SHEET, "title": "autre", "members": members}))
    assert cli(key_dir, "in-person", "record", "--db", url, str(chained)).exit_code == 2


@pytest.mark.postgres
def test_stats_are_the_same_on_postgres(
    tmp_path: Path, fresh_url: Callable[[str], str], key_dir: str
) -> None:
    sqlite_url = f"sqlite:///{tmp_path}/demo.db"
    pg_url = fresh_url("postgres")
    demo(sqlite_url, key_dir)
    demo(pg_url, key_dir)
    assert stats_json(pg_url, key_dir) == stats_json(sqlite_url, key_dir)
    first = cli(
        key_dir,
        "projections",
        "state",
        "--db",
        pg_url,
        expected_from_domain(pg_url, key_dir)["commission"],
    )
    second = cli(
        key_dir,
        "projections",
        "state",
        "--db",
        sqlite_url,
        expected_from_domain(sqlite_url, key_dir)["commission"],
    )
    assert first.output == second.output
