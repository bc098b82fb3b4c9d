"""Opening the application on a database URL: recorders, signing keys and the applicant vault."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from ledger.application import CaleolApplication, Clock, IdSource, random_ids, wall_clock
from ledger.config import database_url, environment_for, parse_database_url
from ledger.key_table import PostgresKeyTable, SQLiteKeyTable
from ledger.keys import KeyStore
from ledger.vault import ApplicantVault, KeyTable

LOOKUP_SECRET_FILE = "vault-lookup.secret"


def lookup_secret(key_dir: Path) -> bytes:
    """The secret that turns a numéro unique into a lookup code; generated once, mode 0600."""
    path = key_dir / LOOKUP_SECRET_FILE
    if not path.exists():
        key_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
    return path.read_bytes()


def key_table_for(url: str) -> KeyTable:
    db = parse_database_url(url)
    if db.kind == "sqlite":
        return SQLiteKeyTable(db.path)
    return PostgresKeyTable(
        f"host={db.host} port={db.port} dbname={db.dbname} user={db.user}"
        + (f" password={db.password}" if db.password else "")
    )


def open_application(
    url: str | None = None,
    *,
    clock: Clock = wall_clock,
    ids: IdSource = random_ids,
    data_keys: Callable[[str], bytes] | None = None,
    create: bool = True,
) -> CaleolApplication:
    url = database_url(url)
    keys = KeyStore.from_env()
    env = environment_for(url, key_dir=keys.directory, create=create)
    vault = ApplicantVault(
        key_table_for(url), lookup_secret=lookup_secret(keys.directory), key_source=data_keys
    )
    return CaleolApplication(env=env, clock=clock, ids=ids, vault=vault)
