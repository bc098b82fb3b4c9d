"""Member receipts: individual verifiability of a ballot.

Every accepted ballot is a ``BallotSubmitted`` event in the member's activity stream, hence one
ledger entry. Its **receipt** (:func:`ballot_receipt`) gives the member what identifies that entry
for good: the stream and version, the leaf index, the canonical record bytes and their SHA-256
(the record hash, which the ledger key signs), the signature and the signing key. It reveals
nothing of the ballot beyond what the member already knows (the record holds the payload's hash,
not the ranking).

After closing, :func:`receipt_proof` adds an RFC 9162 inclusion proof of that leaf against the
commission's closing checkpoint (a later checkpoint for a ballot recorded after it, i.e. late).
:func:`verify_receipt` checks a receipt with its proof against a checkpoint the member obtained
independently (published with the minutes, sent to the prefecture), offline:

1. the record bytes hash to the record hash, and name the receipt's stream, version, leaf, key;
2. the Ed25519 signature over the record hash verifies with the receipt's public key, whose
   key id is ``ed25519:`` + the first 16 hex digits of its SHA-256;
3. the checkpoint's signed note verifies with the ledger key (the given verifier key, or the
   proof's), its size is the proof's tree size;
4. the inclusion proof of ``SHA-256(0x00 ‖ record bytes)`` at the leaf gives the checkpoint's root.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from domain.errors import DomainError
from domain.participation import MemberActivity, activity_id
from ledger.checkpoint import Checkpoint, open_checkpoint
from ledger.checkpoints import Checkpointer, checkpointer_for, note_verifier
from ledger.keys import key_id_for
from ledger.merkle import ProofError, hash_leaf, verify_inclusion
from ledger.signed_note import NoteError, Verifier, parse_note

__all__ = [
    "PROOF_FORMAT",
    "RECEIPT_FORMAT",
    "BallotReceipt",
    "ReceiptError",
    "ReceiptVerification",
    "ballot_receipt",
    "ballot_receipts",
    "receipt_proof",
    "verify_receipt",
]

RECEIPT_FORMAT = "caleol-ballot-receipt/1"
PROOF_FORMAT = "caleol-ballot-receipt-proof/1"


class ReceiptError(DomainError):
    """No such ballot, no ledger, no checkpoint yet..."""

    code = "receipt_unavailable"


@dataclass(frozen=True)
class BallotReceipt:
    commission_id: str
    member_id: str
    dwelling_id: str
    on_behalf_of: str | None
    revision: int
    recorded_at: str | None
    stream: str
    version: int
    leaf: int
    record: str  # canonical record bytes (UTF-8 JSON), the Merkle leaf input
    record_hash: str  # hex SHA-256 of the record bytes: the "event hash"
    key_id: str
    public_key: str  # hex of the raw Ed25519 public key
    signature: str  # hex Ed25519 signature over the record hash

    def to_json(self) -> dict[str, Any]:
        return {"format": RECEIPT_FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BallotReceipt:
        if data.get("format") != RECEIPT_FORMAT:
            raise ValueError(f"not a ballot receipt ({RECEIPT_FORMAT})")
        fields = {k: v for k, v in data.items() if k != "format"}
        return cls(**fields)


def _checkpointer(app: Any) -> Checkpointer:
    checkpointer = checkpointer_for(app)
    if checkpointer is None:
        raise ReceiptError("receipts need a ledger database (SQLite or PostgreSQL)")
    return checkpointer


def ballot_receipts(app: Any, commission_id: UUID, member_id: str) -> list[BallotReceipt]:
    """A receipt for every ballot the member cast (revisions and proxies included), in order."""
    checkpointer = _checkpointer(app)
    stream_id = activity_id(commission_id, member_id)
    stream = str(stream_id)
    keys = {key.key_id: key for key in checkpointer.ledger_keys()}
    receipts = []
    ballots = [
        e for e in app.events.get(stream_id) if isinstance(e, MemberActivity.BallotSubmitted)
    ]
    for event in ballots:
        leaf = checkpointer.db.leaf_of(stream, event.originator_version)
        if leaf is None:
            raise ReceiptError(f"ballot {stream} v{event.originator_version} has no ledger entry")
        entry = checkpointer.reader.select_entries(leaf, 1)[0]
        key = keys.get(entry.key_id)
        if key is None:
            raise ReceiptError(f"the key {entry.key_id} is not registered in the ledger")
        receipts.append(
            BallotReceipt(
                commission_id=str(commission_id),
                member_id=member_id,
                dwelling_id=event.dwelling_id,
                on_behalf_of=event.on_behalf_of,
                revision=event.revision,
                recorded_at=entry.recorded_at,
                stream=stream,
                version=entry.version,
                leaf=entry.leaf_index,
                record=entry.record_bytes().decode("utf-8"),
                record_hash=entry.record_hash.hex(),
                key_id=entry.key_id,
                public_key=key.public_key.hex(),
                signature=entry.signature.hex(),
            )
        )
    return receipts


def ballot_receipt(
    app: Any,
    commission_id: UUID,
    member_id: str,
    dwelling_id: str,
    on_behalf_of: str | None = None,
) -> BallotReceipt:
    """The receipt of the member's last accepted ballot on the dwelling (for themselves, or for
    ``on_behalf_of`` as proxy holder)."""
    found = [
        r
        for r in ballot_receipts(app, commission_id, member_id)
        if r.dwelling_id == dwelling_id and r.on_behalf_of == on_behalf_of
    ]
    if not found:
        who = member_id + (f" for {on_behalf_of}" if on_behalf_of else "")
        raise ReceiptError(f"no ballot by {who} on dwelling {dwelling_id}")
    return found[-1]


def receipt_proof(app: Any, receipt: BallotReceipt) -> dict[str, Any]:
    """The receipt with an inclusion proof against the commission's closing checkpoint."""
    checkpointer = _checkpointer(app)
    entries = checkpointer.reader.select_entries(receipt.leaf, 1)
    if not entries or entries[0].record_hash.hex() != receipt.record_hash:
        raise ReceiptError(f"leaf {receipt.leaf} of the ledger is not this receipt's ballot")
    closing = checkpointer.closing_checkpoint(receipt.commission_id)
    if closing is None:
        raise ReceiptError("the commission has no closing checkpoint yet: ask after closing")
    late = receipt.leaf >= closing.size
    checkpoint = closing if not late else checkpointer.first_covering(receipt.leaf)
    if checkpoint is None:
        checkpoint = checkpointer.issue("periodic")
    proof = checkpointer.inclusion_proof(receipt.leaf, checkpoint.size)
    public_key = _signing_key(checkpointer, checkpoint.size)
    return {
        "format": PROOF_FORMAT,
        "receipt": receipt.to_json(),
        "checkpoint": checkpoint.note,
        "checkpoint_reason": checkpoint.reason,
        "tree_size": checkpoint.size,
        "inclusion_proof": [h.hex() for h in proof],
        "note_verifier_key": note_verifier(checkpoint.origin, public_key).encode(),
        "late": late,
    }


def _signing_key(checkpointer: Checkpointer, size: int) -> bytes:
    key_id = checkpointer.active_key_id_at(size)
    for key in checkpointer.ledger_keys():
        if key.key_id == key_id:
            return key.public_key
    raise ReceiptError(f"the ledger key {key_id} is not registered")  # pragma: no cover


@dataclass
class ReceiptVerification:
    ok: bool
    message: str
    checks: list[str]


def verify_receipt(
    document: dict[str, Any], checkpoint_text: bytes | str, verifier_key: str | None = None
) -> ReceiptVerification:
    """Verify a receipt with its inclusion proof against a checkpoint (module docstring)."""
    checks: list[str] = []

    def fail(message: str) -> ReceiptVerification:
        return ReceiptVerification(False, message, checks)

    if document.get("format") != PROOF_FORMAT:
        raise ValueError(
            "not a receipt with its proof: fetch it with `caleol receipt-proof` after closing"
        )
    receipt = BallotReceipt.from_json(document["receipt"])
    record = receipt.record.encode("utf-8")
    if hashlib.sha256(record).hexdigest() != receipt.record_hash:
        return fail("the record does not hash to the receipt's record hash: forged receipt")
    try:
        fields = orjson.loads(record)
    except orjson.JSONDecodeError:
        return fail("the record is not JSON: forged receipt")
    expected = {
        "stream": receipt.stream,
        "version": receipt.version,
        "leaf": receipt.leaf,
        "key_id": receipt.key_id,
    }
    for name, value in expected.items():
        if fields.get(name) != value:
            return fail(f"the record's {name} is {fields.get(name)!r}, the receipt says {value!r}")
    public_key = bytes.fromhex(receipt.public_key)
    if key_id_for(public_key) != receipt.key_id:
        return fail(f"the public key is not the key {receipt.key_id}")
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            bytes.fromhex(receipt.signature), bytes.fromhex(receipt.record_hash)
        )
    except (InvalidSignature, ValueError):
        return fail("the ledger's signature of the record does not verify: forged receipt")
    checks.append(
        f"record {receipt.record_hash} (leaf {receipt.leaf}, stream {receipt.stream} "
        f"v{receipt.version}) signed by {receipt.key_id}"
    )
    try:
        note = parse_note(checkpoint_text)
        checkpoint = Checkpoint.from_text(note.text)
        verifier = Verifier.parse(verifier_key or str(document["note_verifier_key"]))
        open_checkpoint(checkpoint_text, origin=checkpoint.origin, log_verifier=verifier)
    except NoteError as e:
        return fail(f"the checkpoint does not verify: {e}")
    checks.append(
        f"checkpoint {checkpoint.origin} size {checkpoint.size} signed by "
        f"{verifier.name}+{verifier.key_id.hex()}"
    )
    size = int(document["tree_size"])
    if size != checkpoint.size:
        return fail(
            f"the proof is for tree size {size}, the checkpoint has size {checkpoint.size}: "
            "fetch a proof against this checkpoint"
        )
    try:
        proof = [bytes.fromhex(h) for h in document["inclusion_proof"]]
        verify_inclusion(receipt.leaf, size, hash_leaf(record), proof, checkpoint.root_hash)
    except (ProofError, ValueError) as e:
        return fail(f"the ballot is not in the checkpoint's tree: {e}")
    checks.append(f"inclusion proof of leaf {receipt.leaf} in the tree of size {size} verified")
    late = " (recorded after the closing: late, not counted)" if document.get("late") else ""
    return ReceiptVerification(
        True,
        f"OK: the ballot of {receipt.member_id} on {receipt.dwelling_id} (revision "
        f"{receipt.revision}) is leaf {receipt.leaf} of the ledger{late}",
        checks,
    )
