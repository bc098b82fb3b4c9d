"""Decision letters (CCH R441-3, R441-10, L441-2-2): one per candidate, from the closed commission.

Pure and deterministic like the minutes they build on (:func:`projections.minutes.build_minutes`):
the same events (and the same vault) give the same bytes. A letter is the decision notified to the
applicant, so it is addressed by name; once the applicant's data key is erased the letter shows
"[données effacées]" instead of any personal data, and the file names never hold personal data.

Kinds of letters:

- ``offer``: attribution in first position, with the ten days to answer (R441-10);
- ``ranked``: attribution at a later rank, offered if the better-ranked candidates decline;
- ``conditional``: attribution under a suspensive condition, with the missing documents and the
  deadline (RI ``condition_deadline_days`` after the closing);
- ``non_attribution`` and ``inadmissible``: the reasons (L441-2-2) and the ways and deadlines of
  appeal (recours gracieux, recours contentieux, médiation DALO);
- ``referred``: the dwelling was referred to an in-person session, where the file will be examined.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from fpdf.enums import XPos, YPos

from domain.applicants import ApplicantFile
from ledger.application import CaleolApplication
from ledger.vault import ERASED
from projections.minutes import (
    NBSP,
    CandidateLine,
    DwellingSection,
    Minutes,
    build_minutes,
    environment,
    euros,
    floor_label,
    fr_date,
    fr_datetime,
    referral_reason_label,
    surface,
)

__all__ = ["LETTER_FORMATS", "Block", "Letter", "build_letters", "render_letters"]

LETTER_FORMATS = ("html", "pdf")

SUBJECTS = {
    "offer": "Objet : attribution d'un logement — proposition",
    "ranked": "Objet : décision d'attribution d'un logement — candidature classée",
    "conditional": "Objet : attribution d'un logement sous condition suspensive",
    "non_attribution": "Objet : décision de non-attribution d'un logement",
    "inadmissible": "Objet : rejet de votre candidature pour irrecevabilité",
    "referred": "Objet : examen de votre candidature lors d'une séance présentielle",
}
SALUTATION = "Madame, Monsieur,"
CLOSING = (
    "Nous vous prions d'agréer, Madame, Monsieur, l'expression de nos salutations distinguées."
)
TEN_DAYS = (
    "Conformément à l'article R441-10 du code de la construction et de l'habitation, vous "
    "disposez d'un délai de dix jours à compter de la réception de la présente proposition pour "
    "nous faire connaître votre acceptation ou votre refus. Le défaut de réponse dans ce délai "
    "équivaut à un refus."
)


@dataclass(frozen=True)
class Block:
    """A piece of a letter's body: a heading (``h``), a paragraph (``p``) or a list (``ul``)."""

    kind: str
    text: str = ""
    items: tuple[str, ...] = ()
    lead: str = ""  # a few words in bold before the text


@dataclass(frozen=True)
class Letter:
    name: str  # file name without extension; never personal data
    kind: str
    dwelling_id: str
    candidate_number: int
    erased: bool
    sender: tuple[str, ...]
    recipient: tuple[str, ...]
    date_line: str
    references: tuple[tuple[str, str], ...]
    subject: str
    salutation: str
    blocks: tuple[Block, ...]
    closing: str
    signature: tuple[str, ...]
    minutes_sha256: str
    commission_title: str
    agency_id: str
    created: str  # ISO instant: the commission's closing


def _kind(section: DwellingSection, candidate: CandidateLine) -> str:
    if section.status == "referred" or candidate.decision is None:
        return "referred"
    if candidate.decision == "attribution":
        return "offer" if candidate.rank == 1 else "ranked"
    if candidate.decision == "attribution_conditional":
        return "conditional"
    return candidate.decision  # non_attribution | inadmissible


def _applicant_name(file: ApplicantFile | None) -> str:
    if file is None:
        return ERASED
    person = next((p for p in file.household if p.relation == "applicant"), file.household[0])
    return f"{person.first_name} {person.last_name}".strip()


def _dwelling_items(section: DwellingSection) -> tuple[str, ...]:
    d = section.description
    typology = str(d.get("typology", "")).strip()
    items = [
        f"Adresse : {d.get('address', '—')}",
        f"Typologie : {typology or '—'}, surface habitable {surface(d.get('surface_dm2'))}, "
        f"{floor_label(d.get('floor'))}",
        f"Loyer mensuel hors charges : {euros(d.get('rent_cents'))} ; "
        f"charges mensuelles : {euros(d.get('charges_cents'))}",
    ]
    if d.get("financing"):
        items.append(f"Financement : {d['financing']}")
    return tuple(items)


def _rank_text(candidate: CandidateLine) -> str:
    rank = candidate.rank or 0
    ordinal = "1er" if rank == 1 else f"{rank}e"
    return f"{ordinal} rang" + (" ex æquo" if candidate.ex_aequo else "")


def _appeal(agency_id: str, dalo: bool) -> tuple[Block, ...]:
    blocks = [
        Block("h", "Voies et délais de recours"),
        Block(
            "p",
            lead="Recours gracieux :",
            text="vous pouvez contester cette décision par un recours gracieux "
            f"adressé au bailleur ({agency_id}), par écrit et en exposant vos motifs, dans "
            "un délai de deux mois à compter de la réception de la présente lettre.",
        ),
        Block(
            "p",
            lead="Recours contentieux :",
            text="vous pouvez également former un recours devant le tribunal "
            "administratif territorialement compétent dans un délai de deux mois à compter de la "
            "réception de la présente lettre ou, si vous avez formé un recours gracieux, à compter "
            "de la réponse du bailleur ; le silence gardé par le bailleur pendant deux mois vaut "
            "rejet de votre recours gracieux. Le tribunal administratif peut être saisi par "
            f"l'application «{NBSP}Télérecours citoyens{NBSP}» accessible sur le site "
            "www.telerecours.fr.",
        ),
    ]
    if dalo:
        blocks.append(
            Block(
                "p",
                lead="Droit au logement opposable :",
                text="votre demande ayant été reconnue prioritaire et "
                "devant être satisfaite d'urgence par la commission de médiation DALO, vous "
                "pouvez, si aucune offre de logement tenant compte de vos besoins et de vos "
                "capacités ne vous est faite dans le délai fixé, exercer devant le tribunal "
                "administratif le recours prévu à l'article L441-2-3-1 du code de la "
                "construction et de l'habitation.",
            )
        )
    else:
        blocks.append(
            Block(
                "p",
                lead="Médiation DALO :",
                text="si vous n'avez reçu aucune proposition adaptée à vos besoins "
                "dans le délai anormalement long fixé dans votre département, ou si vous êtes "
                "dans l'une des situations prévues à l'article L441-2-3 du code de la "
                "construction et de l'habitation (notamment absence de logement, menace "
                "d'expulsion sans relogement, hébergement en structure, logement indigne ou "
                "sur-occupé avec un enfant mineur ou une personne handicapée), vous pouvez "
                "saisir la commission de médiation DALO de votre département.",
            )
        )
    return tuple(blocks)


def _body(
    minutes: Minutes,
    section: DwellingSection,
    candidate: CandidateLine,
    kind: str,
    numero: str,
    dalo: bool,
) -> tuple[Block, ...]:
    c = minutes.content.commission
    examined = (
        "Votre candidature (numéro unique {numero}) y était présentée pour le logement suivant :"
        if kind == "referred"
        else "Elle a examiné votre candidature (numéro unique {numero}) pour le logement suivant :"
    )
    intro = Block(
        "p",
        "La commission d'attribution des logements et d'examen de l'occupation des logements "
        f"(CALEOL) s'est réunie sous forme numérique du {fr_datetime(c.opens_at)} au "
        f"{fr_datetime(c.closes_at)}. " + examined.format(numero=numero),
    )
    blocks: list[Block] = [intro, Block("ul", items=_dwelling_items(section))]
    if kind == "offer":
        blocks += [
            Block(
                "p",
                "Nous avons le plaisir de vous informer que la commission a décidé de vous "
                "attribuer ce logement, votre candidature étant classée au 1er rang.",
            ),
            Block("p", TEN_DAYS),
            Block(
                "p",
                "Nous vous invitons à prendre contact avec votre agence pour convenir d'une "
                "visite du logement et préparer la signature du bail.",
            ),
        ]
    elif kind == "ranked":
        blocks += [
            Block(
                "p",
                "La commission a attribué ce logement en classant les candidats retenus par "
                f"ordre de priorité : votre candidature a été classée au {_rank_text(candidate)}.",
            ),
            Block(
                "p",
                "Le logement vous sera proposé si le ou les candidats classés avant vous le "
                "refusent ou ne peuvent en bénéficier. Nous vous en informerons alors par écrit, "
                "et vous disposerez d'un délai de dix jours à compter de la réception de cette "
                "proposition pour nous faire connaître votre réponse (article R441-10 du code de "
                "la construction et de l'habitation). Dans le cas contraire, votre demande de "
                "logement social reste active.",
            ),
        ]
    elif kind == "conditional":
        deadline = fr_date(candidate.condition_deadline)
        blocks += [
            Block(
                "p",
                "La commission a décidé de vous attribuer ce logement, votre candidature étant "
                f"classée au {_rank_text(candidate)}, sous la condition suspensive de la "
                "production du ou des documents suivants :",
            ),
            Block("ul", items=candidate.missing_documents),
            Block(
                "p",
                f"Ces documents doivent nous parvenir au plus tard le {deadline}. S'ils ne sont "
                "pas produits dans ce délai, ou s'ils font apparaître que les conditions "
                "d'attribution ne sont pas remplies, la décision d'attribution sera caduque.",
            ),
        ]
        if candidate.rank == 1:
            blocks.append(
                Block(
                    "p",
                    "Sous réserve de la levée de cette condition, vous disposez d'un délai de "
                    "dix jours à compter de la réception de la présente proposition pour nous "
                    "faire connaître votre acceptation ou votre refus (article R441-10 du code "
                    "de la construction et de l'habitation). Le défaut de réponse dans ce délai "
                    "équivaut à un refus.",
                )
            )
        else:
            blocks.append(
                Block(
                    "p",
                    "Le logement vous sera proposé si le ou les candidats classés avant vous le "
                    "refusent ou ne peuvent en bénéficier ; vous disposerez alors d'un délai de "
                    "dix jours à compter de la réception de cette proposition pour y répondre.",
                )
            )
    elif kind in ("non_attribution", "inadmissible"):
        verdict = (
            "de ne pas vous attribuer ce logement"
            if kind == "non_attribution"
            else "de rejeter votre candidature comme irrecevable"
        )
        blocks += [
            Block(
                "p",
                "Nous avons le regret de vous informer que la commission a décidé "
                f"{verdict}, pour le ou les motifs suivants :",
            ),
            Block("ul", items=candidate.reasons or ("Motif non précisé",)),
            Block(
                "p",
                "Cette décision ne concerne que le logement désigné ci-dessus : votre demande de "
                "logement social reste enregistrée et pourra être présentée pour d'autres "
                "logements. Pensez à la mettre à jour si votre situation change et à la "
                "renouveler chaque année.",
            ),
            *_appeal(c.agency, dalo),
        ]
    else:  # referred
        blocks += [
            Block(
                "p",
                "Ce logement a été renvoyé à la prochaine séance présentielle de la commission "
                f"({referral_reason_label(section)}). Aucune décision n'a donc été prise sur "
                "votre candidature lors de la séance numérique.",
            ),
            Block(
                "p",
                "Votre dossier sera examiné lors de cette prochaine séance présentielle ; la "
                "décision de la commission vous sera notifiée par écrit à son issue. Vous "
                "n'avez aucune démarche à accomplir ; si votre situation a changé, nous vous "
                "remercions de nous en informer et de mettre à jour votre demande.",
            ),
        ]
    return tuple(blocks)


def build_letters(app: CaleolApplication, commission_id: UUID) -> list[Letter]:
    """One letter per candidate of every dwelling, in dwelling and candidate order."""
    minutes = build_minutes(app, commission_id)
    commission = app.commission(commission_id)
    c = minutes.content.commission
    date_line = f"Le {fr_date(c.closed_at)}"
    letters = []
    for section in minutes.content.dwellings:
        for candidate in section.candidates:
            stored = commission.candidates[candidate.candidate_id]
            file = app.vault.open(stored["applicant_ref"], stored["sealed_file"])
            erased = file is None
            numero = ERASED if file is None else file.numero_unique
            dalo = file is not None and "dalo" in file.priority_flags
            kind = _kind(section, candidate)
            blocks = _body(minutes, section, candidate, kind, numero, dalo)
            if erased:
                blocks = (
                    Block(
                        "p",
                        lead="Avertissement :",
                        text="les données personnelles de ce candidat ont été "
                        "effacées ; ce courrier ne peut pas lui être adressé en l'état.",
                    ),
                    *blocks,
                )
            address = section.description.get("address")
            letters.append(
                Letter(
                    name=f"lettre_{section.id}_candidat-{candidate.number:02d}",
                    kind=kind,
                    dwelling_id=section.id,
                    candidate_number=candidate.number,
                    erased=erased,
                    sender=(
                        c.agency,
                        "Service des attributions",
                    ),
                    recipient=(_applicant_name(file), f"Numéro unique : {numero}"),
                    date_line=date_line,
                    references=(
                        ("Commission", c.title),
                        ("Logement", f"{section.id}" + (f" — {address}" if address else "")),
                        ("Candidature", f"n°{NBSP}{candidate.number} sur ce logement"),
                    ),
                    subject=SUBJECTS[kind],
                    salutation=SALUTATION,
                    blocks=blocks,
                    closing=CLOSING,
                    signature=(
                        "Pour le bailleur,",
                        "le service des attributions",
                        c.agency,
                    ),
                    minutes_sha256=minutes.digest,
                    commission_title=c.title,
                    agency_id=c.agency,
                    created=c.closed_at,
                )
            )
    return letters


# -------------------------------------------------------------------------------- rendering


def letter_html(letter: Letter) -> bytes:
    template = environment().get_template("letter.html.j2")
    return template.render(letter=letter).encode()


def letter_pdf(letter: Letter) -> bytes:
    from projections.pdf import CaleolPDF

    pdf = CaleolPDF(
        header_title="Commission d'attribution des logements et d'examen de l'occupation des "
        "logements (CALEOL)",
        header_subtitle=f"{letter.commission_title} — {letter.agency_id}",
        footer_lines=(
            f"Décision issue du procès-verbal — empreinte SHA-256 : {letter.minutes_sha256}",
        ),
        created=datetime.fromisoformat(letter.created),
        title=letter.subject.removeprefix("Objet : ").capitalize(),
        author=letter.agency_id,
        subject=letter.subject,
        mono_footer=False,
    )
    width, size = pdf.width, 9.5
    right = pdf.l_margin + width * 0.55
    pdf.set_font("sans", "B", 10)
    for i, line in enumerate(letter.sender):
        if i == 1:
            pdf.set_font("sans", "", size)
        pdf.cell(width, 4.8, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_font("sans", "", 10)
    for line in letter.recipient:
        pdf.set_x(right)
        pdf.multi_cell(width * 0.45, 5, line, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_x(right)
    pdf.set_font("sans", "", size)
    pdf.cell(width * 0.45, 5, letter.date_line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.facts(list(letter.references))
    pdf.para(letter.subject, size=10, bold=True)
    pdf.para(letter.salutation, size=size)
    for block in letter.blocks:
        if block.kind == "h":
            pdf.ln(1.5)
            pdf.label(block.text)
        elif block.kind == "ul":
            pdf.bullets(block.items, size=size)
        else:
            pdf.para(block.text, size=size, lead=block.lead)
    closing_height = 6 + 4 + 4.8 * len(letter.signature)
    if pdf.get_y() > pdf.page_break_trigger - closing_height:  # kept together on one page
        pdf.add_page()
    pdf.para(letter.closing, size=size)
    pdf.ln(4)
    pdf.set_font("sans", "", size)
    for line in letter.signature:
        pdf.set_x(right)
        pdf.multi_cell(width * 0.45, 4.8, line, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return pdf.bytes()


def render_letters(app: CaleolApplication, commission_id: UUID, fmt: str) -> dict[str, bytes]:
    """Every candidate's decision letter as ``html`` or ``pdf``: file name → bytes."""
    if fmt not in LETTER_FORMATS:
        raise ValueError(
            f"unknown letter format {fmt!r}; expected one of {', '.join(LETTER_FORMATS)}"
        )
    render = letter_html if fmt == "html" else letter_pdf
    return {f"{letter.name}.{fmt}": render(letter) for letter in build_letters(app, commission_id)}


def letters_by_kind(letters: list[Letter]) -> Mapping[str, int]:
    counts: dict[str, int] = {}
    for letter in letters:
        counts[letter.kind] = counts.get(letter.kind, 0) + 1
    return dict(sorted(counts.items()))
