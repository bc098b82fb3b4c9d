"""Closed commissions to render: the seeded demo, and a small one with every edge case.

The small commission has a tie broken by the mayor's casting vote, a proxy, a majority
inadmissibility and non-attribution, a DALO applicant, a referral, a consultative opinion, a
late ballot (recorded after its member's cut-off) and member-provided text full of HTML.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from uuid import UUID

from pypdf import PdfReader

from api.demo import (
    CONVOCATION_FRIDAY,
    SeededIds,
    SimulatedClock,
    demo_lookup_secret,
    paris,
    run_demo,
    seeded_key_source,
)
from domain.actor import Actor
from domain.applicants import ApplicantFile, Person
from domain.members import Member, Role, VoteType
from ledger.application import CaleolApplication
from ledger.vault import ApplicantVault, MemoryKeyTable
from projections.minutes import minutes_digest
from tests.scenario import STAFF, TUESDAY_0900, applicant, build

DPO = Actor("staff:dpo", "staff")
ANCHOR = {
    "origin": "caleol.example/ledger/hf-93-nord",
    "size": 1234,
    "root_hash": "q2v9x8yJb3sR0mFqLzVf3kq1w5y5kP3h0xV2b9mN8aQ=",
    "signature": "— caleol.example/ledger/hf-93-nord Az3k9Q==",
}
HOSTILE_NAME = "<script>alert('epci')</script> & Cie"
HOSTILE_REFERRAL = "<script>alert('renvoi')</script>"
HOSTILE_REASON = "<b>Ressources</b> insuffisantes"
HOSTILE_OPINION = "<i>Dossier</i> complet & à jour"


def build_demo(seed: int = 1) -> tuple[CaleolApplication, UUID]:
    clock = SimulatedClock(paris(CONVOCATION_FRIDAY, 14))
    vault = ApplicantVault(MemoryKeyTable(), demo_lookup_secret(seed), seeded_key_source(seed))
    app = CaleolApplication(clock=clock, ids=SeededIds(random.Random(seed)), vault=vault)
    result = run_demo(app, clock, seed=seed)
    return app, result.commission_id


def clear_file(app: CaleolApplication, cid: UUID, candidate_id: str) -> ApplicantFile:
    candidate = app.commission(cid).candidates[candidate_id]
    file = app.vault.open(candidate["applicant_ref"], candidate["sealed_file"])
    assert file is not None
    return file


def decisions_by_kind(app: CaleolApplication, cid: UUID) -> dict[str, list[tuple[str, str]]]:
    """decision -> [(dwelling, candidate)] as recorded at closing."""
    found: dict[str, list[tuple[str, str]]] = {}
    for dwelling, decided in sorted(app.commission(cid).decisions.items()):
        for candidate, d in decided["decisions"].items():
            found.setdefault(d["decision"], []).append((dwelling, candidate))
    return found


def pdf_pages(data: bytes) -> list[str]:
    """The text of each page, with no-break spaces and line breaks made plain spaces."""
    reader = PdfReader(io.BytesIO(data))
    pages = []
    for page in reader.pages:
        text = page.extract_text().replace("\u00a0", " ").replace("\u202f", " ")
        pages.append(" ".join(text.split()))
    return pages


def plain(data: bytes) -> str:
    return " ".join(data.decode().replace("\u00a0", " ").split())


@dataclass
class Small:
    app: CaleolApplication
    cid: UUID
    dalo_numero: str


def build_small() -> Small:
    built = build(open_it=False)
    app, clock, cid = built.app, built.clock, built.commission_id
    app.convene_member(
        cid, actor=STAFF, member=Member("epci", Role.EPCI, VoteType.DELIBERATIVE, HOSTILE_NAME)
    )
    dalo = ApplicantFile(
        numero_unique="093122300DALO01X",
        household=(
            Person("Awa", "Dalotest", "1979-02-11"),
            Person("Sira", "Dalotest", "2012-06-01", "child"),
        ),
        monthly_resources_cents=120_000,
        priority_flags=("dalo",),
    )
    app.present_candidate(cid, actor=STAFF, dwelling_id="D2", file=dalo, candidate_id="D2-DALO")
    app.send_convocations(cid, actor=STAFF)
    clock.set(TUESDAY_0900)
    app.run_schedule(cid)

    def step() -> None:
        clock.advance(minutes=7)

    for member in ("president", "board2", "tenants", "mayor-bobigny", "mayor-pantin"):
        step()
        app.log_in(cid, member, method="magic_link", session_id=f"session-{member}")
    step()
    app.give_proxy(cid, actor=Actor("prefecture", "prefecture"), holder_id="tenants")

    # D1: a tie between C1 and C2, broken by the casting vote of the mayor of Bobigny.
    for member, ranking in (
        ("president", ["D1-C1", "D1-C2", "D1-C3"]),
        ("tenants", ["D1-C1", "D1-C2", "D1-C3"]),
        ("board2", ["D1-C2", "D1-C1", "D1-C3"]),
        ("mayor-bobigny", ["D1-C2", "D1-C1", "D1-C3"]),
    ):
        step()
        app.submit_ballot(cid, member, dwelling_id="D1", ranking=ranking)
    step()
    app.give_opinion(
        cid,
        "action-logement",
        dwelling_id="D1",
        opinion="favourable",
        candidate_id="D1-C2",
        text=HOSTILE_OPINION,
    )

    # D2: C6 inadmissible, C5 and the DALO applicant not attributed, C4 attributed.
    inadmissible = {"D2-C6": "resources_above_ceiling"}
    for member, na, on_behalf_of in (
        ("president", {"D2-C5": "household_size_mismatch", "D2-DALO": "location_mismatch"}, None),
        (
            "board2",
            {"D2-C5": {"code": "other", "text": HOSTILE_REASON}, "D2-DALO": "location_mismatch"},
            None,
        ),
        (
            "tenants",
            {"D2-C5": "household_size_mismatch", "D2-DALO": "effort_rate_too_high"},
            "prefecture",
        ),
    ):
        step()
        app.submit_ballot(
            cid,
            member,
            dwelling_id="D2",
            ranking=["D2-C4"],
            non_attribution=na,
            inadmissible=inadmissible,
            on_behalf_of=on_behalf_of,
        )
    step()
    app.submit_ballot(
        cid,
        "mayor-bobigny",
        dwelling_id="D2",
        ranking=["D2-C4", "D2-C5", "D2-DALO"],
        inadmissible=inadmissible,
    )

    # D3: the mayor of Pantin refers it to an in-person session.
    step()
    app.submit_ballot(cid, "president", dwelling_id="D3", ranking=["D3-C7", "D3-C8", "D3-C9"])
    step()
    app.request_referral(
        cid,
        "mayor-pantin",
        dwelling_id="D3",
        reason={"code": "other", "text": HOSTILE_REFERRAL},
    )

    # A ballot read the commission open, and commits after the staff closed it: late.
    step()
    stale = app.commission(cid)
    activity = app.activity(stale, "epci")
    app.close_commission(cid, actor=STAFF)
    activity.submit_ballot(
        commission=stale,
        at=clock(),
        dwelling_id="D1",
        ranking=["D1-C3", "D1-C1", "D1-C2"],
        non_attribution={},
        inadmissible={},
    )
    app.save(activity)

    clock.advance(hours=3)
    app.approve_minutes(
        cid,
        actor=Actor("president", "board"),
        president_id="president",
        minutes_sha256=minutes_digest(app, app.commission(cid)),
    )
    return Small(app, cid, dalo.numero_unique)


__all__ = [
    "ANCHOR",
    "DPO",
    "HOSTILE_NAME",
    "HOSTILE_OPINION",
    "HOSTILE_REASON",
    "HOSTILE_REFERRAL",
    "Small",
    "applicant",
    "build_demo",
    "build_small",
    "clear_file",
    "decisions_by_kind",
    "pdf_pages",
    "plain",
]
