"""C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 keys.

A note is UTF-8 text ending in a newline, a blank line, then one line per signature::

    <text, ending in \\n>
    \\n
    — <key name> <base64(key id ‖ signature)>\\n

The line starts with an EM DASH (U+2014) and a space. For Ed25519 (signature type 0x01) the key id
is the first 4 bytes of ``SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)`` and the signature is
Ed25519 over the UTF-8 text (everything before the blank line, final newline included).

Key encodings (compatible with golang.org/x/mod/sumdb/note):

* verifier key: ``name+<8 hex key id>+base64(0x01 ‖ 32-byte public key)``
* signer key:   ``PRIVATE+KEY+name+<8 hex key id>+base64(0x01 ‖ 32-byte seed)``

Parsing is strict: valid UTF-8, no control characters but newline, canonical base64, valid key
names (non-empty, no whitespace, no ``+``), at most :data:`MAX_SIGNATURES` signature lines.
Opening a note ignores signatures from unknown keys (they are reported as unverified), rejects
the note if a known key's signature is invalid, and rejects it if no known key signed it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "ALG_ED25519",
    "MAX_SIGNATURES",
    "InvalidKeyError",
    "InvalidSignatureError",
    "MalformedNoteError",
    "Note",
    "NoteError",
    "Signature",
    "Signer",
    "UnverifiedNoteError",
    "VerifiedNote",
    "Verifier",
    "is_valid_key_name",
    "key_id",
    "open_note",
    "parse_note",
    "sign_note",
]

ALG_ED25519: Final = 0x01
MAX_SIGNATURES: Final = 100
SIGNATURE_PREFIX: Final = "\u2014 "  # EM DASH, space
_KEY_ID_SIZE: Final = 4
_ED25519_KEY_SIZE: Final = 32
_ED25519_SIGNATURE_SIZE: Final = 64
_PRIVATE_PREFIX: Final = "PRIVATE+KEY+"


class NoteError(ValueError):
    """A note or key could not be parsed, signed or verified. Subclasses say why."""


class MalformedNoteError(NoteError):
    """The note text or signature block is not a well-formed signed note."""


class InvalidKeyError(NoteError):
    """A signer or verifier key string, name or key material is invalid."""


class InvalidSignatureError(NoteError):
    """A signature by a known key does not verify."""

    def __init__(self, name: str, key_id: bytes) -> None:
        self.name = name
        self.key_id = key_id
        super().__init__(f"invalid signature by key {name}+{key_id.hex()}")


class UnverifiedNoteError(NoteError):
    """No signature on the note is from a known key."""

    def __init__(self, note: Note) -> None:
        self.note = note
        keys = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in note.signatures) or "none"
        super().__init__(f"note has no signature from a known key (signed by: {keys})")


# --------------------------------------------------------------------------------------------
# Keys


def is_valid_key_name(name: str) -> bool:
    """Key names are non-empty, contain no Unicode whitespace and no ``+``."""
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


def key_id(name: str, public_key: bytes) -> bytes:
    """Ed25519 key id: ``SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public_key)[:4]``."""
    if len(public_key) != _ED25519_KEY_SIZE:
        raise InvalidKeyError(f"Ed25519 public key must be 32 bytes, got {len(public_key)}")
    material = name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + public_key
    return hashlib.sha256(material).digest()[:_KEY_ID_SIZE]


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode_strict(text: str) -> bytes:
    """Standard padded base64, canonical only (rejects stray characters and non-zero pad bits)."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"invalid base64: {exc}") from exc
    if _b64encode(data) != text:
        raise ValueError("non-canonical base64")
    return data


def _parse_key_id(text: str) -> bytes:
    if len(text) != 2 * _KEY_ID_SIZE or any(ch not in "0123456789abcdefABCDEF" for ch in text):
        raise InvalidKeyError(f"key id must be 8 hex digits, got {text!r}")
    return bytes.fromhex(text)


def _check_name(name: str) -> None:
    if not is_valid_key_name(name):
        raise InvalidKeyError(f"invalid key name {name!r} (non-empty, no spaces, no '+')")


def _decode_key_material(text: str, what: str) -> bytes:
    try:
        material = _b64decode_strict(text)
    except ValueError as exc:
        raise InvalidKeyError(f"{what}: {exc}") from exc
    if not material or material[0] != ALG_ED25519:
        alg = f"0x{material[0]:02x}" if material else "none"
        raise InvalidKeyError(f"{what}: unsupported signature type {alg} (only Ed25519, 0x01)")
    if len(material) != 1 + _ED25519_KEY_SIZE:
        raise InvalidKeyError(f"{what}: Ed25519 key must be 32 bytes, got {len(material) - 1}")
    return material[1:]


@dataclass(frozen=True, slots=True)
class Verifier:
    """An Ed25519 public key with its name and key id."""

    name: str
    public_key: bytes
    key_id: bytes = field(init=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        object.__setattr__(self, "key_id", key_id(self.name, self.public_key))

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        """Parse ``name+hexid+base64(0x01 ‖ pub)``; the key id must match the name and key."""
        parts = vkey.split("+", 2)
        if len(parts) != 3:
            raise InvalidKeyError("verifier key must look like name+keyid+base64key")
        name, id_hex, material = parts
        _check_name(name)
        expected_id = _parse_key_id(id_hex)
        verifier = cls(name, _decode_key_material(material, "verifier key"))
        if verifier.key_id != expected_id:
            raise InvalidKeyError(
                f"verifier key id {id_hex} does not match name and key "
                f"(computed {verifier.key_id.hex()})"
            )
        return verifier

    def encode(self) -> str:
        """``name+hexid+base64(0x01 ‖ pub)``."""
        material = _b64encode(bytes([ALG_ED25519]) + self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{material}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != _ED25519_SIGNATURE_SIZE:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


class Signer:
    """An Ed25519 private key with its name. ``repr`` never shows the seed."""

    __slots__ = ("_private_key", "_verifier", "name")

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        _check_name(name)
        self.name = name
        self._private_key = private_key
        public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._verifier = Verifier(name, public)

    @classmethod
    def generate(cls, name: str) -> Signer:
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> Signer:
        if len(seed) != _ED25519_KEY_SIZE:
            raise InvalidKeyError(f"Ed25519 seed must be 32 bytes, got {len(seed)}")
        return cls(name, Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def parse(cls, skey: str) -> Signer:
        """Parse ``PRIVATE+KEY+name+hexid+base64(0x01 ‖ seed)``; the id must match."""
        if not skey.startswith(_PRIVATE_PREFIX):
            raise InvalidKeyError("signer key must start with PRIVATE+KEY+")
        parts = skey[len(_PRIVATE_PREFIX) :].split("+", 2)
        if len(parts) != 3:
            raise InvalidKeyError("signer key must look like PRIVATE+KEY+name+keyid+base64seed")
        name, id_hex, material = parts
        _check_name(name)
        expected_id = _parse_key_id(id_hex)
        signer = cls.from_seed(name, _decode_key_material(material, "signer key"))
        if signer.key_id != expected_id:
            raise InvalidKeyError(f"signer key id {id_hex} does not match name and key")
        return signer

    @property
    def key_id(self) -> bytes:
        return self._verifier.key_id

    @property
    def verifier(self) -> Verifier:
        return self._verifier

    def sign(self, message: bytes) -> bytes:
        """Raw 64-byte Ed25519 signature over ``message``."""
        return self._private_key.sign(message)

    def encode_private(self) -> str:
        """``PRIVATE+KEY+name+hexid+base64(0x01 ‖ seed)``. Secret: handle with care."""
        seed = self._private_key.private_bytes_raw()
        material = _b64encode(bytes([ALG_ED25519]) + seed)
        return f"{_PRIVATE_PREFIX}{self.name}+{self.key_id.hex()}+{material}"

    def __repr__(self) -> str:
        return f"Signer(name={self.name!r}, key_id={self.key_id.hex()!r})"


# --------------------------------------------------------------------------------------------
# Notes


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature line: the key name, the 4-byte key id and the raw signature bytes."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        """``— name base64(key id ‖ signature)\\n``."""
        return f"{SIGNATURE_PREFIX}{self.name} {_b64encode(self.key_id + self.signature)}\n"


@dataclass(frozen=True, slots=True)
class Note:
    """A parsed note: its text (ending in a newline) and signatures in order of appearance."""

    text: str
    signatures: tuple[Signature, ...]

    def encode(self) -> str:
        return self.text + "\n" + "".join(sig.line() for sig in self.signatures)


@dataclass(frozen=True, slots=True)
class VerifiedNote:
    """An opened note: ``verified`` signatures are by known keys, ``unverified`` by unknown ones."""

    text: str
    verified: tuple[Signature, ...]
    unverified: tuple[Signature, ...]

    def signed_by(self, verifier: Verifier) -> bool:
        return any(
            sig.name == verifier.name and sig.key_id == verifier.key_id for sig in self.verified
        )


def _check_text_chars(text: str, what: str) -> None:
    for position, char in enumerate(text):
        if char < " " and char != "\n":
            raise MalformedNoteError(f"{what} contains control character {char!r} at {position}")
        if "\ud800" <= char <= "\udfff":
            raise MalformedNoteError(f"{what} contains a lone surrogate at {position}")


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise MalformedNoteError("note text must be non-empty and end with a newline")
    _check_text_chars(text, "note text")


def sign_note(text: str, signers: Sequence[Signer], existing: Sequence[Signature] = ()) -> str:
    """Sign ``text`` with every signer and return the encoded note.

    ``existing`` signatures (e.g. from :func:`parse_note`) are kept first, so a note can be
    cosigned; they are not re-verified here.
    """
    _check_text(text)
    if not signers and not existing:
        raise NoteError("a signed note needs at least one signature")
    message = text.encode("utf-8")
    signatures = [*existing]
    signatures.extend(Signature(s.name, s.key_id, s.sign(message)) for s in signers)
    if len(signatures) > MAX_SIGNATURES:
        raise NoteError(f"a note carries at most {MAX_SIGNATURES} signatures")
    return Note(text, tuple(signatures)).encode()


def _as_text(message: str | bytes) -> str:
    if isinstance(message, bytes):
        try:
            return message.decode("utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            raise MalformedNoteError(f"note is not valid UTF-8: {exc}") from exc
    return message


def _parse_signature_line(line: str) -> Signature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise MalformedNoteError(f"signature line must start with an EM DASH and a space: {line!r}")
    name, sep, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not sep or not is_valid_key_name(name) or not encoded:
        raise MalformedNoteError(f"signature line must be '— <name> <base64>': {line!r}")
    try:
        raw = _b64decode_strict(encoded)
    except ValueError as exc:
        raise MalformedNoteError(f"signature of {name!r}: {exc}") from exc
    if len(raw) <= _KEY_ID_SIZE:
        raise MalformedNoteError(f"signature of {name!r} is too short ({len(raw)} bytes)")
    return Signature(name, raw[:_KEY_ID_SIZE], raw[_KEY_ID_SIZE:])


def parse_note(message: str | bytes) -> Note:
    """Split a signed note into text and signatures, checking syntax only (no verification)."""
    message = _as_text(message)
    _check_text_chars(message, "note")
    split = message.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("note has no blank line before its signatures")
    text, block = message[: split + 1], message[split + 2 :]
    if not block or not block.endswith("\n"):
        raise MalformedNoteError("signature block must be non-empty and end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"note has more than {MAX_SIGNATURES} signatures")
    return Note(text, tuple(_parse_signature_line(line) for line in lines))


def open_note(message: str | bytes, verifiers: Iterable[Verifier]) -> VerifiedNote:
    """Parse and verify a signed note against the known ``verifiers``.

    Signatures by unknown (name, key id) pairs are ignored and listed as unverified. Raises
    :class:`InvalidSignatureError` if a known key's signature is bad, :class:`UnverifiedNoteError`
    if no known key signed, :class:`MalformedNoteError` on syntax errors. Duplicate signatures by
    the same key are dropped.
    """
    known: dict[tuple[str, bytes], Verifier] = {}
    for candidate in verifiers:
        slot = (candidate.name, candidate.key_id)
        if slot in known and known[slot].public_key != candidate.public_key:
            raise InvalidKeyError(
                f"ambiguous verifiers for {candidate.name}+{candidate.key_id.hex()}"
            )
        known[slot] = candidate
    note = parse_note(message)
    signed = note.text.encode("utf-8")
    verified: list[Signature] = []
    unverified: list[Signature] = []
    seen: set[tuple[str, bytes]] = set()
    for sig in note.signatures:
        slot = (sig.name, sig.key_id)
        verifier = known.get(slot)
        if verifier is None:
            if sig not in unverified:
                unverified.append(sig)
            continue
        # Unlike sumdb/note, a repeated signature by a known key is verified too, then dropped.
        if not verifier.verify(signed, sig.signature):
            raise InvalidSignatureError(sig.name, sig.key_id)
        if slot not in seen:
            seen.add(slot)
            verified.append(sig)
    if not verified:
        raise UnverifiedNoteError(note)
    return VerifiedNote(note.text, tuple(verified), tuple(unverified))
