"""``caleol decide``: decide one dwelling from a JSON case on stdin, print the decision as JSON.

Input (keys marked * optional)::

    {"rules"*: {"method": "schulze"|"borda", "quorum": "half"|<int>,
                "max_proxies_per_holder": 1, ...},
     "dwelling": {"id": "...", "commune": "<INSEE>", "contingent"*: "..."|null},
     "candidates": [{"id": "...", "missing_documents"*: ["..."]}],
     "members": [{"id": "...", "role": "mayor"|..., "commune"*: "...", "communes"*: ["..."],
                  "vote": "deliberative"|"consultative", "contingent"*: "..."|null,
                  "name"*: "..."}],
     "proxies"*: [{"from": "...", "to": "..."}],
     "ballots"*: [{"member": "...", "on_behalf_of"*: null|"...", "ranking": ["..."],
                   "non_attribution"*: {"<cand>": "<reason>"}, "inadmissible"*: {"<cand>": "..."}}],
     "referrals"*: [{"member": "...", "reason": "..."}]}

Exit 0 with the decision on stdout; exit 2 with one line on stderr when the input is unusable.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click
import orjson

from api.cli import main
from domain.decisions.case import CandidateFile, CaseBallot, CaseReferral, DwellingCase
from domain.decisions.decide import decide
from domain.errors import DomainError
from domain.members import DwellingScope, Member, Role, VoteType
from domain.rules import Rules

__all__ = ["CaseFormatError", "decide_command", "decision_json", "parse_case"]

PROG = "caleol decide"


class CaseFormatError(ValueError):
    """The JSON is well-formed but not a dwelling case."""


def _fail(message: str) -> NoReturn:
    raise CaseFormatError(message)


def _object(value: Any, where: str, required: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        _fail(f"{where} must be a JSON object, not {_type(value)}")
    missing = sorted(required - set(value))
    if missing:
        _fail(f"{where}: missing key {missing[0]!r}")
    unknown = sorted(set(value) - required - optional)
    if unknown:
        _fail(f"{where}: unknown key {unknown[0]!r}")
    return value


def _type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    return names.get(type(value), type(value).__name__)


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        _fail(f"{where} must be a string, not {_type(value)}")
    if not value.strip():
        _fail(f"{where} must not be empty")
    return value


def _opt_str(value: Any, where: str) -> str | None:
    return None if value is None else _str(value, where)


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        _fail(f"{where} must be a JSON array, not {_type(value)}")
    return value


def _str_list(value: Any, where: str) -> tuple[str, ...]:
    return tuple(_str(item, f"{where}[{i}]") for i, item in enumerate(_list(value, where)))


def _reasons(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        _fail(f"{where} must be a JSON object of candidate -> reason, not {_type(value)}")
    return {cand: _str(reason, f"{where}[{cand!r}]") for cand, reason in value.items()}


def _enum_value(enum: type[Role] | type[VoteType], value: Any, where: str) -> str:
    allowed = [item.value for item in enum]
    if not isinstance(value, str) or value not in allowed:
        _fail(f"{where} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _rules(value: Any) -> Rules:
    if value is None:
        return Rules()
    if not isinstance(value, dict):
        _fail(f"rules must be a JSON object, not {_type(value)}")
    for key in ("method", "version"):
        if key in value and not isinstance(value[key], str):
            _fail(f"rules.{key} must be a string, not {_type(value[key])}")
    days = value.get("condition_deadline_days", 0)
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        _fail(f"rules.condition_deadline_days must be a non-negative integer, not {days!r}")
    return Rules.from_json(value)


def _member(value: Any, where: str) -> Member:
    data = _object(
        value,
        where,
        {"id", "role", "vote"},
        {"commune", "communes", "contingent", "name"},
    )
    communes: set[str] = set()
    if data.get("commune") is not None:
        communes.add(_str(data["commune"], f"{where}.commune"))
    if data.get("communes") is not None:
        communes.update(_str_list(data["communes"], f"{where}.communes"))
    name = data.get("name", "")
    if not isinstance(name, str):
        _fail(f"{where}.name must be a string, not {_type(name)}")
    return Member(
        id=_str(data["id"], f"{where}.id"),
        role=Role(_enum_value(Role, data["role"], f"{where}.role")),
        vote=VoteType(_enum_value(VoteType, data["vote"], f"{where}.vote")),
        name=name,
        communes=frozenset(communes),
        contingent=_opt_str(data.get("contingent"), f"{where}.contingent"),
    )


def _proxies(value: Any) -> dict[str, str]:
    proxies: dict[str, str] = {}
    for i, item in enumerate(_list(value, "proxies"), start=1):
        where = f"proxy {i}"
        data = _object(item, where, {"from", "to"}, set())
        principal = _str(data["from"], f"{where}.from")
        if principal in proxies:
            _fail(f"member {principal!r} gives more than one proxy ({where})")
        proxies[principal] = _str(data["to"], f"{where}.to")
    return proxies


def _ballot(value: Any, where: str) -> CaseBallot:
    data = _object(
        value,
        where,
        {"member", "ranking"},
        {"on_behalf_of", "non_attribution", "inadmissible"},
    )
    return CaseBallot(
        member_id=_str(data["member"], f"{where}.member"),
        ranking=_str_list(data["ranking"], f"{where}.ranking"),
        non_attribution=_reasons(data.get("non_attribution"), f"{where}.non_attribution"),
        inadmissible=_reasons(data.get("inadmissible"), f"{where}.inadmissible"),
        on_behalf_of=_opt_str(data.get("on_behalf_of"), f"{where}.on_behalf_of"),
    )


def parse_case(raw: bytes) -> DwellingCase:
    """The case in ``raw`` (JSON bytes); raises CaseFormatError or a DomainError."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        _fail(f"malformed JSON: {exc}")
    data = _object(
        doc,
        "input",
        {"dwelling", "candidates", "members"},
        {"rules", "proxies", "ballots", "referrals"},
    )
    rules = _rules(data.get("rules"))
    dwelling = _object(data["dwelling"], "dwelling", {"id", "commune"}, {"contingent"})
    candidates = []
    for i, item in enumerate(_list(data["candidates"], "candidates"), start=1):
        cand = _object(item, f"candidate {i}", {"id"}, {"missing_documents"})
        candidates.append(
            CandidateFile(
                id=_str(cand["id"], f"candidate {i}.id"),
                missing_documents=_str_list(
                    cand.get("missing_documents", []), f"candidate {i}.missing_documents"
                ),
            )
        )
    members = [
        _member(item, f"member {i}")
        for i, item in enumerate(_list(data["members"], "members"), start=1)
    ]
    ballots = [
        _ballot(item, f"ballot {i}")
        for i, item in enumerate(_list(data.get("ballots", []), "ballots"), start=1)
    ]
    referrals = []
    for i, item in enumerate(_list(data.get("referrals", []), "referrals"), start=1):
        ref = _object(item, f"referral {i}", {"member", "reason"}, set())
        referrals.append(
            CaseReferral(
                member_id=_str(ref["member"], f"referral {i}.member"),
                reason=_str(ref["reason"], f"referral {i}.reason"),
            )
        )
    return DwellingCase(
        dwelling=DwellingScope(
            id=_str(dwelling["id"], "dwelling.id"),
            commune=_str(dwelling["commune"], "dwelling.commune"),
            contingent=_opt_str(dwelling.get("contingent"), "dwelling.contingent"),
        ),
        candidates=tuple(candidates),
        members=tuple(members),
        proxies=_proxies(data.get("proxies", [])),
        ballots=tuple(ballots),
        referrals=tuple(referrals),
        rules=rules,
    )


def decision_json(raw: bytes) -> bytes:
    """The `caleol decide` output for the case in ``raw``."""
    decision = decide(parse_case(raw))
    return orjson.dumps(decision.to_json(), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _report(ctx: click.Context, message: str) -> NoReturn:
    click.echo(f"{PROG}: {_one_line(message)}", err=True)
    ctx.exit(2)


@main.command("decide")
@click.pass_context
def decide_command(ctx: click.Context) -> None:
    """Decide one dwelling: read its case as JSON on stdin, print the decision as JSON.

    Exit 2 with a one-line message on stderr when the input is unusable.
    """
    stdin = sys.stdin
    raw = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode()
    try:
        output = decision_json(raw)
    except (CaseFormatError, DomainError) as exc:
        _report(ctx, str(exc))
    except RecursionError:
        _report(ctx, "input nested too deeply")
    except Exception as exc:  # never a traceback: report the unexpected on one line too
        _report(ctx, f"internal error ({type(exc).__name__}): {exc}")
    click.echo(output.decode())
