"""Signed ledger vs plain eventsourcing 9.5.6 on the same kind of store.

``run(url, n)`` measures, on two scratch databases beside ``url`` (``<name>-bench-plain`` and
``<name>-bench-ledger``, recreated, then removed: the store at ``url`` is never touched):

- append, 1 event per transaction (n events) and in batches of 50 (n events);
- reading back one 5,000-event stream through the repository;
- verifying the whole signed ledger (ours only), and the machine's raw Ed25519 verify rate
  (one core, and times the usable cores).

Keys ending in ``_per_s`` are events (or verifications) per second. Usage:
``python -m bench.ledger_bench [URL] [N]``; `suite` runs it on SQLite and PostgreSQL for
``python -m bench``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from psycopg import sql

from ledger.config import database_url, environment_for, open_recorder, parse_database_url
from ledger.keys import StaticSigners, signer_from_seed
from ledger.verify import verify_ledger

STREAM_LENGTH = 5000
BATCH = 50
ACTOR: dict[str, Any] = {"id": "staff:bench", "role": "staff", "on_behalf_of": None}


class BenchNote(Aggregate):
    def __init__(self, title: str, actor: dict[str, Any]) -> None:
        self.title = title
        self.count = 0

    @event("Edited")
    def edit(self, line: str, ranking: list[str], amount_cents: int, actor: dict[str, Any]) -> None:
        self.count += 1


class BenchApp(Application[UUID]):
    name = "bench"


def _edit(note: BenchNote, i: int) -> None:
    note.edit(line=f"edit {i}", ranking=["a", "b", "c"], amount_cents=i, actor=ACTOR)


def _rate(count: int, action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return count / (time.perf_counter() - start)


def _append_one_per_txn(app: BenchApp, n: int) -> float:
    note = BenchNote(title="single", actor=ACTOR)
    app.save(note)

    def go() -> None:
        for i in range(n):
            _edit(note, i)
            app.save(note)

    return _rate(n, go)


def _append_batches(app: BenchApp, n: int) -> float:
    note = BenchNote(title="batched", actor=ACTOR)
    app.save(note)

    def go() -> None:
        for start in range(0, n, BATCH):
            for i in range(start, min(n, start + BATCH)):
                _edit(note, i)
            app.save(note)

    return _rate(n, go)


def _read_stream(app: BenchApp, repeats: int = 3) -> float:
    note = BenchNote(title="long", actor=ACTOR)
    for i in range(STREAM_LENGTH - 1):
        _edit(note, i)
        if i % 500 == 499:
            app.save(note)
    app.save(note)
    best = 0.0
    for _ in range(repeats):
        best = max(best, _rate(STREAM_LENGTH, lambda: app.repository.get(note.id)))
    return best


def ed25519_verify_rate(samples: int = 3000) -> float:
    """Raw single-core Ed25519 verifications per second (cryptography/OpenSSL)."""
    private = Ed25519PrivateKey.generate()
    public = private.public_key()
    message = os.urandom(32)
    signature = private.sign(message)

    def go() -> None:
        for _ in range(samples):
            public.verify(signature, message)

    return _rate(samples, go)


def sodium_verify_rate(samples: int = 6000) -> float:
    """Raw single-core Ed25519 verifications per second with libsodium, the verifier that
    ``verify`` uses: the honest bound for it."""
    from nacl.bindings import crypto_sign, crypto_sign_open, crypto_sign_seed_keypair

    public, secret = crypto_sign_seed_keypair(os.urandom(32))
    signed = crypto_sign(os.urandom(32), secret)

    def go() -> None:
        for _ in range(samples):
            crypto_sign_open(signed, public)

    return _rate(samples, go)


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextmanager
def _scratch_stores(url: str) -> Iterator[tuple[dict[str, str], str]]:
    """(plain eventsourcing env, ledger URL) on fresh scratch databases beside ``url``."""
    db = parse_database_url(url)
    if db.kind == "sqlite":
        if db.is_memory:
            plain_env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": db.path}
            yield plain_env, "sqlite:///:memory:"
            return
        base = Path(db.path)
        paths = [base.with_name(f"{base.stem}-bench-{kind}.db") for kind in ("plain", "ledger")]
        _remove_sqlite(paths)
        base.parent.mkdir(parents=True, exist_ok=True)
        try:
            plain_env = {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(paths[0]),
            }
            yield plain_env, f"sqlite:///{paths[1]}"
        finally:
            _remove_sqlite(paths)
        return
    names = [f"{db.dbname}_bench_plain", f"{db.dbname}_bench_ledger"]
    connect: dict[str, Any] = {
        "host": db.host,
        "port": db.port,
        "user": db.user,
        "password": db.password or None,
        "dbname": "postgres",
        "autocommit": True,
    }

    def recreate(create: bool) -> None:
        with psycopg.connect(**connect) as conn:
            for name in names:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
                if create:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    recreate(create=True)
    try:
        plain_env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": names[0],
            "POSTGRES_HOST": db.host,
            "POSTGRES_PORT": str(db.port),
            "POSTGRES_USER": db.user,
            "POSTGRES_PASSWORD": db.password,
        }
        password = f":{db.password}" if db.password else ""
        yield plain_env, f"postgresql://{db.user}{password}@{db.host}:{db.port}/{names[1]}"
    finally:
        recreate(create=False)


def _remove_sqlite(paths: list[Path]) -> None:
    for path in paths:
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)


def _measure(app: BenchApp, n: int, prefix: str, read_repeats: int) -> dict[str, float]:
    return {
        f"{prefix}_append_1_per_s": _append_one_per_txn(app, n),
        f"{prefix}_append_{BATCH}_per_s": _append_batches(app, n),
        f"{prefix}_read_{STREAM_LENGTH}_per_s": _read_stream(app, read_repeats),
    }


def run(
    url: str,
    n: int,
    *,
    machine: bool = True,
    read_repeats: int = 3,
    verify_workers: int | None = None,
) -> dict[str, float]:
    """Benchmark ``n`` appended events per mode; see the module docstring. ``machine``:
    also measure the raw Ed25519 verify rate (``ed25519_*`` and ``cores`` keys);
    ``read_repeats``: reads of the long stream (the best counts); ``verify_workers``: as for
    `verify_ledger` (default: all cores)."""
    if n < 1:
        raise ValueError("n must be positive")
    results: dict[str, float] = {}
    with _scratch_stores(url) as (plain_env, ledger_url):
        plain = BenchApp(env=plain_env)
        try:
            results.update(_measure(plain, n, "plain", read_repeats))
        finally:
            plain.close()
        signers = StaticSigners(signer_from_seed(b"\x42" * 32))
        ledger = BenchApp(env=environment_for(ledger_url))
        ledger.recorder.signers = signers  # type: ignore[attr-defined]
        try:
            results.update(_measure(ledger, n, "ledger", read_repeats))
            if ledger_url.endswith(":memory:"):
                recorder: Any = ledger.recorder
                factory = None
            else:
                factory, recorder = open_recorder(ledger_url, create=False)
            try:
                start = time.perf_counter()
                verified = verify_ledger(recorder, workers=verify_workers)
                elapsed = time.perf_counter() - start
            finally:
                if factory is not None:
                    factory.close()
            if not verified.ok:
                raise RuntimeError(f"benchmark ledger does not verify: {verified.message}")
            results["ledger_verify_per_s"] = verified.entries_checked / elapsed
            results["ledger_verify_entries"] = float(verified.entries_checked)
        finally:
            ledger.close()
    if machine:
        results.update(_machine())
    return results


def _machine() -> dict[str, float]:
    # The bound is the fastest Ed25519 verifier on this machine (libsodium, which verify uses);
    # OpenSSL's rate is shown beside it.
    core_rate = max(sodium_verify_rate(), ed25519_verify_rate())
    return {
        "ed25519_verify_per_s_one_core": core_rate,
        "ed25519_openssl_verify_per_s_one_core": ed25519_verify_rate(),
        "cores": float(_cores()),
        "ed25519_verify_per_s_all_cores": core_rate * _cores(),
    }


SUITE_SQLITE_URL = "sqlite:///var/bench/ledger.db"  # scratch files beside it, removed after
SUITE_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/caleol_bench"
POSTGRES_URL_ENV = "CALEOL_BENCH_POSTGRES_URL"  # another database (e.g. one per test run)


def _postgres_reachable(url: str) -> bool:
    db = parse_database_url(url)
    try:
        with psycopg.connect(
            host=db.host,
            port=db.port,
            user=db.user,
            password=db.password or None,
            dbname="postgres",
            connect_timeout=3,
        ):
            return True
    except psycopg.OperationalError:
        return False


def suite(quick: bool) -> dict[str, float]:
    """For ``python -m bench``: `run` on SQLite and PostgreSQL, keys prefixed ``sqlite_`` /
    ``postgres_`` (the machine's Ed25519 rate and cores unprefixed). n = 5000 (500 if quick,
    which also reads the long stream once and verifies in one process). PostgreSQL: scratch
    databases beside `SUITE_POSTGRES_URL` (or ``$CALEOL_BENCH_POSTGRES_URL``), skipped with a
    message when the server is unreachable."""
    n = 500 if quick else 5000
    results: dict[str, float] = {}
    backends = [("sqlite", SUITE_SQLITE_URL)]
    postgres_url = os.environ.get(POSTGRES_URL_ENV) or SUITE_POSTGRES_URL
    if _postgres_reachable(postgres_url):
        backends.append(("postgres", postgres_url))
    else:
        print(f"ledger_bench: {postgres_url} unreachable, skipped", file=sys.stderr)
    for prefix, url in backends:
        # Quick (the smoke test): one read of the long stream, verify in this process.
        quick_args: dict[str, Any] = {"read_repeats": 1, "verify_workers": 1} if quick else {}
        for key, value in run(url, n, machine=False, **quick_args).items():
            results[f"{prefix}_{key}"] = value
    results.update(_machine())
    return results


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else database_url()
    n = int(argv[2]) if len(argv) > 2 else 2000
    print(json.dumps({k: round(v, 1) for k, v in run(url, n).items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
