"""A small, fully set-up commission used by the domain and application tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from uuid import UUID

from domain.actor import Actor
from domain.applicants import ApplicantFile, Person
from domain.members import Member, Role, VoteType
from domain.rules import Rules
from ledger.application import CaleolApplication

STAFF = Actor("staff:agence-93", "staff")
FRIDAY_EVENING = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
TUESDAY_0900 = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)  # 09:00 Europe/Paris
WEDNESDAY_NOON = datetime(2026, 12, 9, 11, 0, tzinfo=UTC)  # 12:00 Europe/Paris


@dataclass
class FakeClock:
    now: datetime = FRIDAY_EVENING

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now

    def set(self, instant: datetime) -> None:
        assert instant >= self.now, "the clock never goes back"
        self.now = instant


@dataclass
class SeqIds:
    counter: count = field(default_factory=lambda: count(1))

    def __call__(self, kind: str) -> str:
        return f"{kind}-{next(self.counter)}"


MEMBERS = (
    Member("president", Role.BOARD, VoteType.DELIBERATIVE, "Claire Martin"),
    Member("board2", Role.BOARD, VoteType.DELIBERATIVE, "Paul Durand"),
    Member("tenants", Role.TENANT_REPRESENTATIVE, VoteType.DELIBERATIVE, "Amina Diallo"),
    Member(
        "mayor-bobigny",
        Role.MAYOR,
        VoteType.DELIBERATIVE,
        "Maire de Bobigny",
        communes=frozenset({"93008"}),
    ),
    Member(
        "mayor-pantin",
        Role.MAYOR,
        VoteType.DELIBERATIVE,
        "Maire de Pantin",
        communes=frozenset({"93055"}),
    ),
    Member("prefecture", Role.PREFECTURE, VoteType.DELIBERATIVE, "Préfecture 93"),
    Member(
        "action-logement",
        Role.RESERVATION_HOLDER,
        VoteType.CONSULTATIVE,
        "Action Logement",
        contingent="action_logement",
    ),
)

DWELLINGS = (
    ("D1", "93008", "action_logement"),
    ("D2", "93008", None),
    ("D3", "93055", None),
)


def applicant(n: int) -> ApplicantFile:
    return ApplicantFile(
        numero_unique=f"093122300{n:05d}X",
        household=(Person("Prénom", f"Nom{n}", "1985-03-0" + str(1 + n % 9)),),
        monthly_resources_cents=150_000 + 1000 * n,
        housing_benefit_cents=20_000,
    )


@dataclass
class Built:
    app: CaleolApplication
    clock: FakeClock
    commission_id: UUID
    candidates: dict[str, list[str]]


def build(
    *,
    rules: Rules | None = None,
    candidates_per_dwelling: int = 3,
    open_it: bool = True,
    app: CaleolApplication | None = None,
    clock: FakeClock | None = None,
) -> Built:
    clock = clock or FakeClock()
    app = app or CaleolApplication(clock=clock, ids=SeqIds())
    cid = app.schedule_commission(
        actor=STAFF,
        agency_id="agence-93",
        title="CALEOL du 8 décembre 2026",
        rules=rules or Rules(),
        opens_at=TUESDAY_0900,
        closes_at=WEDNESDAY_NOON,
    )
    for member in MEMBERS:
        app.convene_member(cid, actor=STAFF, member=member)
    candidates: dict[str, list[str]] = {}
    n = 0
    for dwelling_id, commune, contingent in DWELLINGS:
        app.list_dwelling(
            cid, actor=STAFF, dwelling_id=dwelling_id, commune=commune, contingent=contingent
        )
        for _ in range(candidates_per_dwelling):
            n += 1
            candidates.setdefault(dwelling_id, []).append(
                app.present_candidate(
                    cid,
                    actor=STAFF,
                    dwelling_id=dwelling_id,
                    file=applicant(n),
                    candidate_id=f"{dwelling_id}-C{n}",
                )
            )
    app.send_convocations(cid, actor=STAFF)
    if open_it:
        clock.set(TUESDAY_0900)
        app.run_schedule(cid)
    return Built(app, clock, cid, candidates)
