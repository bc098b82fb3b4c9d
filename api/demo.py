"""``caleol demo``: a complete, realistic commission, end to end, on a simulated clock.

An agency of a large Île-de-France landlord convenes its CALEOL on Friday evening for twelve
dwellings in three communes of Seine-Saint-Denis; the commission opens on Tuesday at 09:00 and
closes on Wednesday at 12:00 (Europe/Paris). Members log in when it suits them, consult files,
rank candidates (some revise), a board member gives a proxy, reservation holders give opinions,
members chat with the agency, a mayor refers one dwelling to an in-person session; the platform
closes on schedule, records the decisions, and the president approves the minutes.

Deterministic for a given seed: ids, applicant data keys and every instant come from the seed and
the simulated clock, so the same command gives the same events on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.actor import Actor
from domain.applicants import ApplicantFile, Person
from domain.commission import Commission
from domain.members import Member, Right, Role, VoteType, right_on
from domain.participation import OPINIONS
from domain.rules import Rules
from ledger.application import CaleolApplication

PARIS = ZoneInfo("Europe/Paris")
AGENCY_ID = "hf-93-nord"
LANDLORD = "Habitat Francilien"
AGENCY_NAME = "Agence Seine-Saint-Denis Nord"
STAFF = Actor("staff:c.lefebvre", "staff")
CONVOCATION_FRIDAY = date(2026, 12, 4)

COMMUNES = {"93008": "Bobigny", "93055": "Pantin", "93048": "Montreuil"}
FIRST_NAMES = [
    "Awa",
    "Karim",
    "Sophie",
    "Mamadou",
    "Léa",
    "Youssef",
    "Nadia",
    "Thomas",
    "Fatoumata",
    "Julien",
    "Inès",
    "Moussa",
    "Camille",
    "Samir",
    "Chloé",
    "Ibrahima",
    "Manon",
    "Rachid",
]
LAST_NAMES = [
    "Traoré",
    "Benali",
    "Martin",
    "Diop",
    "Nguyen",
    "Haddad",
    "Bernard",
    "Kone",
    "Petit",
    "Mendy",
    "Cissé",
    "Lambert",
    "Belkacem",
    "Rousseau",
    "Diallo",
    "Fontaine",
    "Ferhat",
]
STREETS = [
    "rue de Paris",
    "avenue Jean-Jaurès",
    "rue Hoche",
    "boulevard Lénine",
    "rue de la République",
    "allée des Tilleuls",
    "rue Édouard-Vaillant",
    "avenue Gaston-Roussel",
]
QUESTIONS = [
    "Le logement est-il accessible aux personnes à mobilité réduite ?",
    "Pouvez-vous confirmer les ressources du deuxième candidat ?",
    "Le candidat a-t-il déjà refusé une proposition cette année ?",
]
MISSING_DOCUMENTS = ["avis d'imposition 2025", "attestation CAF", "justificatif de domicile"]


@dataclass(frozen=True)
class DemoResult:
    commission_id: UUID
    created: bool
    events: int
    summary: dict[str, Any]


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS).astimezone(ZoneInfo("UTC"))


class SimulatedClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, instant: datetime) -> None:
        # Events are replayed in time order; equal instants keep their order.
        self.now = max(self.now, instant)


class SeededIds:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def __call__(self, kind: str) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))


def seeded_key_source(seed: int) -> Callable[[str], bytes]:
    secret = hashlib.sha256(f"caleol-demo-data-keys:{seed}".encode()).digest()
    return lambda ref: hmac.new(secret, ref.encode(), hashlib.sha256).digest()


def demo_lookup_secret(seed: int) -> bytes:
    return hashlib.sha256(f"caleol-demo-lookup:{seed}".encode()).digest()


def members() -> list[Member]:
    d, c = VoteType.DELIBERATIVE, VoteType.CONSULTATIVE
    return [
        Member("adm-girard", Role.BOARD, d, "Hélène Girard (présidente)"),
        Member("adm-moreau", Role.BOARD, d, "Olivier Moreau"),
        Member("adm-sall", Role.BOARD, d, "Aïssatou Sall"),
        Member("adm-roux", Role.BOARD, d, "Bernard Roux"),
        Member("adm-blanc", Role.BOARD, d, "Isabelle Blanc"),
        Member("rep-locataires", Role.TENANT_REPRESENTATIVE, d, "Mohamed Ouali (CNL)"),
        Member(
            "maire-bobigny",
            Role.MAYOR,
            d,
            "Adjointe au maire de Bobigny",
            communes=frozenset({"93008"}),
        ),
        Member(
            "maire-pantin",
            Role.MAYOR,
            d,
            "Adjoint au maire de Pantin",
            communes=frozenset({"93055"}),
        ),
        Member(
            "maire-montreuil",
            Role.MAYOR,
            d,
            "Adjointe au maire de Montreuil",
            communes=frozenset({"93048"}),
        ),
        Member(
            "prefecture-93", Role.PREFECTURE, d, "Représentant du préfet de la Seine-Saint-Denis"
        ),
        Member("epci-est-ensemble", Role.EPCI, d, "Représentante du président d'Est Ensemble"),
        Member(
            "action-logement",
            Role.RESERVATION_HOLDER,
            c,
            "Action Logement Services",
            contingent="action_logement",
        ),
        Member(
            "ville-pantin-resa",
            Role.RESERVATION_HOLDER,
            c,
            "Ville de Pantin (réservataire)",
            contingent="ville_pantin",
        ),
        Member(
            "ingenierie-sociale", Role.SOCIAL_ENGINEERING, c, "Association Habitat et Insertion"
        ),
    ]


def _household(rng: random.Random, size: int) -> tuple[Person, ...]:
    last = rng.choice(LAST_NAMES)
    people = [
        Person(
            rng.choice(FIRST_NAMES),
            last,
            f"{rng.randint(1960, 2000)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
        )
    ]
    if size >= 2 and rng.random() < 0.6:
        people.append(
            Person(
                rng.choice(FIRST_NAMES),
                last,
                f"{rng.randint(1960, 2000)}-05-2{rng.randint(0, 8)}",
                "spouse",
            )
        )
    while len(people) < size:
        people.append(
            Person(
                rng.choice(FIRST_NAMES),
                last,
                f"{rng.randint(2008, 2024)}-0{rng.randint(1, 9)}-0{rng.randint(1, 9)}",
                "child",
            )
        )
    return tuple(people)


def run_demo(app: CaleolApplication, clock: SimulatedClock, seed: int) -> DemoResult:
    rng = random.Random(seed)
    title = "CALEOL dématérialisée du 8 décembre 2026"
    opens_at, closes_at = paris(date(2026, 12, 8), 9), paris(date(2026, 12, 9), 12)
    commission_id = Commission.create_id(AGENCY_ID, title, opens_at)
    if list(app.events.get(commission_id, limit=1)):
        commission = app.commission(commission_id)
        return DemoResult(commission_id, False, commission.version, _summary(commission))

    clock.set(paris(CONVOCATION_FRIDAY, 14))
    cid = app.schedule_commission(
        actor=STAFF,
        agency_id=AGENCY_ID,
        title=title,
        rules=Rules(),
        opens_at=opens_at,
        closes_at=closes_at,
        landlord=LANDLORD,
        agency_name=AGENCY_NAME,
    )
    roster = members()
    for member in roster:
        clock.set(clock.now + timedelta(minutes=1))
        app.convene_member(cid, actor=STAFF, member=member)

    # Twelve dwellings, four per commune; contingents shared between the landlord and holders.
    contingents = [None, "action_logement", None, "ville_pantin", "prefecture", None]
    n_applicant = 0
    for i in range(12):
        commune = list(COMMUNES)[i // 4]
        contingent = contingents[i % len(contingents)]
        if contingent == "ville_pantin" and commune != "93055":
            contingent = None
        typology = rng.choice(["T2", "T3", "T3", "T4", "T5"])
        rooms = int(typology[1])
        rent = 35_000 + rooms * 9_000 + rng.randint(0, 40) * 100
        dwelling_id = f"LGT-{commune}-{i + 1:02d}"
        clock.set(clock.now + timedelta(minutes=3))
        app.list_dwelling(
            cid,
            actor=STAFF,
            dwelling_id=dwelling_id,
            commune=commune,
            contingent=contingent,
            description={
                "address": f"{rng.randint(1, 120)} {rng.choice(STREETS)}, {COMMUNES[commune]}",
                "typology": typology,
                "surface_dm2": 3000 + rooms * 1500 + rng.randint(0, 900),
                "floor": rng.randint(0, 9),
                "rent_cents": rent,
                "charges_cents": 6_000 + rooms * 2_000,
                "financing": rng.choice(["PLUS", "PLAI", "PLS"]),
            },
        )
        for _ in range(rng.randint(3, 5)):
            n_applicant += 1
            size = max(1, rooms - rng.randint(0, 1))
            resources = rng.randint(110_000, 340_000)
            file = ApplicantFile(
                numero_unique=f"093{rng.randint(10**13, 10**14 - 1)}{rng.choice('ABCDEFGH')}",
                household=_household(rng, size),
                monthly_resources_cents=resources,
                housing_benefit_cents=rng.choice([0, 0, 15_000, 28_000, 36_000]),
                situation=rng.choice(
                    [
                        "Hébergé chez un tiers",
                        "Logement sur-occupé",
                        "Sortie de structure d'hébergement",
                        "Logement indigne signalé",
                        "Rapprochement du lieu de travail",
                    ]
                ),
                priority_flags=tuple(
                    rng.sample(
                        ["dalo", "handicap", "violences", "sur_occupation"], k=rng.choice([0, 0, 1])
                    )
                ),
            )
            missing = [rng.choice(MISSING_DOCUMENTS)] if rng.random() < 0.12 else []
            clock.set(clock.now + timedelta(minutes=1))
            app.present_candidate(
                cid,
                actor=STAFF,
                dwelling_id=dwelling_id,
                file=file,
                missing_documents=missing,
                cotation=rng.randint(120, 480),
            )

    clock.set(paris(CONVOCATION_FRIDAY, 18))
    app.send_convocations(cid, actor=STAFF)

    clock.set(opens_at)
    app.run_schedule(cid)
    _window(app, clock, cid, rng, opens_at, closes_at)

    clock.set(closes_at)
    app.run_schedule(cid)

    # The president approves the minutes on Wednesday afternoon.
    from projections.minutes import minutes_digest  # the minutes are a projection

    commission = app.commission(cid)
    clock.set(paris(date(2026, 12, 9), 15))
    president = roster[0]
    app.approve_minutes(
        cid,
        actor=Actor(president.id, president.role.value),
        president_id=president.id,
        minutes_sha256=minutes_digest(app, commission),
    )
    commission = app.commission(cid)
    return DemoResult(cid, True, commission.version, _summary(commission))


def _window(
    app: CaleolApplication,
    clock: SimulatedClock,
    cid: UUID,
    rng: random.Random,
    opens_at: datetime,
    closes_at: datetime,
) -> None:
    """Plans every member's activity over the window, then runs it in time order."""
    commission = app.commission(cid)
    plan: list[tuple[datetime, int, Callable[[], Any]]] = []
    window_s = int((closes_at - opens_at).total_seconds()) - 3600

    def at(offset_s: int, command: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        instant = min(opens_at + timedelta(seconds=offset_s), closes_at - timedelta(minutes=5))
        plan.append((instant, len(plan), partial(command, cid, *args, **kwargs)))

    # One proxy: a board member unavailable on Tuesday gives it to the tenants' representative.
    giver, holder = "adm-roux", "rep-locataires"
    at(600, app.give_proxy, actor=Actor(giver, "board"), holder_id=holder)
    referred = "LGT-93055-06"
    for member in sorted(commission.members.values(), key=lambda m: m.id):
        if member.id == giver:
            continue
        start = rng.randint(900, window_s // 2)
        session = f"{member.id}-{rng.getrandbits(64)}"
        at(start, app.log_in, member.id, method="magic_link", session_id=session)
        t = start
        for dwelling_id in sorted(commission.dwellings):
            scope = commission.dwelling_scope(dwelling_id)
            right = right_on(member, scope)
            if right is Right.NONE:
                continue
            cands = commission.active_candidates(dwelling_id)
            for cand in rng.sample(cands, k=rng.randint(1, len(cands))):
                t += rng.randint(30, 240)
                at(t, app.consult_file, member.id, dwelling_id=dwelling_id, candidate_id=cand)
            t += rng.randint(60, 600)
            if right is Right.OPINION:
                at(
                    t,
                    app.give_opinion,
                    member.id,
                    dwelling_id=dwelling_id,
                    opinion=rng.choice(sorted(OPINIONS)),
                    candidate_id=cands[0],
                    text="Candidat relevant de notre contingent, dossier complet.",
                )
                continue
            if member.id == "maire-pantin" and dwelling_id == referred:
                reason = {
                    "code": "disputed_dwelling",
                    "text": "Désaccord sur un logement adapté, à examiner en séance",
                }
                at(t, app.request_referral, member.id, dwelling_id=dwelling_id, reason=reason)
                continue
            if rng.random() < 0.12:  # some members leave some dwellings without a ballot
                continue
            ballot = _ballot(rng, cands, commission, dwelling_id)
            at(t, app.submit_ballot, member.id, dwelling_id=dwelling_id, **ballot)
            if rng.random() < 0.15:  # a revision later on
                revised = _ballot(rng, cands, commission, dwelling_id)
                later = t + rng.randint(3600, 7200)
                at(later, app.submit_ballot, member.id, dwelling_id=dwelling_id, **revised)
            if member.id == holder and right_on(commission.members[giver], scope) is Right.VOTE:
                for_giver = _ballot(rng, cands, commission, dwelling_id)
                at(
                    t + 60,
                    app.submit_ballot,
                    holder,
                    dwelling_id=dwelling_id,
                    on_behalf_of=giver,
                    **for_giver,
                )
        # Some members ask the agency a question; staff answer within the hour.
        if rng.random() < 0.5:
            dwelling_id = rng.choice(sorted(commission.dwellings))
            question = rng.choice(QUESTIONS)
            ask = start + rng.randint(300, 3000)
            author = Actor(member.id, member.role.value)
            at(
                ask,
                app.post_message,
                member.id,
                author=author,
                text=question,
                dwelling_id=dwelling_id,
            )
            at(
                ask + rng.randint(300, 3000),
                app.post_message,
                member.id,
                author=STAFF,
                dwelling_id=dwelling_id,
                text="Bonjour, nous avons vérifié : l'information est à jour dans la fiche.",
            )
    for instant, _, command in sorted(plan, key=lambda p: (p[0], p[1])):
        clock.set(instant)
        command()


def _ballot(
    rng: random.Random, cands: list[str], commission: Commission, dwelling_id: str
) -> dict[str, Any]:
    # Members mostly follow the cotation, with their own judgement as noise.
    scored = sorted(
        cands,
        key=lambda c: -(commission.candidates[c]["cotation"] or 0) + rng.randint(-120, 120),
    )
    ranking, non_attribution = list(scored), {}
    if len(scored) > 3 and rng.random() < 0.5:
        dropped = ranking.pop()
        non_attribution[dropped] = {
            "code": rng.choice(["household_size_mismatch", "effort_rate_too_high"]),
            "text": "",
        }
    return {"ranking": ranking, "non_attribution": non_attribution}


def _summary(commission: Commission) -> dict[str, Any]:
    decided = sum(1 for d in commission.decisions.values() if d["status"] == "decided")
    return {
        "title": commission.title,
        "status": commission.status.value,
        "members": len(commission.members),
        "dwellings": len(commission.dwellings),
        "candidates": sum(len(d["candidates"]) for d in commission.dwellings.values()),
        "decided": decided,
        "referred": len(commission.decisions) - decided,
    }
