"""C2SP transparency-log checkpoints (https://c2sp.org/tlog-checkpoint), signed as C2SP notes.

The checkpoint body is the note text::

    <origin>\\n
    <tree size, ASCII decimal, no leading zero>\\n
    <base64 of the 32-byte RFC 9162 root hash>\\n
    <optional extension lines, each non-empty>\\n

The origin identifies the log; this project uses ``caleol.example/ledger/<instance>`` by default
(see :func:`ledger_origin`), and the log's signing key should be named after the origin.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from ledger.merkle import HASH_SIZE
from ledger.signed_note import (
    NoteError,
    Signer,
    VerifiedNote,
    Verifier,
    open_note,
    sign_note,
)

__all__ = [
    "DEFAULT_ORIGIN_PREFIX",
    "Checkpoint",
    "CheckpointError",
    "MalformedCheckpointError",
    "OriginMismatchError",
    "VerifiedCheckpoint",
    "ledger_origin",
    "open_checkpoint",
    "sign_checkpoint",
]

DEFAULT_ORIGIN_PREFIX: Final = "caleol.example/ledger/"
MAX_TREE_SIZE: Final = 2**64 - 1
_INSTANCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class CheckpointError(NoteError):
    """A checkpoint could not be built, parsed or verified."""


class MalformedCheckpointError(CheckpointError):
    """The checkpoint body does not follow the C2SP tlog-checkpoint format."""


class OriginMismatchError(CheckpointError):
    """The checkpoint is for another log."""


def ledger_origin(instance: str, prefix: str = DEFAULT_ORIGIN_PREFIX) -> str:
    """The origin line of a ledger instance, e.g. ``caleol.example/ledger/bailleur-42``."""
    if not _INSTANCE.fullmatch(instance):
        raise CheckpointError(f"invalid ledger instance name {instance!r} (letters, digits, ._-)")
    origin = prefix + instance
    _check_line(origin, "origin")
    return origin


def _check_line(line: str, what: str) -> None:
    if not line:
        raise MalformedCheckpointError(f"{what} must not be empty")
    for char in line:
        if char < " ":
            raise MalformedCheckpointError(f"{what} contains control character {char!r}")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """An unsigned checkpoint: the log origin, tree size, root hash and extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise MalformedCheckpointError(f"tree size must be an integer, got {self.size!r}")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise MalformedCheckpointError(f"tree size {self.size} out of range")
        if len(self.root_hash) != HASH_SIZE:
            raise MalformedCheckpointError(
                f"root hash must be {HASH_SIZE} bytes, got {len(self.root_hash)}"
            )
        for number, line in enumerate(self.extensions):
            _check_line(line, f"extension line {number}")

    def to_text(self) -> str:
        """The note text (body) of the checkpoint, ending with a newline."""
        lines = [
            self.origin,
            str(self.size),
            base64.b64encode(self.root_hash).decode("ascii"),
            *self.extensions,
        ]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Parse a checkpoint body (strictly: canonical decimal size and base64 hash)."""
        if not text.endswith("\n"):
            raise MalformedCheckpointError("checkpoint body must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedCheckpointError(
                "checkpoint body needs an origin, a tree size and a root hash line"
            )
        origin, size_text, hash_text, *extensions = lines
        if not _DECIMAL.fullmatch(size_text):
            raise MalformedCheckpointError(f"tree size {size_text!r} is not canonical decimal")
        try:
            root_hash = base64.b64decode(hash_text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as exc:
            raise MalformedCheckpointError(f"root hash is not base64: {exc}") from exc
        if base64.b64encode(root_hash).decode("ascii") != hash_text:
            raise MalformedCheckpointError("root hash is not canonical base64")
        return cls(origin, int(size_text), root_hash, tuple(extensions))


@dataclass(frozen=True, slots=True)
class VerifiedCheckpoint:
    """A checkpoint whose note carries a valid signature by the log key."""

    checkpoint: Checkpoint
    note: VerifiedNote


def sign_checkpoint(checkpoint: Checkpoint, signers: Sequence[Signer]) -> str:
    """Encode ``checkpoint`` as a C2SP signed note signed by every signer (log key first)."""
    return sign_note(checkpoint.to_text(), signers)


def open_checkpoint(
    message: str | bytes,
    *,
    origin: str,
    log_verifier: Verifier,
    other_verifiers: Iterable[Verifier] = (),
) -> VerifiedCheckpoint:
    """Verify a signed checkpoint for the log ``origin``.

    The note must carry a valid signature by ``log_verifier``; signatures by ``other_verifiers``
    (e.g. witnesses) must be valid if present; unknown signatures are ignored. Raises
    :class:`~ledger.signed_note.NoteError` subclasses on signature problems,
    :class:`MalformedCheckpointError` on a bad body and :class:`OriginMismatchError` for another
    log's checkpoint.
    """
    note = open_note(message, [log_verifier, *other_verifiers])
    if not note.signed_by(log_verifier):
        raise CheckpointError(
            f"checkpoint is not signed by the log key {log_verifier.name}+"
            f"{log_verifier.key_id.hex()}"
        )
    checkpoint = Checkpoint.from_text(note.text)
    if checkpoint.origin != origin:
        raise OriginMismatchError(
            f"checkpoint origin {checkpoint.origin!r} is not the expected {origin!r}"
        )
    return VerifiedCheckpoint(checkpoint, note)
