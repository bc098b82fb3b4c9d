"""The minutes (procès-verbal) as pure, deterministic renderings of a closed commission's events."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest
from pypdf import PdfReader

from domain.errors import DomainError
from ledger.application import CaleolApplication
from projections.minutes import (
    FORMATS,
    MinutesNotAvailable,
    build_minutes,
    minutes_digest,
    render_minutes,
)
from tests.projections.conftest import (
    ANCHOR,
    DPO,
    HOSTILE_NAME,
    HOSTILE_OPINION,
    HOSTILE_REFERRAL,
    Small,
    build_demo,
    build_small,
    clear_file,
    decisions_by_kind,
    pdf_pages,
    plain,
)
from tests.scenario import build

ERASED = "[données effacées]"


@dataclass
class Demo:
    app: CaleolApplication
    cid: UUID
    before: dict[str, bytes]
    again: dict[str, bytes]
    after: dict[str, bytes]
    erased_numero: str
    erased_names: list[str]
    applicant_names: list[str]
    birth_dates: list[str]


@pytest.fixture(scope="module")
def demo() -> Demo:
    app, cid = build_demo(seed=1)
    commission = app.commission(cid)
    names, births = [], []
    for candidate_id in sorted(commission.candidates):
        file = clear_file(app, cid, candidate_id)
        names += [f"{p.first_name} {p.last_name}" for p in file.household]
        births += [p.birth_date for p in file.household]
    before = {fmt: render_minutes(app, cid, fmt, anchor=ANCHOR) for fmt in FORMATS}
    again = {fmt: render_minutes(app, cid, fmt, anchor=ANCHOR) for fmt in FORMATS}
    # Erase the applicant who was not attributed their dwelling.
    _, erased_candidate = decisions_by_kind(app, cid)["non_attribution"][0]
    file = clear_file(app, cid, erased_candidate)
    assert app.erase_applicant(file.numero_unique, actor=DPO, reason="right_to_erasure")
    after = {fmt: render_minutes(app, cid, fmt, anchor=ANCHOR) for fmt in FORMATS}
    return Demo(
        app,
        cid,
        before,
        again,
        after,
        file.numero_unique,
        [f"{p.first_name} {p.last_name}" for p in file.household],
        sorted(set(names)),
        sorted(set(births)),
    )


@pytest.fixture(scope="module")
def small() -> Small:
    return build_small()


def _json(data: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(data)
    return parsed


def _text(fmt: str, data: bytes) -> str:
    return " ".join(pdf_pages(data)) if fmt == "pdf" else plain(data)


# ------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("fmt", FORMATS)
def test_same_events_give_byte_identical_minutes(demo: Demo, fmt: str) -> None:
    assert demo.before[fmt] == demo.again[fmt]


@pytest.fixture(scope="module")
def replayed(demo: Demo) -> tuple[CaleolApplication, UUID]:
    """The same demo run again in another application: the same events, recorded anew."""
    app, cid = build_demo(seed=1)
    assert cid == demo.cid
    return app, cid


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_fresh_run_of_the_same_demo_gives_the_same_bytes(
    demo: Demo, replayed: tuple[CaleolApplication, UUID], fmt: str
) -> None:
    app, cid = replayed
    assert render_minutes(app, cid, fmt, anchor=ANCHOR) == demo.before[fmt]


_OTHER_PROCESS = """
import hashlib, sys
from tests.projections.conftest import ANCHOR, build_demo
from projections.minutes import FORMATS, render_minutes
app, cid = build_demo(seed=1)
for fmt in FORMATS:
    print(fmt, hashlib.sha256(render_minutes(app, cid, fmt, anchor=ANCHOR)).hexdigest())
"""


def test_another_process_with_another_hash_seed_gives_the_same_bytes(demo: Demo) -> None:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONHASHSEED": "4242", "PYTHONPATH": str(root)}
    out = subprocess.run(
        [sys.executable, "-c", _OTHER_PROCESS],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    expected = {fmt: hashlib.sha256(demo.before[fmt]).hexdigest() for fmt in FORMATS}
    assert dict(line.split() for line in out.splitlines()) == expected


def test_json_is_canonical_and_the_digest_is_its_content_sha256(demo: Demo) -> None:
    data = demo.before["json"]
    parsed = _json(data)
    assert data == orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS)
    content = orjson.dumps(parsed["content"], option=orjson.OPT_SORT_KEYS)
    assert parsed["minutes_sha256"] == hashlib.sha256(content).hexdigest()
    assert parsed["minutes_sha256"] == minutes_digest(demo.app, demo.app.commission(demo.cid))
    assert parsed["anchor"] == ANCHOR


def test_the_president_approved_these_minutes(demo: Demo) -> None:
    parsed = _json(demo.before["json"])
    approval = parsed["approval"]
    assert approval["president"] == "adm-girard"
    assert approval["matches"] is True
    assert approval["minutes_sha256"] == parsed["minutes_sha256"]
    assert demo.app.commission(demo.cid).minutes_sha256 == parsed["minutes_sha256"]
    assert "conforme au présent procès-verbal" in plain(demo.before["md"])
    assert "NON CONFORME" not in plain(demo.before["md"])


def test_the_digest_depends_neither_on_the_anchor_nor_on_erasures(demo: Demo) -> None:
    digest = _json(demo.before["json"])["minutes_sha256"]
    unanchored = _json(render_minutes(demo.app, demo.cid, "json"))
    assert unanchored["minutes_sha256"] == digest
    assert unanchored["anchor"] is None
    assert _json(demo.after["json"])["minutes_sha256"] == digest
    assert _json(demo.after["json"])["approval"]["matches"] is True


def test_unknown_format_and_open_commission_are_refused(demo: Demo) -> None:
    with pytest.raises(ValueError, match="unknown minutes format"):
        render_minutes(demo.app, demo.cid, "docx")
    still_open = build()
    with pytest.raises(MinutesNotAvailable):
        render_minutes(still_open.app, still_open.commission_id, "md")
    assert issubclass(MinutesNotAvailable, DomainError)


# ------------------------------------------------------------------------------ content


@pytest.mark.parametrize("fmt", ["md", "html", "pdf"])
def test_the_minutes_say_what_the_design_asks_for(demo: Demo, fmt: str) -> None:
    text = _text(fmt, demo.before[fmt])
    for heading in (
        "Procès-verbal de la commission d'attribution des logements",
        "1. Informations générales",
        "2. Règlement intérieur",
        "3. Membres convoqués et participation",
        "4. Examen des logements",
        "5. Actes tardifs",
        "6. Ancrage dans le registre et empreinte du procès-verbal",
        "7. Approbation",
    ):
        assert heading in text.replace("&#39;", "'")
    for fact in (
        "hf-93-nord",
        "numérique",
        "vendredi 4 décembre 2026 à 18 h 00",  # the convocation, Europe/Paris
        "du mardi 8 décembre 2026 à 9 h 00 au mercredi 9 décembre 2026 à 12 h 00",
        "méthode de Schulze",
        "Voix délibérative".lower(),
        "voix consultative",
        "Représentant des locataires",
        "Maire de la commune ou son représentant",
        "Réservataire",
        "quorum atteint",
        "Attribution sous condition suspensive",
        "justificatif de domicile",
        "Non-attribution",
        "Inadéquation de la taille du ménage au logement",
        "Avis favorable",
        "Aucun acte tardif",
        "taille 1234" if fmt == "pdf" else "1234",
    ):
        assert fact in text.replace("&#39;", "'"), fact


@pytest.mark.parametrize("fmt", ["md", "html", "pdf"])
def test_referral_proxy_and_casting_vote_appear(demo: Demo, fmt: str) -> None:
    text = _text(fmt, demo.before[fmt]).replace("&#39;", "'")
    # The mayor of Pantin referred LGT-93055-06, with their reason.
    assert "LGT-93055-06" in text
    assert "renvoyé à la prochaine séance présentielle" in text
    assert "renvoi demandé par un membre de la commission" in text
    assert "Adjoint au maire de Pantin" in text
    assert "Désaccord sur un logement adapté" in text
    # Bernard Roux gave his proxy to the tenants' representative, who voted for him.
    assert "Bernard Roux a donné pouvoir à Mohamed Ouali (CNL)" in text
    assert "pouvoir en vigueur à la clôture" in text
    assert "vote exprimé par son mandataire Mohamed Ouali (CNL)" in text
    # Ties broken by the mayor of the dwelling's commune.
    assert re.search(r"Égalité au rang \d+ entre les candidats", text)
    assert "départagée par la voix prépondérante (Adjointe au maire de Bobigny)" in text
    assert "utilisée pour départager une égalité" in text


def test_the_model_counts_participation(demo: Demo) -> None:
    minutes = build_minutes(demo.app, demo.cid)
    summary = minutes.content.summary
    assert (summary.members_convened, summary.dwellings, summary.candidates) == (14, 12, 53)
    assert (summary.dwellings_decided, summary.dwellings_referred) == (11, 1)
    roux = next(m for m in minutes.content.members if m.id == "adm-roux")
    assert roux.first_login is None and roux.represented_by == "rep-locataires"
    assert roux.votes_counted > 0 and roux.votes_in_person == 0
    assert all(d.recomputed_matches for d in minutes.content.dwellings)
    assert any(d.casting_vote_used for d in minutes.content.dwellings)


def test_households_are_summarised_without_names_or_birth_dates(demo: Demo) -> None:
    for fmt in ("json", "md", "html"):
        text = demo.before[fmt].decode()
        for name in demo.applicant_names:
            assert name not in text
        for birth in demo.birth_dates:
            assert birth not in text
    pdf_text = _text("pdf", demo.before["pdf"])
    assert not [name for name in demo.applicant_names if name in pdf_text]
    assert "demandeur, conjoint" in plain(demo.before["md"])


# ------------------------------------------------------------------------------ the PDF


def test_pdf_pages_carry_header_page_numbers_anchor_and_digest(demo: Demo) -> None:
    data = demo.before["pdf"]
    digest = _json(demo.before["json"])["minutes_sha256"]
    pages = pdf_pages(data)
    assert len(pages) > 3
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} / {len(pages)}" in text
        assert "Procès-verbal de la commission d'attribution des logements (CALEOL)" in text
        assert digest in text
        assert "Ancrage du registre : taille 1234" in text
    reader = PdfReader(io.BytesIO(data))
    assert reader.metadata is not None
    assert reader.metadata.creation_date is not None
    assert reader.metadata.creation_date.isoformat().startswith("2026-12-09T11:00:00")
    assert "Procès-verbal" in (reader.metadata.title or "")


def test_unanchored_minutes_say_so(demo: Demo) -> None:
    for fmt in ("md", "html", "pdf"):
        text = _text(fmt, render_minutes(demo.app, demo.cid, fmt))
        assert "non ancré" in text


# ---------------------------------------------------------------------------- erasure


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_erased_applicant_leaves_no_trace(demo: Demo, fmt: str) -> None:
    before, after = _text(fmt, demo.before[fmt]), _text(fmt, demo.after[fmt])
    assert demo.erased_numero in before
    assert demo.erased_numero not in after
    assert ERASED in after
    for name in demo.erased_names:
        assert name not in after
    if fmt == "pdf":
        assert demo.erased_numero.encode() not in demo.after[fmt]


def test_only_the_erased_household_changes(demo: Demo) -> None:
    before, after = _json(demo.before["json"]), _json(demo.after["json"])
    assert before["content"] == after["content"]
    changed = {k for k in before["households"] if before["households"][k] != after["households"][k]}
    assert len(changed) == 1
    (candidate,) = changed
    assert after["households"][candidate] == {
        "numero_unique": ERASED,
        "size": None,
        "composition": ERASED,
        "erased": True,
    }


# ------------------------------------------------------------- the small commission


def test_small_commission_late_ballot_is_listed_and_not_counted(small: Small) -> None:
    minutes = build_minutes(small.app, small.cid)
    (late,) = minutes.content.late
    assert (late.member, late.kind, late.dwelling, late.cutoff) == ("epci", "ballot", "D1", 0)
    d1 = next(d for d in minutes.content.dwellings if d.id == "D1")
    assert d1.quorum_cast == 4
    assert next(v for v in d1.voters if v.member == "epci").status == "none"
    for fmt in ("md", "html", "pdf"):
        text = _text(fmt, render_minutes(small.app, small.cid, fmt))
        assert "5. Actes tardifs" in text
        assert "non pris en compte (tardif)" in text
    assert minutes.approval is not None and minutes.approval.matches


def test_small_commission_tie_casting_vote_and_rejections(small: Small) -> None:
    minutes = build_minutes(small.app, small.cid)
    d1, d2, d3 = minutes.content.dwellings
    assert d1.casting_vote_used and d1.casting_voter == "mayor-bobigny"
    assert [(t.rank, t.candidates, t.still_tied) for t in d1.ties] == [(1, (1, 2), ())]
    assert d1.ranking == (2, 1, 3)
    decisions = {c.candidate_id: c.decision for c in d2.candidates}
    assert decisions == {
        "D2-C4": "attribution",
        "D2-C5": "non_attribution",
        "D2-C6": "inadmissible",
        "D2-DALO": "non_attribution",
    }
    assert next(v for v in d2.voters if v.member == "prefecture").cast_by == "tenants"
    assert d3.status == "referred" and d3.referral_reason == "member_request"
    assert [r.member for r in d3.referrals] == ["mayor-pantin"]
    md = plain(render_minutes(small.app, small.cid, "md"))
    assert "Égalité au rang 1 entre les candidats n° 1 et n° 2" in md
    assert "Rejet pour irrecevabilité" in md
    assert "Ressources supérieures aux plafonds réglementaires" in md


def test_html_escapes_text_from_the_events(small: Small) -> None:
    html = render_minutes(small.app, small.cid, "html").decode()
    for hostile in (HOSTILE_NAME, HOSTILE_REFERRAL, HOSTILE_OPINION):
        assert hostile not in html
    assert "<script>" not in html
    assert "&lt;script&gt;alert(" in html
    assert "&lt;i&gt;Dossier&lt;/i&gt; complet &amp; à jour" in html
    md = render_minutes(small.app, small.cid, "md").decode()
    assert "<script>" not in md
    assert "\\<script\\>" in md
    pdf_text = " ".join(pdf_pages(render_minutes(small.app, small.cid, "pdf")))
    assert HOSTILE_NAME in pdf_text  # shown as text, nothing to interpret in a PDF
