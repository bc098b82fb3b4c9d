"""Ed25519 signing keys: the on-disk key store, signers, and the ledger's key log.

Key id
    ``"ed25519:" + hex(SHA-256(raw 32-byte public key))[:16]`` (`key_id_for`).

Key store (`KeyStore`), a directory (``CALEOL_KEY_DIR``, default ``./var/keys``, mode 0700):
    ``ed25519-<fp>.pem``   private key, PEM PKCS#8, mode 0600, encrypted with
                           ``CALEOL_KEY_PASSPHRASE`` when set (BestAvailableEncryption);
    ``ed25519-<fp>.json``  ``{"key_id", "public_key" (hex), "created_at"}``;
    ``active``             the key id new entries are signed with.
    A key is generated on first use; `KeyStore.rotate` makes a new active key. Private key
    material and the passphrase are never logged or put in exception messages.

Key registration in the ledger (`KeyLog`, stream `KEY_LOG_ID`)
    Public keys and rotations are ledger entries: `KeyLog.KeyRegistered` events
    ``(key_id, public_key hex, previous_key_id | None)``. The verifier enforces:

    1. leaf 0 is the ``KeyRegistered`` (version 1, ``previous_key_id`` null) of the very key
       that signs it (self-signed genesis); that key is then the active key;
    2. a rotation is a ``KeyRegistered`` whose ``previous_key_id`` is the active key and which
       is signed by that active (previous) key; from the next leaf on, only the new key is
       valid; a key id can be registered only once (a retired key never comes back);
    3. any entry signed by a key that is not the active one at its leaf (unknown key,
       retired key, key registered later) fails verification.

    A ``KeyRegistered`` payload (stored state, canonical transcoder) is the JSON object
    ``{"actor": {...}, "key_id": "ed25519:...", "previous_key_id": str | null,
    "public_key": "<64 hex>", "timestamp": {"_data_": "<ISO UTC>", "_type_": "datetime"}}``;
    its topic is ``ledger.keys:KeyLog.KeyRegistered``, its stream ``str(KEY_LOG_ID)`` =
    ``uuid5(NAMESPACE_URL, "caleol:keys")``, versions 1, 2, ... and ``notification_id`` null.

    The recorders apply these rules automatically: before inserting with a signer whose key
    is not the ledger's active key, they insert, in the same transaction, its
    ``KeyRegistered`` signed by the previous active key (found in the key store by key id)
    or self-signed when the ledger is empty. KeyLog events live in their own table, outside
    the notification log, but `Application.repository.get(KEY_LOG_ID)` returns the `KeyLog`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import NAMESPACE_URL, uuid5

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from eventsourcing.domain import Aggregate

from ledger.canonical import iso_utc

try:  # Optional: libsodium signs about twice as fast as OpenSSL (same RFC 8032 signatures).
    from nacl.bindings import crypto_sign as _sodium_sign
    from nacl.bindings import crypto_sign_seed_keypair as _sodium_keypair
except ImportError:  # pragma: no cover - depends on the environment
    _sodium_sign = _sodium_keypair = None  # type: ignore[assignment]

__all__ = [
    "DEFAULT_KEY_DIR",
    "KEY_LOG_ID",
    "LEDGER_ACTOR",
    "KeyInfo",
    "KeyLog",
    "KeyStore",
    "KeyStoreError",
    "RegisteredKey",
    "Signer",
    "SignerProvider",
    "StaticSigners",
    "key_id_for",
    "public_key_from_bytes",
    "signer_from_seed",
]

DEFAULT_KEY_DIR = "./var/keys"
KEY_DIR_ENV = "CALEOL_KEY_DIR"
KEY_PASSPHRASE_ENV = "CALEOL_KEY_PASSPHRASE"
KEY_ID_PREFIX = "ed25519:"

KEY_LOG_ID = uuid5(NAMESPACE_URL, "caleol:keys")
# Actor of the KeyRegistered entries the recorder writes by itself (domain.actor.Actor shape).
LEDGER_ACTOR: dict[str, Any] = {"id": "system:ledger", "role": "system", "on_behalf_of": None}


class KeyStoreError(Exception):
    """Key store problem (missing key, wrong or missing passphrase, corrupt file...)."""


def key_id_for(public_bytes: bytes) -> str:
    """Key id of a raw 32-byte Ed25519 public key."""
    if len(public_bytes) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return KEY_ID_PREFIX + hashlib.sha256(public_bytes).hexdigest()[:16]


def public_key_from_bytes(public_bytes: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(public_bytes)


def _sodium_secret(private_key: Ed25519PrivateKey) -> bytes | None:
    """libsodium's 64-byte secret key (seed || public key), if PyNaCl is installed."""
    if _sodium_keypair is None:
        return None
    seed = private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    secret: bytes = _sodium_keypair(seed)[1]
    return secret


def _raw_public(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


@dataclass(frozen=True)
class Signer:
    """An Ed25519 signing key with its id; the private key never appears in its repr.

    The key object is made once (a `KeyStore` parses each PEM file once and keeps its
    signers). With PyNaCl installed, `sign` uses libsodium (about 2x faster than OpenSSL
    here; Ed25519 is deterministic, so the signatures are the same bytes)."""

    key_id: str
    public_bytes: bytes
    _private_key: Ed25519PrivateKey = field(repr=False, compare=False)
    _sodium_key: bytes | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_private_key(cls, private_key: Ed25519PrivateKey) -> Signer:
        public = _raw_public(private_key)
        return cls(key_id_for(public), public, private_key, _sodium_secret(private_key))

    def sign(self, data: bytes) -> bytes:
        if self._sodium_key is not None and _sodium_sign is not None:
            signed: bytes = _sodium_sign(data, self._sodium_key)
            return signed[:64]  # signature || message
        return self._private_key.sign(data)

    def _private_pem(self, passphrase: str | None) -> bytes:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase.encode())
            if passphrase
            else serialization.NoEncryption()
        )
        return self._private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )


def signer_from_seed(seed: bytes) -> Signer:
    """Deterministic signer from a 32-byte seed (demo and tests only)."""
    if len(seed) != 32:
        raise ValueError("an Ed25519 seed is 32 bytes")
    return Signer.from_private_key(Ed25519PrivateKey.from_private_bytes(seed))


class SignerProvider(Protocol):
    """What a recorder needs: the signer to use now, and past signers by key id."""

    def current(self) -> Signer: ...

    def signer_for(self, key_id: str) -> Signer | None: ...


class StaticSigners:
    """In-memory `SignerProvider`: the active signer is ``active`` (default: the last)."""

    def __init__(self, *signers: Signer) -> None:
        if not signers:
            raise ValueError("at least one signer is needed")
        self._by_id = {s.key_id: s for s in signers}
        self.active: Signer = signers[-1]

    def add(self, signer: Signer, *, activate: bool = True) -> None:
        self._by_id[signer.key_id] = signer
        if activate:
            self.active = signer

    def current(self) -> Signer:
        return self.active

    def signer_for(self, key_id: str) -> Signer | None:
        return self._by_id.get(key_id)


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    public_key: str  # hex of the raw 32 bytes
    created_at: str
    active: bool

    @property
    def public_key_hex(self) -> str:
        return self.public_key


def _file_stem(key_id: str) -> str:
    if not key_id.startswith(KEY_ID_PREFIX):
        raise KeyStoreError(f"not an ed25519 key id: {key_id!r}")
    fingerprint = key_id[len(KEY_ID_PREFIX) :]
    if len(fingerprint) != 16 or any(c not in "0123456789abcdef" for c in fingerprint):
        raise KeyStoreError(f"malformed key id: {key_id!r}")
    return "ed25519-" + fingerprint


class KeyStore:
    """Ed25519 keys in a directory (see module docstring). Safe across processes."""

    def __init__(self, directory: str | os.PathLike[str], passphrase: str | None = None) -> None:
        self.directory = Path(directory)
        self._passphrase = passphrase or None
        self._signers: dict[str, Signer] = {}
        self._active_stamp: tuple[int, int] | None = None
        self._active_id: str | None = None

    def __repr__(self) -> str:  # no passphrase in reprs
        return f"KeyStore({str(self.directory)!r}, encrypted={self._passphrase is not None})"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | Any | None = None) -> KeyStore:
        """From ``CALEOL_KEY_DIR`` / ``CALEOL_KEY_PASSPHRASE`` (``env`` has a ``get``)."""
        source: Any = os.environ if env is None else env
        directory = source.get(KEY_DIR_ENV) or DEFAULT_KEY_DIR
        return cls(directory, source.get(KEY_PASSPHRASE_ENV) or None)

    # -- SignerProvider -------------------------------------------------------------------

    def current(self) -> Signer:
        """The active signer; generates the first key on first use."""
        key_id = self.active_key_id()
        if key_id is None:
            with self._locked():
                key_id = self.active_key_id()
                if key_id is None:
                    key_id = self._add(Ed25519PrivateKey.generate(), activate=True)
        return self._load(key_id)

    def signer_for(self, key_id: str) -> Signer | None:
        try:
            return self._load(key_id)
        except FileNotFoundError:
            return None

    # -- management -----------------------------------------------------------------------

    def active_key_id(self) -> str | None:
        """Active key id, re-read when the pointer file changes (another process rotated)."""
        pointer = self.directory / "active"
        try:
            stat = pointer.stat()
        except FileNotFoundError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_ino)
        if stamp != self._active_stamp:
            self._active_id = pointer.read_text(encoding="ascii").strip() or None
            self._active_stamp = stamp
        return self._active_id

    def rotate(self) -> Signer:
        """Create a new key and make it active. The ledger registers it on the next insert."""
        with self._locked():
            key_id = self._add(Ed25519PrivateKey.generate(), activate=True)
        return self._load(key_id)

    def import_seed(self, seed: bytes, *, activate: bool = True) -> Signer:
        """Store the deterministic key of ``seed`` (demo); idempotent."""
        signer = signer_from_seed(seed)
        with self._locked():
            if not self._private_path(signer.key_id).exists():
                self._add(Ed25519PrivateKey.from_private_bytes(seed), activate=activate)
            elif activate:
                self._write_atomic(self.directory / "active", signer.key_id.encode(), 0o644)
        return self._load(signer.key_id)

    def list_keys(self) -> list[KeyInfo]:
        active = self.active_key_id()
        infos: list[KeyInfo] = []
        if not self.directory.is_dir():
            return infos
        for path in sorted(self.directory.glob("ed25519-*.json")):
            meta = orjson.loads(path.read_bytes())
            infos.append(
                KeyInfo(
                    key_id=meta["key_id"],
                    public_key=meta["public_key"],
                    created_at=meta["created_at"],
                    active=meta["key_id"] == active,
                )
            )
        infos.sort(key=lambda info: (info.created_at, info.key_id))
        return infos

    # -- internals ------------------------------------------------------------------------

    def _private_path(self, key_id: str) -> Path:
        return self.directory / (_file_stem(key_id) + ".pem")

    def _load(self, key_id: str) -> Signer:
        signer = self._signers.get(key_id)
        if signer is not None:
            return signer
        path = self._private_path(key_id)
        data = path.read_bytes()  # FileNotFoundError: unknown key
        password = self._passphrase.encode() if self._passphrase else None
        try:
            private_key = serialization.load_pem_private_key(data, password=password)
        except TypeError:
            if password is None:
                raise KeyStoreError(
                    f"private key {key_id} is encrypted: set {KEY_PASSPHRASE_ENV}"
                ) from None
            raise KeyStoreError(
                f"private key {key_id} is not encrypted but {KEY_PASSPHRASE_ENV} is set"
            ) from None
        except ValueError:
            raise KeyStoreError(
                f"cannot decrypt private key {key_id}: wrong {KEY_PASSPHRASE_ENV}?"
            ) from None
        if not isinstance(private_key, Ed25519PrivateKey):
            raise KeyStoreError(f"{path.name} is not an Ed25519 private key")
        signer = Signer.from_private_key(private_key)
        if signer.key_id != key_id:
            raise KeyStoreError(f"{path.name} holds key {signer.key_id}, not {key_id}")
        self._signers[key_id] = signer
        return signer

    def _add(self, private_key: Ed25519PrivateKey, *, activate: bool) -> str:
        signer = Signer.from_private_key(private_key)
        stem = _file_stem(signer.key_id)
        pem = signer._private_pem(self._passphrase)
        self._write_atomic(self.directory / (stem + ".pem"), pem, 0o600)
        meta = {
            "key_id": signer.key_id,
            "public_key": signer.public_bytes.hex(),
            "created_at": iso_utc(datetime.now(UTC)),
        }
        self._write_atomic(self.directory / (stem + ".json"), orjson.dumps(meta), 0o644)
        if activate:
            self._write_atomic(self.directory / "active", signer.key_id.encode(), 0o644)
        return signer.key_id

    def _write_atomic(self, path: Path, data: bytes, mode: int) -> None:
        # Temp file created with its final mode, then renamed: never world-readable, never torn.
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # Cross-process lock so two processes do not both create "the first" key.
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.directory / ".lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


@dataclass(frozen=True)
class RegisteredKey:
    key_id: str
    public_key: str
    previous_key_id: str | None
    registered_at: datetime
    version: int


class KeyLog(Aggregate):
    """The ledger's key registrations (stream `KEY_LOG_ID`); see the module docstring."""

    @staticmethod
    def create_id(*_: Any, **__: Any) -> Any:
        return KEY_LOG_ID

    def __init__(self) -> None:
        self._keys: list[RegisteredKey] = []

    @property
    def keys(self) -> list[RegisteredKey]:
        return list(self._keys)

    @property
    def active_key_id(self) -> str | None:
        return self._keys[-1].key_id if self._keys else None

    class KeyRegistered(Aggregate.Event):
        key_id: str
        public_key: str
        previous_key_id: str | None
        actor: dict[str, Any]

        def mutate(self, aggregate: Any) -> Any:
            # The same event class starts the log (genesis) and extends it (rotations).
            if aggregate is None:
                aggregate = KeyLog.__new__(KeyLog)
                aggregate.__base_init__(self.originator_id, 0, self.timestamp)
                aggregate.__init__()
            return super().mutate(aggregate)

        def apply(self, aggregate: Any) -> None:
            aggregate._keys.append(
                RegisteredKey(
                    key_id=self.key_id,
                    public_key=self.public_key,
                    previous_key_id=self.previous_key_id,
                    registered_at=self.timestamp,
                    version=self.originator_version,
                )
            )
