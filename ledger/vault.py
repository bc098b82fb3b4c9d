"""Per-applicant encryption of personal data (DESIGN §5).

Each applicant has a 256-bit data key kept outside the event tables. Files are sealed with
AES-GCM-SIV under that key; the ledger stores, hashes and signs only the ciphertext, so destroying
the key (right to erasure, end of retention) leaves the ledger verifiable and the data unreadable.

Determinism: the nonce is synthetic, HMAC-SHA256(key, plaintext) truncated to 96 bits, so the same
file under the same key always gives the same ciphertext (the demo is byte-identical on SQLite and
PostgreSQL). This is safe with AES-GCM-SIV, which is nonce-misuse resistant: a repeated nonce only
reveals that the same plaintext was sealed twice under the same key, which the synthetic nonce
reveals anyway; distinct plaintexts get distinct nonces except with negligible probability.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV

from domain.applicants import ApplicantFile

SEAL_PREFIX = "aes-gcm-siv:v1:"
ERASED = "[données effacées]"


class VaultError(Exception):
    pass


@dataclass(frozen=True)
class StoredKey:
    applicant_ref: str
    numero_lookup: str  # HMAC of the numéro unique under the vault's lookup secret
    key: bytes | None  # None once erased


class KeyTable(Protocol):
    """Where data keys live: never in the event tables."""

    def put(self, item: StoredKey) -> None: ...
    def get(self, applicant_ref: str) -> StoredKey | None: ...
    def find(self, numero_lookup: str) -> list[StoredKey]: ...
    def erase(self, applicant_ref: str) -> None: ...


class MemoryKeyTable:
    def __init__(self) -> None:
        self._items: dict[str, StoredKey] = {}
        self._lock = threading.Lock()

    def put(self, item: StoredKey) -> None:
        with self._lock:
            if item.applicant_ref not in self._items:
                self._items[item.applicant_ref] = item

    def get(self, applicant_ref: str) -> StoredKey | None:
        return self._items.get(applicant_ref)

    def find(self, numero_lookup: str) -> list[StoredKey]:
        return [i for i in self._items.values() if i.numero_lookup == numero_lookup]

    def erase(self, applicant_ref: str) -> None:
        with self._lock:
            item = self._items[applicant_ref]
            self._items[applicant_ref] = StoredKey(item.applicant_ref, item.numero_lookup, None)


class ApplicantVault:
    """Seals and opens applicant files; one data key per applicant (per numéro unique)."""

    def __init__(
        self,
        table: KeyTable,
        lookup_secret: bytes,
        key_source: Callable[[str], bytes] | None = None,
    ) -> None:
        self.table = table
        self._lookup_secret = lookup_secret
        # Deterministic key derivation for the demo; random keys otherwise.
        self._key_source = key_source or (lambda _ref: os.urandom(32))

    def lookup(self, numero_unique: str) -> str:
        return hmac.new(self._lookup_secret, numero_unique.encode(), hashlib.sha256).hexdigest()

    def ref_for(self, numero_unique: str, new_ref: Callable[[], str]) -> str:
        """The applicant's key reference: reused for the same numéro unique, unless erased."""
        for item in self.table.find(self.lookup(numero_unique)):
            if item.key is not None:
                return item.applicant_ref
        return new_ref()

    def seal(self, applicant_ref: str, file: ApplicantFile) -> str:
        stored = self.table.get(applicant_ref)
        if stored is None:
            stored = StoredKey(
                applicant_ref, self.lookup(file.numero_unique), self._key_source(applicant_ref)
            )
            self.table.put(stored)
        if stored.key is None:
            raise VaultError("this applicant's data key was erased")
        plaintext = orjson.dumps(file.to_json(), option=orjson.OPT_SORT_KEYS)
        nonce = hmac.new(stored.key, plaintext, hashlib.sha256).digest()[:12]
        aad = applicant_ref.encode()
        ciphertext = AESGCMSIV(stored.key).encrypt(nonce, plaintext, aad)
        return SEAL_PREFIX + base64.b64encode(nonce + ciphertext).decode()

    def open(self, applicant_ref: str, sealed: str) -> ApplicantFile | None:
        """The clear file, or None when its key was erased."""
        stored = self.table.get(applicant_ref)
        if stored is None or stored.key is None:
            return None
        if not sealed.startswith(SEAL_PREFIX):
            raise VaultError("not a sealed applicant file")
        raw = base64.b64decode(sealed[len(SEAL_PREFIX) :])
        try:
            plaintext = AESGCMSIV(stored.key).decrypt(raw[:12], raw[12:], applicant_ref.encode())
        except InvalidTag:
            raise VaultError("the sealed file does not decrypt under its data key") from None
        return ApplicantFile.from_json(orjson.loads(plaintext))

    def erase(self, numero_unique: str) -> list[str]:
        """Destroys every data key of this applicant; returns the erased key references."""
        erased = []
        for item in self.table.find(self.lookup(numero_unique)):
            if item.key is not None:
                self.table.erase(item.applicant_ref)
                erased.append(item.applicant_ref)
        return erased
