"""``make bench``: every benchmark in one run, one table, and ``var/bench.json`` (flat keys).

Each ``bench/*_bench.py`` module contributes through ``suite(quick: bool) -> dict[str, float]``;
figures are events (or operations) per second unless the key says otherwise (``_s`` seconds).
``CALEOL_BENCH_QUICK=1`` runs smaller sizes (used by the benchmark's own smoke test).
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

MODULES = (
    "bench.ledger_bench",
    "bench.merkle_bench",
    "bench.projections_bench",
    "bench.audit_bench",
)
OUT = Path("var/bench.json")


def main() -> int:
    quick = os.environ.get("CALEOL_BENCH_QUICK") == "1"
    results: dict[str, float] = {}
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:
                continue  # a benchmark not written yet
            raise
        started = time.perf_counter()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results.update(module.suite(quick))
        results[f"{name.split('.')[-1]}_wall_s"] = time.perf_counter() - started
    ratios = derived_ratios(results)
    results.update(ratios)
    print_table(results)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cores": os.cpu_count(),
        **{k: round(v, 4) for k, v in sorted(results.items())},
    }
    OUT.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    print(f"\nwritten to {OUT}")
    return 0


def derived_ratios(r: dict[str, float]) -> dict[str, float]:
    ratios = {}
    for db in ("sqlite", "postgres"):
        for op in ("append_1", "append_50", "read_5000"):
            plain, ours = r.get(f"{db}_plain_{op}_per_s"), r.get(f"{db}_ledger_{op}_per_s")
            if plain and ours:
                ratios[f"ratio_{db}_{op}"] = ours / plain
        verify, bound = r.get(f"{db}_ledger_verify_per_s"), r.get("ed25519_verify_per_s_all_cores")
        if verify and bound:
            ratios[f"ratio_{db}_verify_vs_ed25519_bound"] = verify / bound
    return ratios


def print_table(r: dict[str, float]) -> None:
    print(f"{'measure':58} {'value':>16}")
    print("-" * 75)
    for key in sorted(r):
        value = r[key]
        precise = key.startswith("ratio_") or (key.endswith("_s") and not key.endswith("_per_s"))
        shown = f"{value:,.3f}" if precise else f"{value:,.0f}"
        target = ""
        if key in ("ratio_sqlite_append_1", "ratio_postgres_append_1") or key.endswith(
            "verify_vs_ed25519_bound"
        ):
            target = "  (target ≥ 0.8)" + ("" if value >= 0.8 else "  SHORT")
        print(f"{key:58} {shown:>16}{target}")


if __name__ == "__main__":
    raise SystemExit(main())
