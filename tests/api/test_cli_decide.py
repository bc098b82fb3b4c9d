"""`caleol decide`: JSON case on stdin, decision JSON on stdout, one-line errors with exit 2."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.cli import main

GOOD: dict[str, Any] = {
    "rules": {"method": "schulze", "quorum": "half", "max_proxies_per_holder": 1},
    "dwelling": {"id": "lgt-042", "commune": "69123", "contingent": "action_logement"},
    "candidates": [
        {"id": "c1", "missing_documents": []},
        {"id": "c2", "missing_documents": ["avis d'imposition"]},
        {"id": "c3"},
    ],
    "members": [
        {"id": "m1", "role": "mayor", "commune": "69123", "vote": "deliberative"},
        {"id": "b1", "role": "board", "vote": "deliberative"},
        {"id": "b2", "role": "tenant_representative", "vote": "deliberative"},
        {"id": "p1", "role": "prefecture", "vote": "deliberative"},
        {
            "id": "r1",
            "role": "reservation_holder",
            "vote": "consultative",
            "contingent": "action_logement",
        },
    ],
    "proxies": [{"from": "b2", "to": "b1"}],
    "ballots": [
        {"member": "m1", "on_behalf_of": None, "ranking": ["c2", "c1", "c3"]},
        {"member": "b1", "ranking": ["c1", "c2"], "non_attribution": {"c3": "typologie"}},
        {
            "member": "b1",
            "on_behalf_of": "b2",
            "ranking": ["c2", "c1"],
            "inadmissible": {"c3": "plafond de ressources dépassé"},
        },
    ],
    "referrals": [],
}

EXPECTED = {
    "dwelling": "lgt-042",
    "status": "decided",
    "referral_reason": None,
    "referrals": [],
    "quorum": {"required": 2, "cast": 3},
    "ranking": ["c2", "c1"],
    "decisions": {
        "c1": {
            "decision": "attribution",
            "rank": 2,
            "reasons": [],
            "missing_documents": [],
            "condition_deadline_days": None,
        },
        "c2": {
            "decision": "attribution_conditional",
            "rank": 1,
            "reasons": ["avis d'imposition"],
            "missing_documents": ["avis d'imposition"],
            "condition_deadline_days": 10,
        },
        "c3": {
            "decision": "non_attribution",
            "rank": None,
            "reasons": ["typologie"],
            "missing_documents": [],
            "condition_deadline_days": None,
        },
    },
    "casting_vote_used": False,
    "method": "schulze",
    "method_version": "1",
}


def run(data: Any) -> Any:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return CliRunner().invoke(main, ["decide"], input=raw)


def stderr_of(result: Any) -> str:
    return str(result.stderr)


def test_good_case() -> None:
    result = run(GOOD)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == EXPECTED
    # sorted keys, indented, byte-identical across runs
    assert result.stdout.startswith('{\n  "casting_vote_used"')
    assert run(GOOD).stdout == result.stdout


def test_minimal_case_with_defaults() -> None:
    data = {
        "dwelling": {"id": "d", "commune": "01001"},
        "candidates": [{"id": "a"}, {"id": "b"}],
        "members": [
            {"id": "x", "role": "board", "vote": "deliberative"},
            {"id": "y", "role": "board", "vote": "deliberative"},
        ],
        "ballots": [{"member": "x", "ranking": ["b", "a"]}],
    }
    result = run(data)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["status"], out["ranking"], out["method"]) == ("decided", ["b", "a"], "schulze")


def test_referral_and_borda() -> None:
    data = copy.deepcopy(GOOD)
    data["rules"]["method"] = "borda"
    out = json.loads(run(data).stdout)
    assert (out["method"], out["status"]) == ("borda", "decided")
    data["referrals"] = [{"member": "p1", "reason": "à voir en séance"}]
    out = json.loads(run(data).stdout)
    assert (out["status"], out["referral_reason"]) == ("referred", "member_request")
    assert out["referrals"] == [{"member": "p1", "reason": "à voir en séance"}]
    assert out["decisions"] == {}


def test_casting_vote_through_the_cli() -> None:
    data = copy.deepcopy(GOOD)
    data["ballots"] = [
        {"member": "m1", "ranking": ["c2", "c1", "c3"]},
        {"member": "b1", "ranking": ["c1", "c2", "c3"]},
    ]
    out = json.loads(run(data).stdout)
    assert out["ranking"] == ["c2", "c1", "c3"]
    assert out["casting_vote_used"] is True


def mutate(path: list[Any], value: Any) -> dict[str, Any]:
    """A copy of GOOD with the value at ``path`` replaced (or deleted when value is ...)."""
    data = copy.deepcopy(GOOD)
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


BAD_CASES: list[tuple[str, Any, str]] = [
    ("malformed", b'{"dwelling": ', "malformed JSON"),
    ("empty", b"", "malformed JSON"),
    ("not an object", b"[1, 2]", "input must be a JSON object"),
    ("unknown top key", mutate(["surprise"], 1), "unknown key 'surprise'"),
    ("missing dwelling", mutate(["dwelling"], ...), "missing key 'dwelling'"),
    (
        "unknown member in ballot",
        mutate(["ballots", 1, "member"], "m9"),
        "unknown member 'm9' in ballot 2",
    ),
    (
        "ballot without rights",
        mutate(["members", 0, "commune"], "75056"),
        "member 'm1' has no vote on dwelling 'lgt-042' in ballot 1",
    ),
    (
        "consultative ballot",
        mutate(["ballots", 0, "member"], "r1"),
        "member 'r1' is not a voting member in ballot 1",
    ),
    (
        "duplicate candidate",
        mutate(["ballots", 0, "ranking"], ["c2", "c1", "c2", "c3"]),
        "candidate 'c2' ranked twice in ballot 1",
    ),
    (
        "incomplete ballot",
        mutate(["ballots", 0, "ranking"], ["c2", "c1"]),
        "'c3' neither ranked nor marked",
    ),
    (
        "ranked and marked",
        mutate(["ballots", 1, "non_attribution"], {"c1": "x", "c3": "y"}),
        "'c1' both ranked and marked non_attribution in ballot 2",
    ),
    (
        "empty reason",
        mutate(["ballots", 1, "non_attribution"], {"c3": ""}),
        "non_attribution['c3'] must not be empty",
    ),
    (
        "unknown candidate",
        mutate(["ballots", 0, "ranking"], ["c2", "c1", "c3", "c7"]),
        "unknown candidate 'c7' in ballot 1",
    ),
    (
        "proxy not held",
        mutate(["proxies"], []),
        "member 'b1' holds no proxy from 'b2' in ballot 3",
    ),
    (
        "chained proxy",
        mutate(["proxies"], [{"from": "b2", "to": "b1"}, {"from": "b1", "to": "p1"}]),
        "proxies cannot be chained",
    ),
    (
        "too many proxies",
        mutate(["proxies"], [{"from": "b2", "to": "b1"}, {"from": "p1", "to": "b1"}]),
        "more than the 1 allowed",
    ),
    (
        "reservation holder deliberative",
        mutate(["members", 4, "vote"], "deliberative"),
        "member 'r1' is a reservation_holder",
    ),
    ("unknown role", mutate(["members", 1, "role"], "king"), "member 2.role must be one of"),
    ("wrong type ranking", mutate(["ballots", 0, "ranking"], "c1"), "must be a JSON array"),
    ("wrong type id", mutate(["candidates", 0, "id"], 7), "candidate 1.id must be a string"),
    ("wrong type member", mutate(["members", 0], "m1"), "member 1 must be a JSON object"),
    ("unknown method", mutate(["rules", "method"], "condorcet"), "unknown decision method"),
    ("float quorum", mutate(["rules", "quorum"], 2.5), "quorum must be"),
    ("unknown rule", mutate(["rules", "speed"], 3), "unknown rule(s): speed"),
    ("bad proxy limit", mutate(["rules", "max_proxies_per_holder"], 0), "max_proxies"),
    ("no candidates", mutate(["candidates"], []), "has no candidate"),
    (
        "duplicate proxy",
        mutate(["proxies"], [{"from": "b2", "to": "b1"}, {"from": "b2", "to": "p1"}]),
        "gives more than one proxy",
    ),
    (
        "referral without rights",
        mutate(["referrals"], [{"member": "r1", "reason": "x"}]),
        "not a voting member in referral 1",
    ),
    ("duplicate member", mutate(["members", 1, "id"], "m1"), "member 'm1' listed twice"),
    (
        "multi-line message",
        mutate(["ballots", 0, "member"], "a\nb"),
        "unknown member 'a\\nb' in ballot 1",
    ),
]


@pytest.mark.parametrize(("label", "data", "message"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_invalid_input_exits_2_with_one_line(label: str, data: Any, message: str) -> None:
    result = run(data)
    assert result.exit_code == 2, (label, result.output)
    assert result.stdout == ""
    err = stderr_of(result)
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("caleol decide: "), err
    assert message in err, err
    assert "Traceback" not in err


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    ["id", "member", "ranking", "dwelling", "candidates", "members", "x"]
                ),
                children,
                max_size=4,
            )
        ),
        max_leaves=12,
    )
)
def test_random_json_never_crashes(data: Any) -> None:
    result = run(data)
    assert result.exit_code in (0, 2)
    if result.exit_code == 2:
        assert stderr_of(result).count("\n") == 1
        assert "internal error" not in stderr_of(result)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += _paths(child, (*prefix, i))
    return found


GOOD_PATHS = _paths(GOOD)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["", "c1", "m1", "b2", "x"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["c1", "c3", "id", "from"]), children, max_size=2)
    ),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(GOOD_PATHS), JSON_VALUES)
def test_any_corrupted_field_is_reported_not_crashed(path: tuple[Any, ...], value: Any) -> None:
    result = run(mutate(list(path), value))
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        err = stderr_of(result)
        assert err.count("\n") == 1 and err.startswith("caleol decide: ")
        assert "internal error" not in err, err
    else:
        assert json.loads(result.stdout)["dwelling"]


def test_help_lists_decide() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "decide" in result.output


def _caleol() -> list[str]:
    script = Path(sys.executable).parent / "caleol"
    if script.exists():
        return [str(script)]
    found = shutil.which("caleol")
    if found:
        return [found]
    return [sys.executable, "-c", "from api.cli import main; main()"]


def test_real_process() -> None:
    ok = subprocess.run(
        [*_caleol(), "decide"], input=orjson.dumps(GOOD), capture_output=True, timeout=60
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == EXPECTED
    bad = subprocess.run(
        [*_caleol(), "decide"],
        input=orjson.dumps(mutate(["ballots", 1, "member"], "m9")),
        capture_output=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert bad.stdout == b""
    assert bad.stderr.decode() == "caleol decide: unknown member 'm9' in ballot 2\n"
