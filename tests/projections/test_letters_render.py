"""Decision letters: one per candidate, deterministic, in French, erasure-safe."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from uuid import UUID

import pytest

from ledger.application import CaleolApplication
from projections.letters import (
    LETTER_FORMATS,
    Letter,
    build_letters,
    letter_html,
    letter_pdf,
    render_letters,
)
from projections.minutes import minutes_digest
from tests.projections.conftest import (
    DPO,
    HOSTILE_REASON,
    Small,
    build_demo,
    build_small,
    clear_file,
    decisions_by_kind,
    pdf_pages,
    plain,
)

ERASED = "[données effacées]"
NAME = re.compile(r"^lettre_LGT-\d{5}-\d{2}_candidat-\d{2}$")


@dataclass
class Demo:
    app: CaleolApplication
    cid: UUID
    letters: list[Letter]
    html: dict[str, bytes]
    erased_letter: str
    erased_numero: str
    erased_names: list[str]
    rendered_pdf: dict[str, bytes] = field(default_factory=dict)

    def pdf(self, name: str) -> bytes:
        """One letter's PDF, rendered once (all of them take seconds: one test does that)."""
        if name not in self.rendered_pdf:
            letter = next(x for x in self.letters if f"{x.name}.pdf" == name)
            self.rendered_pdf[name] = letter_pdf(letter)
        return self.rendered_pdf[name]


def _stem(dwelling: str, number: int) -> str:
    return f"lettre_{dwelling}_candidat-{number:02d}"


@pytest.fixture(scope="module")
def demo() -> Demo:
    app, cid = build_demo(seed=1)
    commission = app.commission(cid)
    dwelling, candidate = decisions_by_kind(app, cid)["non_attribution"][0]
    number = commission.dwellings[dwelling]["candidates"].index(candidate) + 1
    file = clear_file(app, cid, candidate)
    assert app.erase_applicant(file.numero_unique, actor=DPO, reason="right_to_erasure")
    return Demo(
        app,
        cid,
        build_letters(app, cid),
        render_letters(app, cid, "html"),
        _stem(dwelling, number),
        file.numero_unique,
        [f"{p.first_name} {p.last_name}" for p in file.household],
    )


@pytest.fixture(scope="module")
def small() -> Small:
    return build_small()


def _by_kind(demo: Demo, kind: str) -> Letter:
    return next(letter for letter in demo.letters if letter.kind == kind)


# ------------------------------------------------------------------------- the set


def test_one_letter_per_candidate_named_without_personal_data(demo: Demo) -> None:
    commission = demo.app.commission(demo.cid)
    candidates = sum(len(d["candidates"]) for d in commission.dwellings.values())
    assert len(demo.letters) == candidates == 53
    assert len(demo.html) == candidates
    for name in demo.html:
        stem, ext = name.rsplit(".", 1)
        assert ext == "html" and NAME.match(stem), name
        assert f"{stem}.pdf" == f"{next(x for x in demo.letters if x.name == stem).name}.pdf"
    kinds = {letter.kind for letter in demo.letters}
    assert kinds == {"offer", "ranked", "conditional", "non_attribution", "referred"}


def test_same_events_give_byte_identical_letters(demo: Demo) -> None:
    assert render_letters(demo.app, demo.cid, "html") == demo.html
    # Every PDF is laid out alone: a sample of each kind, re-rendered, gives the same bytes.
    for kind in ("offer", "ranked", "conditional", "non_attribution", "referred"):
        letter = _by_kind(demo, kind)
        assert letter_pdf(letter) == demo.pdf(f"{letter.name}.pdf")
        assert letter_html(letter) == demo.html[f"{letter.name}.html"]


def test_a_fresh_run_gives_the_same_letters_but_the_erased_one(demo: Demo) -> None:
    app, cid = build_demo(seed=1)
    html = render_letters(app, cid, "html")
    assert html.keys() == demo.html.keys()
    assert {name for name in html if html[name] != demo.html[name]} == {
        f"{demo.erased_letter}.html"
    }
    letter = build_letters(app, cid)[0]
    assert letter_pdf(letter) == demo.pdf(f"{letter.name}.pdf")


def test_unknown_format_is_refused(demo: Demo) -> None:
    assert LETTER_FORMATS == ("html", "pdf")
    with pytest.raises(ValueError, match="unknown letter format"):
        render_letters(demo.app, demo.cid, "md")


# ------------------------------------------------------------------------- contents


def test_offer_gives_ten_days_to_answer(demo: Demo) -> None:
    letter = _by_kind(demo, "offer")
    for text in (
        plain(demo.html[f"{letter.name}.html"]),
        " ".join(pdf_pages(demo.pdf(f"{letter.name}.pdf"))),
    ):
        assert "Objet : attribution d'un logement — proposition" in text.replace("&#39;", "'")
        assert "délai de dix jours" in text
        assert "R441-10" in text
        assert "1er rang" in text


def test_ranked_attribution_says_the_rank(demo: Demo) -> None:
    letter = _by_kind(demo, "ranked")
    text = plain(demo.html[f"{letter.name}.html"])
    assert re.search(r"classée au \d+e rang", text)
    assert "si le ou les candidats classés avant vous le refusent" in text


def test_conditional_attribution_names_documents_and_deadline(demo: Demo) -> None:
    letter = _by_kind(demo, "conditional")
    text = " ".join(pdf_pages(demo.pdf(f"{letter.name}.pdf")))
    assert "sous la condition suspensive" in text
    assert (
        "justificatif de domicile" in text
        or "attestation CAF" in text
        or "avis d'imposition" in text
    )
    assert "au plus tard le 19 décembre 2026" in text  # closing + 10 days (RI)


def test_referred_dwelling_letters_announce_the_in_person_session(demo: Demo) -> None:
    referred = [letter for letter in demo.letters if letter.kind == "referred"]
    assert {letter.dwelling_id for letter in referred} == {"LGT-93055-06"}
    text = plain(demo.html[f"{referred[0].name}.html"]).replace("&#39;", "'")
    assert "prochaine séance présentielle" in text
    assert "Votre dossier sera examiné lors de cette prochaine séance présentielle" in text
    assert "Recours gracieux" not in text


def test_non_attribution_gives_reasons_and_ways_of_appeal(demo: Demo) -> None:
    text = " ".join(pdf_pages(demo.pdf(f"{demo.erased_letter}.pdf")))
    assert "Objet : décision de non-attribution d'un logement" in text
    assert "Inadéquation de la taille du ménage au logement" in text
    assert "Voies et délais de recours" in text
    assert "Recours gracieux" in text and "deux mois" in text
    assert "tribunal administratif" in text
    assert "commission de médiation DALO" in text
    assert "Page 1 / " in text


def test_letters_cite_the_minutes_digest(demo: Demo) -> None:
    digest = minutes_digest(demo.app, demo.app.commission(demo.cid))
    assert all(letter.minutes_sha256 == digest for letter in demo.letters)
    letter = _by_kind(demo, "offer")
    pages = pdf_pages(demo.pdf(f"{letter.name}.pdf"))
    assert all(
        digest in page and f"Page {i} / {len(pages)}" in page for i, page in enumerate(pages, 1)
    )


# -------------------------------------------------------------------------- erasure


def test_the_erased_applicants_letter_shows_no_personal_data(demo: Demo) -> None:
    html = plain(demo.html[f"{demo.erased_letter}.html"])
    pdf = " ".join(pdf_pages(demo.pdf(f"{demo.erased_letter}.pdf")))
    for text in (html, pdf):
        assert ERASED in text
        assert demo.erased_numero not in text
        for name in demo.erased_names:
            assert name not in text
    erased = next(letter for letter in demo.letters if letter.name == demo.erased_letter)
    assert erased.erased and erased.kind == "non_attribution"


def test_no_letter_carries_the_erased_numero(demo: Demo) -> None:
    for data in demo.html.values():
        assert demo.erased_numero not in data.decode()
    others = [letter for letter in demo.letters if letter.name != demo.erased_letter]
    assert not any(letter.erased for letter in others)


# ---------------------------------------------------------------- small commission


def test_small_commission_kinds_and_dalo(small: Small) -> None:
    letters = {letter.name: letter for letter in build_letters(small.app, small.cid)}
    kinds = {name: letter.kind for name, letter in letters.items()}
    assert kinds["lettre_D1_candidat-02"] == "offer"  # C2 won the tie on the casting vote
    assert kinds["lettre_D1_candidat-01"] == "ranked"
    assert kinds["lettre_D2_candidat-02"] == "non_attribution"
    assert kinds["lettre_D2_candidat-03"] == "inadmissible"
    assert kinds["lettre_D2_candidat-04"] == "non_attribution"  # the DALO applicant
    assert {kinds[f"lettre_D3_candidat-0{n}"] for n in (1, 2, 3)} == {"referred"}
    html = render_letters(small.app, small.cid, "html")
    inadmissible = plain(html["lettre_D2_candidat-03.html"]).replace("&#39;", "'")
    assert "rejeter votre candidature comme irrecevable" in inadmissible
    assert "Ressources supérieures aux plafonds réglementaires" in inadmissible
    dalo = plain(html["lettre_D2_candidat-04.html"])
    assert small.dalo_numero in dalo
    assert "L441-2-3-1" in dalo  # a DALO-priority applicant is told of the DALO remedy
    assert "L441-2-3-1" not in plain(html["lettre_D2_candidat-02.html"])


def test_small_commission_every_pdf_letter(small: Small) -> None:
    """All the PDF letters at once (the demo's 53 take seconds: the small commission's 10)."""
    every_pdf = render_letters(small.app, small.cid, "pdf")
    letters = build_letters(small.app, small.cid)
    assert sorted(every_pdf) == sorted(f"{letter.name}.pdf" for letter in letters)
    assert len(every_pdf) == 10
    assert render_letters(small.app, small.cid, "pdf") == every_pdf
    for letter in letters:
        pages = pdf_pages(every_pdf[f"{letter.name}.pdf"])
        assert "Madame, Monsieur," in pages[0]
        assert f"Page {len(pages)} / {len(pages)}" in pages[-1]
        assert letter.subject in " ".join(pages)


def test_letters_escape_member_text(small: Small) -> None:
    html = render_letters(small.app, small.cid, "html")["lettre_D2_candidat-02.html"].decode()
    assert HOSTILE_REASON not in html
    assert "&lt;b&gt;Ressources&lt;/b&gt; insuffisantes" in html
    assert "<script" not in "".join(
        data.decode() for data in render_letters(small.app, small.cid, "html").values()
    )
