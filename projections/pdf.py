"""PDF rendering of the minutes and letters with fpdf2: deterministic bytes, Unicode fonts.

Every page carries a header (document title and commission) and a footer (ledger anchor, the
minutes' SHA-256 and "Page n / N"). The creation date is the commission's closing instant, the
producer is fixed and fpdf2's file identifier hashes the content, so the same events give the
same bytes.

Fonts: DejaVu Sans (regular, bold) and DejaVu Sans Mono, embedded as subsets so that accents and
typographic characters render. They come from the Debian package ``fonts-dejavu-core``
(``/usr/share/fonts/truetype/dejavu``); ``CALEOL_PDF_FONT_DIR`` names another directory holding
the same files.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from fontTools.subset import Options, Subsetter
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import TextEmphasis, XPos, YPos
from fpdf.fonts import FontFace

from projections.minutes import (
    NBSP,
    VOTE_LABELS,
    Minutes,
    anchor_lines,
    anchor_short,
    approval_text,
    closed_by_label,
    decision_label,
    dwelling_lines,
    dwelling_title,
    fr_datetime,
    fr_short,
    household_text,
    member_label,
    method_label,
    opinion_label,
    participation,
    plural,
    proxy_text,
    quorum_text,
    ranking_text,
    reasons_text,
    recomputation_text,
    referral_reason_label,
    role_label,
    rules_lines,
    tie_lines,
    voter_status,
)

__all__ = ["CaleolPDF", "FontNotFound", "font_dir", "minutes_pdf"]

FONT_FILES = {
    ("sans", ""): "DejaVuSans.ttf",
    ("sans", "B"): "DejaVuSans-Bold.ttf",
    ("mono", ""): "DejaVuSansMono.ttf",
}
FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/TTF",
    "/usr/local/share/fonts/dejavu",
    "/opt/homebrew/share/fonts/dejavu",
)
PRODUCER = "CALEOL Ledger"
NAVY = (31, 58, 95)
GREY = (90, 90, 90)
LIGHT = (227, 233, 241)
RULE = (160, 172, 190)
WHITE = (255, 255, 255)


class FontNotFound(RuntimeError):
    pass


#: The characters the embedded fonts keep: Latin (with Vietnamese and IPA), Greek, Cyrillic,
#: combining marks, punctuation, currency and common symbols. Loading the whole DejaVu fonts
#: (6,000 glyphs) into every document costs more than laying the letters out.
UNICODE_RANGES = (
    (0x0020, 0x007E),
    (0x00A0, 0x036F),
    (0x0370, 0x03FF),
    (0x0400, 0x04FF),
    (0x1E00, 0x1EFF),
    (0x2000, 0x206F),
    (0x20A0, 0x20CF),
    (0x2100, 0x214F),
    (0x2190, 0x21FF),
    (0x2200, 0x22FF),
    (0x25A0, 0x25FF),
    (0xFB00, 0xFB06),
)


def font_dir() -> Path:
    """The directory holding the DejaVu fonts (Debian package ``fonts-dejavu-core``)."""
    candidates = [os.environ.get("CALEOL_PDF_FONT_DIR", ""), *FONT_DIRS]
    for candidate in candidates:
        if candidate and all((Path(candidate) / f).is_file() for f in FONT_FILES.values()):
            return Path(candidate)
    raise FontNotFound(
        "the DejaVu fonts (DejaVuSans.ttf, DejaVuSans-Bold.ttf, DejaVuSansMono.ttf) were not "
        "found: install the Debian package fonts-dejavu-core or set CALEOL_PDF_FONT_DIR"
    )


@lru_cache(maxsize=1)
def embedded_fonts() -> dict[tuple[str, str], Path]:
    """The DejaVu fonts cut down to :data:`UNICODE_RANGES`, once per process (a private temporary
    directory removed at exit). fontTools' subsetting is deterministic, so are the bytes."""
    directory = font_dir()
    target = Path(tempfile.mkdtemp(prefix="caleol-fonts-"))
    atexit.register(shutil.rmtree, target, True)
    options = Options()
    options.layout_features = []
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.drop_tables = [*options.drop_tables, "FFTM"]
    unicodes = [u for low, high in UNICODE_RANGES for u in range(low, high + 1)]
    paths: dict[tuple[str, str], Path] = {}
    for key, name in FONT_FILES.items():
        font = TTFont(str(directory / name), recalcTimestamp=False)
        subsetter = Subsetter(options)
        subsetter.populate(unicodes=unicodes)
        subsetter.subset(font)
        paths[key] = target / name
        font.save(str(paths[key]))
    return paths


class CaleolPDF(FPDF):
    """An A4 document with a running header and a footer on every page."""

    def __init__(
        self,
        *,
        header_title: str,
        header_subtitle: str,
        footer_lines: Sequence[str],
        created: datetime,
        title: str,
        author: str,
        subject: str,
        mono_footer: bool = True,
    ) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.header_title = header_title
        self.header_subtitle = header_subtitle
        self.footer_lines = tuple(footer_lines)
        self.mono_footer = mono_footer
        for (family, style), path in embedded_fonts().items():
            if family != "mono":  # added on first use: letters seldom need it
                self.add_font(family, style, str(path))
        self.set_margins(18, 24, 18)
        footer_height = 8 + 3.6 * len(self.footer_lines)
        self.set_auto_page_break(True, margin=footer_height + 4)
        self.set_creation_date(created)
        self.set_producer(PRODUCER)
        self.set_creator(PRODUCER)
        self.set_title(title)
        self.set_author(author)
        self.set_subject(subject)
        self.set_lang("fr-FR")
        self.set_font("sans", "", 9.5)
        self.add_page()

    def set_font(
        self, family: str | None = None, style: str | TextEmphasis = "", size: float = 0
    ) -> None:
        if family == "mono" and "mono" not in self.fonts:
            self.add_font("mono", "", str(embedded_fonts()[("mono", "")]))
        super().set_font(family, style, size)

    # ---------------------------------------------------------------- page furniture
    def _fit(self, text: str, width: float) -> str:
        if self.get_string_width(text) <= width:
            return text
        while text and self.get_string_width(text + "…") > width:
            text = text[:-1]
        return text.rstrip() + "…"

    def header(self) -> None:
        width = self.w - self.l_margin - self.r_margin
        self.set_y(9)
        self.set_text_color(*NAVY)
        self.set_font("sans", "B", 8.5)
        self.cell(
            width, 4.2, self._fit(self.header_title, width), new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        self.set_text_color(*GREY)
        self.set_font("sans", "", 7.5)
        self.cell(
            width, 3.8, self._fit(self.header_subtitle, width), new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        self.set_draw_color(*NAVY)
        self.set_line_width(0.4)
        self.line(self.l_margin, 18.5, self.w - self.r_margin, 18.5)
        self._reset()
        self.set_y(self.t_margin)
        self.set_font("sans", "", 9.5)

    def footer(self) -> None:
        width = self.w - self.l_margin - self.r_margin
        lines = len(self.footer_lines)
        self.set_y(-(8 + 3.6 * lines))
        self.set_draw_color(*LIGHT)
        self.set_line_width(0.3)
        self.line(self.l_margin, self.get_y() - 1, self.w - self.r_margin, self.get_y() - 1)
        self.set_text_color(*GREY)
        for line in self.footer_lines:
            mono = self.mono_footer and _is_technical(line)
            self.set_font("mono" if mono else "sans", "", 6.5)
            self.cell(width, 3.6, self._fit(line, width), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("sans", "", 7.5)
        self.cell(
            width,
            4,
            f"Page {self.page_no()} / {{nb}}",
            align="R",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        self._reset()

    # ---------------------------------------------------------------- content
    def _reset(self) -> None:
        self.set_text_color(0, 0, 0)
        self.set_draw_color(*RULE)
        self.set_fill_color(*WHITE)
        self.set_line_width(0.2)

    @property
    def width(self) -> float:
        return self.w - self.l_margin - self.r_margin

    def h1(self, text: str) -> None:
        self.set_font("sans", "B", 14)
        self.set_text_color(*NAVY)
        self.multi_cell(self.width, 6.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0, 0, 0)
        self.ln(1.5)

    def h2(self, text: str) -> None:
        if self.get_y() > self.page_break_trigger - 25:
            self.add_page()
        self.ln(3)
        self.set_font("sans", "B", 11.5)
        self.set_text_color(*NAVY)
        self.multi_cell(self.width, 5.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(*LIGHT)
        self.set_line_width(0.3)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self._reset()
        self.ln(1.5)

    def h3(self, text: str) -> None:
        if self.get_y() > self.page_break_trigger - 40:
            self.add_page()
        self.ln(2)
        self.set_font("sans", "B", 10)
        self.set_fill_color(*LIGHT)
        self.multi_cell(
            self.width, 5.2, text, fill=True, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        self._reset()
        self.ln(1)

    def label(self, text: str) -> None:
        if self.get_y() > self.page_break_trigger - 12:
            self.add_page()
        self.set_font("sans", "B", 9.5)
        self.multi_cell(self.width, 4.8, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def para(
        self,
        text: str,
        *,
        size: float = 9.5,
        bold: bool = False,
        mono: bool = False,
        lead: str = "",
    ) -> None:
        if lead:  # a few words in bold, then the text flowing after them
            self.set_font("sans", "B", size)
            self.write(size * 0.5, lead + " ")
            self.set_font("sans", "", size)
            self.write(size * 0.5, text)
            self.ln(size * 0.5)
            self.ln(1.2)
            return
        self.set_font("mono" if mono else "sans", "B" if bold else "", size)
        self.multi_cell(
            self.width, size * 0.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        self.ln(1.2)

    def bullets(self, items: Sequence[str], *, size: float = 9.5) -> None:
        self.set_font("sans", "", size)
        for item in items:
            self.set_x(self.l_margin + 3)
            self.cell(4, size * 0.5, "•")
            self.multi_cell(
                self.width - 7, size * 0.5, item, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
            )
        self.ln(1.2)

    def facts(self, lines: Sequence[tuple[str, str]], *, mono_values: bool = False) -> None:
        self.set_font("sans", "", 9)
        with self.table(
            col_widths=(33, 67),
            first_row_as_headings=False,
            borders_layout="NONE",
            cell_fill_mode="NONE",
            text_align="LEFT",
            v_align="TOP",
            line_height=4.4,
            padding=(0.4, 1, 0.4, 0),
        ) as table:
            for key, value in lines:
                row = table.row()
                row.cell(key, style=FontFace(emphasis="BOLD"))
                row.cell(value, style=FontFace(family="mono", size_pt=8) if mono_values else None)
        self.ln(1.5)

    def grid(
        self,
        headings: Sequence[str],
        rows: Sequence[Sequence[str]],
        widths: Sequence[float],
        *,
        size: float = 8,
    ) -> None:
        self.set_font("sans", "", size)
        with self.table(
            col_widths=tuple(widths),
            text_align="LEFT",
            v_align="TOP",
            line_height=size * 0.47,
            padding=(0.8, 1.2, 0.8, 1.2),
            headings_style=FontFace(emphasis="BOLD", fill_color=LIGHT),
            borders_layout="ALL",
            cell_fill_mode="NONE",
        ) as table:
            table.row(list(headings))
            for values in rows:
                table.row(list(values))
        self.ln(1.5)

    def bytes(self) -> bytes:
        return bytes(self.output())


def _is_technical(line: str) -> bool:
    return "SHA-256" in line or "Ancrage" in line


# --------------------------------------------------------------------------- the minutes


def _created(minutes: Minutes) -> datetime:
    return datetime.fromisoformat(minutes.content.commission.closed_at)


def minutes_pdf(minutes: Minutes) -> bytes:
    content = minutes.content
    c = content.commission
    digest = minutes.digest
    pdf = CaleolPDF(
        header_title="Procès-verbal de la commission d'attribution des logements (CALEOL)",
        header_subtitle=f"{c.title} — {c.agency}",
        footer_lines=(
            anchor_short(minutes.anchor),
            f"Empreinte SHA-256 du procès-verbal : {digest}",
        ),
        created=_created(minutes),
        title=f"Procès-verbal — {c.title}",
        author=c.agency,
        subject="Procès-verbal de la commission d'attribution des logements et d'examen de "
        "l'occupation des logements",
    )
    pdf.h1(
        "Procès-verbal de la commission d'attribution des logements et d'examen de "
        "l'occupation des logements (CALEOL)"
    )
    pdf.para(c.title, size=10.5, bold=True)

    pdf.h2("1. Informations générales")
    pdf.facts(
        [
            ("Bailleur / agence", c.agency),
            ("Commission", c.title),
            ("Identifiant", c.id),
            (
                "Mode",
                f"{c.mode} (délibération écrite à distance, ordonnance n° 2014-1329 "
                "du 6 novembre 2014)",
            ),
            ("Convocation adressée le", fr_datetime(c.convened_at)),
            (
                "Période de délibération",
                f"du {fr_datetime(c.opens_at)} au {fr_datetime(c.closes_at)} (heure de Paris)",
            ),
            (
                "Ouverture",
                fr_datetime(c.opened_at)
                + (f", {closed_by_label(c.opened_by)}" if c.opened_by else ""),
            ),
            ("Clôture", f"{fr_datetime(c.closed_at)}, {closed_by_label(c.closed_by)}"),
            ("Méthode de classement", f"{method_label(c.method)} (version {c.method_version})"),
        ]
    )

    pdf.h2("2. Règlement intérieur")
    pdf.facts(rules_lines(c.rules))

    s = content.summary
    pdf.h2("3. Membres convoqués et participation")
    pdf.para(
        f"{s.members_convened} membres convoqués, dont {s.voting_members} à voix délibérative "
        f"et {s.consultative_members} à voix consultative ; {s.members_logged_in} se sont "
        f"connectés ; {s.members_voted} ont voté, personnellement ou par pouvoir."
    )
    pdf.grid(
        [
            "Membre",
            "Qualité",
            "Voix",
            "1re connexion",
            "Dossiers consultés",
            "Participation",
            "Pouvoir",
        ],
        [
            [
                mb.name,
                role_label(mb),
                VOTE_LABELS[mb.vote],
                fr_short(mb.first_login) if mb.first_login else "non connecté",
                str(mb.files_consulted),
                participation(mb),
                proxy_text(minutes, mb),
            ]
            for mb in content.members
        ],
        (17, 20, 11, 11, 12, 17, 13),
        size=7.2,
    )
    pdf.label("Pouvoirs")
    proxies = [
        f"{member_label(minutes, p.principal)} a donné pouvoir à "
        f"{member_label(minutes, p.holder)} le {fr_datetime(p.given_at)}"
        + (
            f" ; pouvoir révoqué le {fr_datetime(p.revoked_at)}"
            if p.revoked_at
            else " ; pouvoir en vigueur à la clôture"
            if p.in_force_at_closing
            else ""
        )
        + "."
        for p in content.proxies
    ]
    pdf.bullets(proxies or ["Aucun pouvoir n'a été donné."])

    pdf.h2("4. Examen des logements")
    pdf.para(
        f"{s.dwellings} logements examinés : {s.dwellings_decided} ayant fait l'objet d'une "
        f"décision, {plural(s.dwellings_referred, 'renvoyé', 'renvoyés')} en séance "
        f"présentielle ; {s.candidates} candidatures."
    )
    for index, d in enumerate(content.dwellings, start=1):
        pdf.h3(f"4.{index}. {dwelling_title(d)}")
        pdf.facts([*dwelling_lines(d), ("Quorum", quorum_text(d))])
        if d.status == "referred":
            pdf.set_text_color(150, 70, 0)
            pdf.para(
                "Renvoi en séance présentielle : le logement est renvoyé à la prochaine séance "
                f"présentielle de la commission ({referral_reason_label(d)}) ; aucune décision "
                "n'est prise sur ses candidats.",
                bold=True,
            )
            pdf.set_text_color(0, 0, 0)
        pdf.label("Membres à voix délibérative ayant voix sur ce logement")
        pdf.bullets(
            [f"{member_label(minutes, v.member)} : {voter_status(minutes, v)}" for v in d.voters],
            size=8.5,
        )
        rows = []
        for cand in d.candidates:
            h = minutes.households[cand.candidate_id]
            rows.append(
                [
                    str(cand.number),
                    h.numero_unique,
                    household_text(h),
                    str(cand.cotation) if cand.cotation is not None else "—",
                    decision_label(cand),
                    reasons_text(cand),
                ]
            )
        pdf.grid(
            ["N°", "Numéro unique", "Ménage", "Cotation", "Décision", "Motifs et conditions"],
            rows,
            (5, 20, 21, 9, 20, 25),
            size=7.5,
        )
        if d.status == "decided":
            pdf.para(f"Classement retenu ({method_label(d.method)}) : {ranking_text(d)}.", size=9)
        ties = tie_lines(minutes, d)
        if ties:
            pdf.label("Égalités et voix prépondérante")
            pdf.bullets(ties, size=8.5)
        if d.referrals:
            pdf.label("Demandes de renvoi")
            pdf.bullets(
                [
                    f"{member_label(minutes, r.member)}"
                    + (f", le {fr_datetime(r.at)}" if r.at else "")
                    + f" : {r.reason}"
                    for r in d.referrals
                ],
                size=8.5,
            )
        if d.opinions:
            pdf.label("Avis consultatifs")
            pdf.bullets(
                [
                    f"{member_label(minutes, o.member)} ({fr_short(o.at)}) : "
                    f"{opinion_label(o.opinion)}"
                    + (f" sur le candidat n°{NBSP}{o.candidate}" if o.candidate else "")
                    + (f" — «{NBSP}{o.text}{NBSP}»" if o.text else "")
                    for o in d.opinions
                ],
                size=8.5,
            )
        if d.withdrawn:
            pdf.label("Candidatures retirées avant l'ouverture")
            pdf.bullets(
                [
                    f"Dossier {minutes.households[w.candidate_id].numero_unique} : {w.reason}"
                    for w in d.withdrawn
                ],
                size=8.5,
            )
        if not d.recomputed_matches:
            pdf.set_text_color(170, 0, 0)
        else:
            pdf.set_text_color(*GREY)
        pdf.para(recomputation_text(d), size=8)
        pdf.set_text_color(0, 0, 0)

    pdf.h2("5. Actes tardifs")
    if content.late:
        pdf.para(
            "Les actes suivants ont été enregistrés après la clôture du vote de leur auteur ; "
            "ils figurent au registre mais n'ont pas été pris en compte."
        )
        kinds = {"ballot": "Bulletin", "opinion": "Avis", "referral": "Demande de renvoi"}
        pdf.grid(
            ["Membre", "Nature", "Logement", "Horodatage", "Prise en compte"],
            [
                [
                    member_label(minutes, late.member)
                    + (
                        f" (pour {member_label(minutes, late.on_behalf_of)})"
                        if late.on_behalf_of
                        else ""
                    ),
                    kinds.get(late.kind, late.kind),
                    late.dwelling,
                    fr_short(late.at),
                    "non pris en compte (tardif)",
                ]
                for late in content.late
            ],
            (30, 15, 20, 15, 20),
        )
    else:
        pdf.para("Aucun acte tardif n'a été enregistré.")

    pdf.h2("6. Ancrage dans le registre et empreinte du procès-verbal")
    pdf.facts(
        [*anchor_lines(minutes.anchor), ("Empreinte SHA-256 du procès-verbal", digest)],
        mono_values=True,
    )
    pdf.set_text_color(*GREY)
    pdf.para(
        "L'empreinte est calculée sur le contenu JSON canonique du procès-verbal (format "
        f"{content.format}). Les données personnelles des candidats (numéro unique, composition "
        "du ménage) n'y sont reprises que par l'empreinte de leur dossier chiffré, de sorte que "
        "leur effacement laisse le procès-verbal vérifiable.",
        size=8.5,
    )
    pdf.set_text_color(0, 0, 0)

    pdf.h2("7. Approbation")
    approval = minutes.approval
    pdf.para(approval_text(minutes))
    if approval is not None:
        pdf.para("Empreinte approuvée :", size=9)
        pdf.para(approval.minutes_sha256, size=8, mono=True)
        pdf.para(
            "conforme au présent procès-verbal"
            if approval.matches
            else "NON CONFORME au présent procès-verbal",
            bold=True,
        )
    return pdf.bytes()
