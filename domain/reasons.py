"""Reason codes a member picks from when not ranking a candidate or referring a dwelling.

A reason is a code from these lists plus optional free text; codes keep the minutes and the
statistics comparable across commissions, the text keeps the member's own words.
"""

from __future__ import annotations

from typing import Any

from domain.errors import InvalidBallot, UnknownReasonCode

NON_ATTRIBUTION_REASONS: dict[str, str] = {
    "priority_to_other_candidates": "Priorité donnée à d'autres candidats",
    "household_size_mismatch": "Inadéquation de la taille du ménage au logement",
    "effort_rate_too_high": "Taux d'effort trop élevé",
    "reste_a_vivre_too_low": "Reste à vivre insuffisant",
    "accessibility_mismatch": "Logement inadapté (accessibilité, handicap)",
    "location_mismatch": "Localisation inadaptée aux besoins du ménage",
    "other": "Autre motif",
}

INADMISSIBLE_REASONS: dict[str, str] = {
    "resources_above_ceiling": "Ressources supérieures aux plafonds réglementaires",
    "irregular_residence": "Absence de titre de séjour régulier",
    "already_suitably_housed": "Ménage déjà propriétaire d'un logement adapté",
    "no_numero_unique": "Absence de numéro unique d'enregistrement",
    "other": "Autre motif d'irrecevabilité",
}

REFERRAL_REASONS: dict[str, str] = {
    "disputed_dwelling": "Logement faisant l'objet d'un désaccord",
    "file_needs_discussion": "Dossier nécessitant un examen en séance",
    "missing_information": "Informations manquantes",
    "other": "Autre motif",
}


def reason(codes: dict[str, str], value: Any) -> dict[str, str]:
    """Normalise a reason given as a code, "code: text", or {"code", "text"}; unknown codes fail."""
    if isinstance(value, str):
        code, _, text = value.partition(":")
        value = {"code": code.strip(), "text": text.strip()}
    if not isinstance(value, dict) or not isinstance(value.get("code"), str):
        raise InvalidBallot(f"a reason must be a code or {{code, text}}, not {value!r}")
    code = value["code"]
    text = value.get("text") or ""
    if not isinstance(text, str):
        raise InvalidBallot("a reason's text must be a string")
    if code not in codes:
        raise UnknownReasonCode(f"unknown reason code {code!r}; expected one of {sorted(codes)}")
    if code == "other" and not text.strip():
        raise InvalidBallot("reason 'other' needs an explanation")
    return {"code": code, "text": text.strip()}


def reason_label(codes: dict[str, str], value: dict[str, str]) -> str:
    """A one-line French label: the code's wording, then the member's own words."""
    label = codes.get(value["code"], value["code"])
    return f"{label} — {value['text']}" if value.get("text") else label
