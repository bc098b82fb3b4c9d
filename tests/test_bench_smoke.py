"""`make bench` (``python -m bench``) runs every benchmark and writes ``var/bench.json``.

Quick mode (``CALEOL_BENCH_QUICK=1``), in a temporary working directory: checks the
structure of the results (the keys the table and the ratios rely on, positive values), not
the speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
PG = "postgresql://postgres@127.0.0.1:5432/"

LEDGER_MEASURES = [
    f"{mode}_{measure}_per_s"
    for mode in ("plain", "ledger")
    for measure in ("append_1", "append_50", "read_5000")
] + ["ledger_verify_per_s", "ledger_verify_entries"]
RATIOS = ["append_1", "append_50", "read_5000", "verify_vs_ed25519_bound"]
MERKLE = [
    "merkle_leaves",
    "merkle_append_per_s",
    "merkle_inclusion_proof_per_s",
    "merkle_inclusion_verify_per_s",
    "merkle_consistency_proof_per_s",
    "merkle_consistency_verify_per_s",
    "merkle_checkpoint_sign_s",
    "merkle_checkpoint_verify_s",
]
MACHINE = ["cores", "ed25519_verify_per_s_one_core", "ed25519_verify_per_s_all_cores"]


def _postgres_up() -> bool:
    try:
        with psycopg.connect(PG + "postgres", connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def test_make_bench_quick_writes_the_expected_keys(tmp_path: Path) -> None:
    postgres = _postgres_up() or os.environ.get("CI") == "true"  # CI=true: PG is required
    scratch = f"caleol_bench_smoke_{os.getpid()}"  # its own scratch databases
    env = {
        **os.environ,
        "CALEOL_BENCH_QUICK": "1",
        "CALEOL_BENCH_POSTGRES_URL": PG + scratch,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-m", "bench"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "var" / "bench.json").read_text())

    backends = ["sqlite", "postgres"] if postgres else ["sqlite"]
    expected = [f"{db}_{key}" for db in backends for key in LEDGER_MEASURES]
    expected += [f"ratio_{db}_{ratio}" for db in backends for ratio in RATIOS]
    expected += MERKLE + MACHINE + ["ledger_bench_wall_s", "merkle_bench_wall_s"]
    missing = [key for key in expected if key not in results]
    assert not missing, f"missing keys: {missing}"
    not_positive = {key: results[key] for key in expected if not results[key] > 0}
    assert not not_positive, f"non-positive values: {not_positive}"
    assert results["merkle_leaves"] == 10_000
    assert results["sqlite_ledger_verify_entries"] > 5000  # the long stream is verified too
    assert "measure" in done.stdout and "written to var/bench.json" in done.stdout
    assert not list((tmp_path / "var" / "bench").glob("*.db"))  # scratch stores removed
