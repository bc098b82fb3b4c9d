"""Audit bundles: a commission's complete, self-proving record, verifiable offline.

``caleol export COMMISSION --out FILE.zip`` writes (layout in ``docs/LEDGER-SPEC.md`` §8)::

    manifest.json                 format, commission, origin, streams, SHA-256 of every file
    ledger/entries.jsonl          the ledger rows of the commission's streams, as stored
    ledger/stored_events.jsonl    their stored events (state bytes exactly as stored, base64)
    ledger/key_events.jsonl       the key log's stored events (every key registration)
    keys.json                     the public keys, their registration leaves, note verifier keys
    checkpoints/closing.txt       the checkpoint issued at the commission's closing
    checkpoints/latest.txt        a checkpoint covering every event of the bundle
    proofs/inclusion.jsonl        an RFC 9162 inclusion proof of every entry
    proofs/consistency.json       the consistency proof from the closing to the latest checkpoint
    minutes/minutes.json          the minutes as published (with the closing checkpoint as anchor)
    minutes/minutes.pdf           the same minutes in PDF (when the PDF projection is available)

Streams: the commission's, every member's activity stream (logins, ballots, opinions,
referrals, chat), and the key log. The ZIP is canonical: entries stored uncompressed, in the
order ``manifest.json`` then the other paths sorted, fixed timestamps and attributes, the
format name as the archive comment; the verifier rebuilds it and requires the same bytes, so
any byte changed anywhere in the file is detected.

:func:`verify_bundle` checks, with no database: the container and the manifest; every entry
(stored payload hash, record hash, Ed25519 signature, key validity at its leaf under the key
log's rules, hash chain and completeness of each stream); every inclusion proof against its
checkpoint; the checkpoints' signatures (by the ledger key active at their size) and the
consistency between them; that the decisions recomputed from the events
(`domain.closing.decide_all`) equal the recorded ``DecisionsRecorded``; that the minutes
recomputed from the events have the published SHA-256 (and the approved one), and render to
the published JSON and PDF bytes.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import hashlib
import io
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from eventsourcing.persistence import StoredEvent

from domain.commission import Commission, Status
from domain.participation import activity_id
from ledger.checkpoint import Checkpoint, open_checkpoint
from ledger.checkpoints import Checkpointer, StoredCheckpoint, checkpointer_for, note_verifier
from ledger.keys import key_id_for
from ledger.merkle import ProofError, hash_leaf, verify_consistency, verify_inclusion
from ledger.records import KEY_LOG_STREAM, KEY_REGISTERED_TOPIC, LedgerEntry
from ledger.signed_note import NoteError, parse_note
from replay.offline import offline_app, recompute_decisions

__all__ = [
    "BUNDLE_FORMAT",
    "BundleError",
    "BundleReport",
    "BundleUnusable",
    "ExportSummary",
    "build_bundle",
    "canonical_zip",
    "verify_bundle",
]

BUNDLE_FORMAT = "caleol-audit-bundle/1"
MANIFEST = "manifest.json"
ENTRIES = "ledger/entries.jsonl"
STORED_EVENTS = "ledger/stored_events.jsonl"
KEY_EVENTS = "ledger/key_events.jsonl"
KEYS = "keys.json"
CLOSING = "checkpoints/closing.txt"
LATEST = "checkpoints/latest.txt"
INCLUSION = "proofs/inclusion.jsonl"
CONSISTENCY = "proofs/consistency.json"
MINUTES_JSON = "minutes/minutes.json"
MINUTES_PDF = "minutes/minutes.pdf"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_SORT = orjson.OPT_SORT_KEYS


class BundleError(Exception):
    """The bundle cannot be exported (no ledger database, unknown commission...)."""


class BundleUnusable(Exception):
    """The input is not an audit bundle at all (exit 2)."""


class _Tampered(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _jsonl(rows: Sequence[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(row, option=_SORT) + b"\n" for row in rows)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def canonical_zip(files: Sequence[tuple[str, bytes]], comment: bytes) -> bytes:
    """The canonical ZIP of ``files`` (in the given order): stored, fixed metadata."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.comment = comment
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def _ordered(files: dict[str, bytes]) -> list[tuple[str, bytes]]:
    others = sorted((name, data) for name, data in files.items() if name != MANIFEST)
    return [(MANIFEST, files[MANIFEST]), *others]


# =========================================================================== export


@dataclass(frozen=True)
class ExportSummary:
    commission_id: str
    entries: int
    streams: int
    closing_size: int | None
    latest_size: int
    files: tuple[str, ...]
    minutes: bool
    pdf: bool


def _entry_row(e: LedgerEntry) -> dict[str, Any]:
    return {
        "leaf_index": e.leaf_index,
        "notification_id": e.notification_id,
        "stream": e.stream,
        "version": e.version,
        "topic": e.topic,
        "recorded_at": e.recorded_at,
        "actor": e.actor,
        "payload_sha256": e.payload_sha256.hex(),
        "prev_hash": None if e.prev_hash is None else e.prev_hash.hex(),
        "key_id": e.key_id,
        "record_hash": e.record_hash.hex(),
        "signature": e.signature.hex(),
    }


def _fetch_entries(reader: Any, leaves: Sequence[int]) -> list[LedgerEntry]:
    """The entries at ``leaves`` (sorted), reading contiguous runs in one query each."""
    entries: list[LedgerEntry] = []
    i = 0
    while i < len(leaves):
        j = i
        while j + 1 < len(leaves) and leaves[j + 1] == leaves[j] + 1 and j - i < 4999:
            j += 1
        page = reader.select_entries(leaves[i], j - i + 1)
        entries.extend(page)
        i = j + 1
    return entries


def build_bundle(app: Any, commission_id: UUID) -> tuple[bytes, ExportSummary]:
    """The audit bundle of a commission (bytes of the ZIP) from a ledger-backed application."""
    checkpointer = checkpointer_for(app)
    if checkpointer is None:
        raise BundleError("audit bundles need a ledger database (SQLite or PostgreSQL)")
    commission = app.commission(commission_id)
    members = sorted(commission.members)
    activities = {m: str(activity_id(commission_id, m)) for m in members}
    streams = [str(commission_id), *activities.values(), KEY_LOG_STREAM]

    latest = checkpointer.current(reason="export")
    located = [row for row in checkpointer.db.leaves_of_streams(streams) if row[0] < latest.size]
    leaf_of = {(stream, version): leaf for leaf, stream, version in located}
    entries = _fetch_entries(checkpointer.reader, [leaf for leaf, _, _ in located])
    for entry in entries:
        if entry.state is None or entry.event_stream != entry.stream:
            raise BundleError(
                f"ledger entry {entry.leaf_index} has no matching stored event: the database "
                "is damaged (run `caleol verify`)"
            )

    closing = _closing_checkpoint(app, checkpointer, commission_id, leaf_of)
    origin = latest.origin
    tree = checkpointer.tree(latest.size)
    proofs = []
    for entry in entries:
        size = closing.size if closing and entry.leaf_index < closing.size else latest.size
        proof = tree.inclusion_proof(entry.leaf_index, size)
        proofs.append(
            {"leaf": entry.leaf_index, "tree_size": size, "proof": [h.hex() for h in proof]}
        )
    consistency: dict[str, Any] | None = None
    if closing is not None:
        proof = tree.consistency_proof(closing.size, latest.size) if closing.size else []
        consistency = {
            "old_size": closing.size,
            "new_size": latest.size,
            "proof": [h.hex() for h in proof],
        }

    key_entries = [e for e in entries if e.stream == KEY_LOG_STREAM]
    keys = []
    for entry in key_entries:
        state = orjson.loads(entry.state or b"")
        public = bytes.fromhex(state["public_key"])
        keys.append(
            {
                "key_id": state["key_id"],
                "public_key": state["public_key"],
                "previous_key_id": state["previous_key_id"],
                "leaf": entry.leaf_index,
                "note_verifier_key": note_verifier(origin, public).encode(),
            }
        )

    files: dict[str, bytes] = {
        ENTRIES: _jsonl([_entry_row(e) for e in entries]),
        STORED_EVENTS: _jsonl(
            [
                {
                    "notification_id": e.notification_id,
                    "originator_id": e.event_stream,
                    "originator_version": e.event_version,
                    "topic": e.event_topic,
                    "state": _b64(e.state or b""),
                }
                for e in entries
                if e.stream != KEY_LOG_STREAM
            ]
        ),
        KEY_EVENTS: _jsonl(
            [
                {
                    "originator_version": e.event_version,
                    "topic": e.event_topic,
                    "state": _b64(e.state or b""),
                }
                for e in key_entries
            ]
        ),
        KEYS: orjson.dumps({"origin": origin, "keys": keys}, option=_SORT | orjson.OPT_INDENT_2),
        LATEST: latest.note.encode(),
        INCLUSION: _jsonl(proofs),
    }
    if closing is not None and consistency is not None:
        files[CLOSING] = closing.note.encode()
        files[CONSISTENCY] = orjson.dumps(consistency, option=_SORT | orjson.OPT_INDENT_2)
        files.update(_minutes(app, commission_id, checkpointer, closing))

    manifest = {
        "format": BUNDLE_FORMAT,
        "commission_id": str(commission_id),
        "origin": origin,
        "streams": {
            "commission": str(commission_id),
            "activities": activities,
            "key_log": KEY_LOG_STREAM,
        },
        "checkpoints": {"closing": CLOSING if closing else None, "latest": LATEST},
        "files": [
            {"path": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for name, data in sorted(files.items())
        ],
    }
    files[MANIFEST] = orjson.dumps(manifest, option=_SORT | orjson.OPT_INDENT_2) + b"\n"
    data = canonical_zip(_ordered(files), BUNDLE_FORMAT.encode())
    summary = ExportSummary(
        commission_id=str(commission_id),
        entries=len(entries),
        streams=len({e.stream for e in entries}),
        closing_size=closing.size if closing else None,
        latest_size=latest.size,
        files=tuple(sorted(files)),
        minutes=MINUTES_JSON in files,
        pdf=MINUTES_PDF in files,
    )
    return data, summary


def _closing_checkpoint(
    app: Any, checkpointer: Checkpointer, commission_id: UUID, leaf_of: dict[tuple[str, int], int]
) -> StoredCheckpoint | None:
    closed_version = None
    for event in app.events.get(commission_id):
        if isinstance(event, Commission.DecisionsRecorded):
            closed_version = event.originator_version  # recorded with Closed, just after it
            break
    if closed_version is None:
        return None
    closed_leaf = leaf_of.get((str(commission_id), closed_version))
    if closed_leaf is None:
        return None
    closing = checkpointer.closing_checkpoint(str(commission_id))
    if closing is None or closing.size <= closed_leaf:
        closing = checkpointer.first_covering(closed_leaf)
    return closing


def _minutes(
    app: Any, commission_id: UUID, checkpointer: Checkpointer, closing: StoredCheckpoint
) -> dict[str, bytes]:
    try:
        from projections.minutes import render_minutes
    except ImportError:  # pragma: no cover - the minutes projection is part of the package
        return {}
    anchor = minutes_anchor(checkpointer, closing)
    files = {MINUTES_JSON: render_minutes(app, commission_id, "json", anchor=anchor)}
    with contextlib.suppress(Exception):  # the PDF is optional in a bundle
        files[MINUTES_PDF] = render_minutes(app, commission_id, "pdf", anchor=anchor)
    return files


def minutes_anchor(checkpointer: Checkpointer, closing: StoredCheckpoint) -> dict[str, Any]:
    """The ledger anchor printed in the minutes: the closing checkpoint."""
    checkpoint = closing.checkpoint
    signature = parse_note(closing.note).signatures[0]
    return {
        "origin": checkpoint.origin,
        "size": checkpoint.size,
        "root_hash": _b64(checkpoint.root_hash),
        "key_id": checkpointer.active_key_id_at(checkpoint.size),
        "signature": f"{signature.name} {_b64(signature.key_id + signature.signature)}",
    }


# =========================================================================== verify


@dataclass
class BundleReport:
    ok: bool
    kind: str | None = None
    message: str = ""
    checks: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    anchored: bool = False
    commission_id: str | None = None


@dataclass(frozen=True)
class _Key:
    key_id: str
    public_key: bytes
    previous_key_id: str | None
    leaf: int


def _read_zip(data: bytes) -> list[tuple[str, bytes]]:
    marker = BUNDLE_FORMAT.encode() in data
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except Exception as e:
        if marker:
            raise _Tampered("container", f"the ZIP container is damaged: {e}") from None
        raise BundleUnusable(f"not an audit bundle (not a ZIP archive: {e})") from None
    files: list[tuple[str, bytes]] = []
    try:
        with archive:
            for info in archive.infolist():
                files.append((info.filename, archive.read(info)))
    except Exception as e:
        raise _Tampered("container", f"the ZIP container is damaged: {e}") from None
    if not any(name == MANIFEST for name, _ in files):
        if marker:
            raise _Tampered("manifest", "manifest.json is missing from the bundle")
        raise BundleUnusable("not an audit bundle (no manifest.json)")
    return files


def _load_manifest(raw: bytes) -> dict[str, Any]:
    try:
        manifest = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise _Tampered("manifest", f"manifest.json is not valid JSON: {e}") from None
    if not isinstance(manifest, dict):
        raise _Tampered("manifest", "manifest.json is not a JSON object")
    fmt = manifest.get("format")
    if fmt != BUNDLE_FORMAT:
        if isinstance(fmt, str) and fmt.startswith("caleol-audit-bundle/"):
            raise BundleUnusable(
                f"unsupported bundle format {fmt!r} (this tool reads {BUNDLE_FORMAT})"
            )
        raise _Tampered("manifest", f"manifest.json names the format {fmt!r}")
    return manifest


def _check_manifest(manifest: dict[str, Any], files: list[tuple[str, bytes]]) -> dict[str, bytes]:
    names = [name for name, _ in files]
    if len(set(names)) != len(names):
        raise _Tampered("container", "the bundle holds two files with the same name")
    by_name = dict(files)
    listed = manifest.get("files")
    if not isinstance(listed, list):
        raise _Tampered("manifest", "manifest.json has no file list")
    expected: dict[str, bytes] = {}
    for item in listed:
        try:
            path, digest, size = str(item["path"]), str(item["sha256"]), int(item["size"])
        except (KeyError, TypeError, ValueError):
            raise _Tampered("manifest", f"malformed manifest entry {item!r}") from None
        data = by_name.get(path)
        if data is None:
            raise _Tampered("manifest", f"{path} is listed in the manifest but missing")
        if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
            raise _Tampered(
                "file",
                f"{path} was altered: its SHA-256 is {hashlib.sha256(data).hexdigest()}, "
                f"the manifest says {digest}",
            )
        expected[path] = data
    extra = sorted(set(by_name) - set(expected) - {MANIFEST})
    if extra:
        raise _Tampered("manifest", f"{extra[0]} is in the bundle but not in the manifest")
    return expected


def _lines(data: bytes, what: str) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(data.split(b"\n")[:-1], 1):
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise _Tampered("format", f"{what} line {number} is not JSON") from None
        if not isinstance(row, dict):
            raise _Tampered("format", f"{what} line {number} is not a JSON object")
        rows.append(row)
    if data and not data.endswith(b"\n"):
        raise _Tampered("format", f"{what} does not end with a newline")
    return rows


def _hex(value: Any, what: str, size: int | None = None) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except (TypeError, ValueError):
        raise _Tampered("format", f"{what} is not hexadecimal") from None
    if size is not None and len(raw) != size:
        raise _Tampered("format", f"{what} must be {size} bytes")
    return raw


def _unb64(value: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise _Tampered("format", f"{what} is not base64") from None


def _entries(files: dict[str, bytes]) -> list[LedgerEntry]:
    events: dict[int, dict[str, Any]] = {}
    for row in _lines(files.get(STORED_EVENTS, b""), STORED_EVENTS):
        events[int(row["notification_id"])] = row
    key_events: dict[int, dict[str, Any]] = {}
    for row in _lines(files.get(KEY_EVENTS, b""), KEY_EVENTS):
        key_events[int(row["originator_version"])] = row
    entries: list[LedgerEntry] = []
    for row in _lines(files.get(ENTRIES, b""), ENTRIES):
        try:
            leaf = int(row["leaf_index"])
            nid = row["notification_id"]
            stream, version = str(row["stream"]), int(row["version"])
            if nid is None and stream == KEY_LOG_STREAM:
                event = key_events.get(version)
                event_stream = KEY_LOG_STREAM if event else None
                event_version = None if event is None else int(event["originator_version"])
            else:
                event = events.get(int(nid))
                event_stream = None if event is None else str(event["originator_id"])
                event_version = None if event is None else int(event["originator_version"])
            prev = row["prev_hash"]
            entries.append(
                LedgerEntry(
                    leaf_index=leaf,
                    notification_id=None if nid is None else int(nid),
                    stream=stream,
                    version=version,
                    topic=str(row["topic"]),
                    recorded_at=row["recorded_at"],
                    actor=row["actor"],
                    payload_sha256=_hex(row["payload_sha256"], f"leaf {leaf} payload hash", 32),
                    prev_hash=None if prev is None else _hex(prev, f"leaf {leaf} prev", 32),
                    key_id=str(row["key_id"]),
                    record_hash=_hex(row["record_hash"], f"leaf {leaf} record hash", 32),
                    signature=_hex(row["signature"], f"leaf {leaf} signature"),
                    event_stream=event_stream,
                    event_version=event_version,
                    event_topic=None if event is None else str(event["topic"]),
                    state=None if event is None else _unb64(event["state"], f"leaf {leaf} state"),
                )
            )
        except (KeyError, TypeError, ValueError) as e:
            raise _Tampered("format", f"malformed ledger row in {ENTRIES}: {e}") from None
    entries.sort(key=lambda e: e.leaf_index)
    return entries


def _fail_at(e: LedgerEntry, kind: str, message: str) -> _Tampered:
    return _Tampered(kind, f"leaf {e.leaf_index} (stream {e.stream} v{e.version}): {message}")


def _key_log(entries: Sequence[LedgerEntry]) -> list[_Key]:
    keys: list[_Key] = []
    for e in entries:
        if e.stream != KEY_LOG_STREAM:
            continue
        if e.topic != KEY_REGISTERED_TOPIC or e.state is None:
            raise _fail_at(e, "key_not_valid", "not a key registration")
        try:
            state = orjson.loads(e.state)
            key = _Key(
                str(state["key_id"]),
                bytes.fromhex(state["public_key"]),
                state["previous_key_id"],
                e.leaf_index,
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise _fail_at(e, "key_not_valid", "malformed key registration") from None
        if key_id_for(key.public_key) != key.key_id:
            raise _fail_at(e, "key_not_valid", f"key id {key.key_id} does not match its key")
        if any(k.key_id == key.key_id for k in keys):
            raise _fail_at(e, "key_not_valid", f"key {key.key_id} registered twice")
        if not keys:
            if e.leaf_index != 0 or e.version != 1 or key.previous_key_id is not None:
                raise _fail_at(e, "key_not_valid", "the genesis key must be leaf 0, version 1")
            if e.key_id != key.key_id:
                raise _fail_at(e, "key_not_valid", "leaf 0 must be signed by the key it registers")
        else:
            active = keys[-1]
            if key.previous_key_id != active.key_id or e.key_id != active.key_id:
                raise _fail_at(
                    e,
                    "key_not_valid",
                    f"rotation to {key.key_id} must name and be signed by the active key "
                    f"{active.key_id}",
                )
        keys.append(key)
    if not keys:
        raise _Tampered("key_not_valid", "the bundle holds no key log")
    return keys


def _active_at(keys: Sequence[_Key], leaf: int) -> _Key:
    """The key that signs leaf ``leaf`` (leaf 0: the genesis key registers itself)."""
    active = keys[0]
    for key in keys:
        if key.leaf < leaf:
            active = key
    return active


def _check_entries(entries: Sequence[LedgerEntry], keys: Sequence[_Key]) -> None:
    seen: set[int] = set()
    heads: dict[str, tuple[int, bytes]] = {}
    for e in entries:
        if e.leaf_index in seen:
            raise _fail_at(e, "format", "two rows for the same leaf")
        seen.add(e.leaf_index)
        if e.state is None or e.event_stream != e.stream or e.event_version != e.version:
            raise _fail_at(e, "missing", "its stored event is missing from the bundle")
        if e.event_topic != e.topic:
            raise _fail_at(e, "payload", "stored topic differs from the signed record")
        if hashlib.sha256(e.state).digest() != e.payload_sha256:
            raise _fail_at(e, "payload", "stored payload does not match its signed hash")
        try:
            data = e.record_bytes()
        except (orjson.JSONDecodeError, TypeError):
            raise _fail_at(e, "decode", "actor is not JSON") from None
        if hashlib.sha256(data).digest() != e.record_hash:
            raise _fail_at(e, "signature", "record fields were altered (record hash mismatch)")
        key = _active_at(keys, e.leaf_index)
        if e.key_id != key.key_id:
            raise _fail_at(
                e, "key_not_valid", f"signed by {e.key_id}; the active key was {key.key_id}"
            )
        try:
            Ed25519PublicKey.from_public_bytes(key.public_key).verify(e.signature, e.record_hash)
        except InvalidSignature:
            raise _fail_at(e, "signature", "invalid Ed25519 signature") from None
        head = heads.get(e.stream)
        if head is None:
            if e.version != 1 or e.prev_hash is not None:
                raise _fail_at(e, "chain", "the stream does not start at version 1 in the bundle")
        elif e.version != head[0] + 1 or e.prev_hash != head[1]:
            raise _fail_at(e, "chain", f"does not follow version {head[0]} of its stream")
        heads[e.stream] = (e.version, e.record_hash)


def _checkpoint(data: bytes, what: str, origin: str, keys: Sequence[_Key]) -> Checkpoint:
    try:
        body = Checkpoint.from_text(parse_note(data).text)
    except NoteError as e:
        raise _Tampered("checkpoint", f"{what} is not a valid signed checkpoint: {e}") from None
    if body.origin != origin:
        raise _Tampered("checkpoint", f"{what} is for {body.origin!r}, not {origin!r}")
    key = _active_at(keys, body.size)
    try:
        open_checkpoint(data, origin=origin, log_verifier=note_verifier(origin, key.public_key))
    except NoteError as e:
        raise _Tampered(
            "checkpoint",
            f"{what} (size {body.size}) is not validly signed by the ledger key {key.key_id} "
            f"active at that size: {e}",
        ) from None
    return body


def _check_proofs(
    files: dict[str, bytes],
    entries: Sequence[LedgerEntry],
    checkpoints: dict[int, Checkpoint],
) -> None:
    proofs: dict[int, dict[str, Any]] = {}
    for row in _lines(files.get(INCLUSION, b""), INCLUSION):
        proofs[int(row["leaf"])] = row
    for e in entries:
        found = proofs.get(e.leaf_index)
        if found is None:
            raise _fail_at(e, "proof", "no inclusion proof in the bundle")
        row = found
        size = int(row["tree_size"])
        checkpoint = checkpoints.get(size)
        if checkpoint is None:
            raise _fail_at(e, "proof", f"its proof is for tree size {size}, no bundled checkpoint")
        proof = [_hex(h, f"leaf {e.leaf_index} proof element", 32) for h in row["proof"]]
        try:
            verify_inclusion(
                e.leaf_index, size, hash_leaf(e.record_bytes()), proof, checkpoint.root_hash
            )
        except ProofError as error:
            raise _fail_at(
                e, "proof", f"inclusion proof against the checkpoint of size {size} fails: {error}"
            ) from None


def _check_keys_file(files: dict[str, bytes], keys: Sequence[_Key], origin: str) -> None:
    try:
        listed = orjson.loads(files[KEYS])["keys"]
        summary = [
            (k["key_id"], k["public_key"], k["previous_key_id"], k["leaf"], k["note_verifier_key"])
            for k in listed
        ]
    except (KeyError, TypeError, orjson.JSONDecodeError):
        raise _Tampered("format", f"{KEYS} is malformed") from None
    expected = [
        (
            k.key_id,
            k.public_key.hex(),
            k.previous_key_id,
            k.leaf,
            note_verifier(origin, k.public_key).encode(),
        )
        for k in keys
    ]
    if summary != expected:
        raise _Tampered("key_not_valid", f"{KEYS} disagrees with the key log")


def _check_decisions(app: Any, commission_id: UUID, report: BundleReport) -> None:
    recomputed = recompute_decisions(app, commission_id)
    if not recomputed.closed:
        report.warnings.append("the commission is not closed: no decision to recompute")
        return
    if not recomputed.identical:
        raise _Tampered(
            "decisions",
            "the decisions recomputed from the events differ from the recorded "
            f"DecisionsRecorded for dwelling(s) {', '.join(recomputed.differences())}",
        )
    report.checks.append(
        f"decisions recomputed from the events for {len(recomputed.recomputed)} dwelling(s): "
        "identical to the recorded DecisionsRecorded"
    )


def _check_cutoffs(app: Any, commission_id: UUID, entries: Sequence[LedgerEntry]) -> None:
    versions: dict[str, int] = {}
    for e in entries:
        versions[e.stream] = max(versions.get(e.stream, 0), e.version)
    commission = app.commission(commission_id)
    for member_id, cutoff in sorted(commission.cutoff.items()):
        stream = str(activity_id(commission_id, member_id))
        if versions.get(stream, 0) < cutoff:
            raise _Tampered(
                "missing",
                f"the activity stream of {member_id} stops at version {versions.get(stream, 0)} "
                f"but its closing cut-off is {cutoff}: counted events are missing",
            )


def _check_minutes(
    app: Any, commission_id: UUID, files: dict[str, bytes], report: BundleReport
) -> None:
    published_json = files.get(MINUTES_JSON)
    if published_json is None:
        if app.commission(commission_id).status in (Status.CLOSED, Status.MINUTES_APPROVED):
            raise _Tampered("minutes", "the commission is closed but the bundle has no minutes")
        return
    try:
        from projections.minutes import Household, build_minutes, render
    except ImportError:  # pragma: no cover - the minutes projection is part of the package
        report.warnings.append("minutes not recomputed: the minutes projection is unavailable")
        return
    try:
        published = orjson.loads(published_json)
        anchor = published.get("anchor")
        households = {k: Household(**v) for k, v in published["households"].items()}
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        raise _Tampered("minutes", f"{MINUTES_JSON} is malformed") from None
    minutes = build_minutes(app, commission_id, anchor)
    digest = minutes.digest
    if published.get("minutes_sha256") != digest:
        raise _Tampered(
            "minutes",
            f"the minutes recomputed from the events have SHA-256 {digest}; the published "
            f"minutes say {published.get('minutes_sha256')}",
        )
    approved = app.commission(commission_id).minutes_sha256
    if approved is not None and approved != digest:
        raise _Tampered(
            "minutes",
            f"the president approved minutes with SHA-256 {approved}, the events give {digest}",
        )
    full = dataclasses.replace(minutes, households=households)
    if render(full, "json") != published_json:
        raise _Tampered("minutes", f"{MINUTES_JSON} differs from the minutes recomputed")
    report.checks.append(
        f"minutes recomputed from the events: SHA-256 {digest}"
        + (", the digest the president approved" if approved else " (not approved yet)")
        + f"; {MINUTES_JSON} identical"
    )
    pdf = files.get(MINUTES_PDF)
    if pdf is not None:
        if render(full, "pdf") != pdf:
            raise _Tampered("minutes", f"{MINUTES_PDF} differs from the minutes recomputed")
        report.checks.append(f"{MINUTES_PDF} re-rendered identical (SHA-256 {_sha(pdf)})")
    report.warnings.append(
        "household summaries in the minutes are personal data read from the vault: taken "
        "from the bundle, not recomputable offline"
    )


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_anchor(
    anchor: bytes,
    keys: Sequence[_Key],
    checkpoints: dict[int, Checkpoint],
    report: BundleReport,
) -> None:
    from replay.anchor import is_checkpoint_text

    if is_checkpoint_text(anchor):
        try:
            given = Checkpoint.from_text(parse_note(anchor).text)
        except NoteError as e:
            raise BundleUnusable(f"the anchor is not a valid signed checkpoint: {e}") from None
        ours = checkpoints.get(given.size)
        if ours is None:
            report.warnings.append(
                f"the anchor checkpoint (size {given.size}) has no counterpart in the bundle "
                f"(sizes {', '.join(map(str, sorted(checkpoints)))}): relate them with "
                "`caleol verify --anchor` on the database"
            )
            return
        if (ours.origin, ours.root_hash) != (given.origin, given.root_hash):
            raise _Tampered(
                "anchor",
                f"the anchor checkpoint of size {given.size} has root "
                f"{given.root_hash.hex()}, the bundle's has {ours.root_hash.hex()}: "
                "the bundle's history is not the published one",
            )
        report.checks.append(f"anchor checkpoint (size {given.size}) matches the bundle's")
    else:
        text = anchor.strip().decode("ascii", errors="replace")
        try:
            anchor_id = (
                key_id_for(anchor)
                if len(anchor) == 32
                else (text if text.startswith("ed25519:") else key_id_for(bytes.fromhex(text)))
            )
        except ValueError:
            raise BundleUnusable("the anchor is neither a key nor a checkpoint") from None
        if anchor_id not in {k.key_id for k in keys}:
            raise _Tampered("anchor", f"the anchor key {anchor_id} is not in the bundle's key log")
        report.checks.append(f"anchor key {anchor_id} is in the bundle's key log")
    report.anchored = True


def verify_bundle(
    data: bytes,
    *,
    anchor: bytes | None = None,
    progress: Callable[[str], None] | None = None,
) -> BundleReport:
    """Verify an audit bundle offline. Raises `BundleUnusable` if it is not a bundle at all."""
    report = BundleReport(ok=True)
    say = progress or (lambda _: None)
    try:
        files_in_order = _read_zip(data)
        raw_manifest = dict(files_in_order)[MANIFEST]
        manifest = _load_manifest(raw_manifest)
        files = _check_manifest(manifest, files_in_order)
        if (
            canonical_zip(_ordered({**files, MANIFEST: raw_manifest}), BUNDLE_FORMAT.encode())
            != data
        ):
            raise _Tampered(
                "container",
                "the ZIP container differs from its canonical layout (bytes outside the "
                "files' contents were changed, or files were reordered)",
            )
        report.checks.append(f"container and manifest: {len(files)} files, SHA-256 verified")
        try:
            commission_id = UUID(str(manifest["commission_id"]))
            origin = str(manifest["origin"])
            points = manifest["checkpoints"]
        except (KeyError, TypeError, ValueError):
            raise _Tampered("manifest", "manifest.json lacks the commission or origin") from None
        report.commission_id = str(commission_id)
        say("entries")
        entries = _entries(files)
        keys = _key_log(entries)
        _check_entries(entries, keys)
        _check_keys_file(files, keys, origin)
        streams = sorted({e.stream for e in entries})
        report.checks.append(
            f"{len(entries)} entries of {len(streams)} streams: payload hashes, record hashes, "
            f"Ed25519 signatures, key validity ({len(keys)} key(s)) and hash chains verified"
        )
        expected_streams = {
            str(manifest["streams"]["commission"]),
            KEY_LOG_STREAM,
            *map(str, manifest["streams"]["activities"].values()),
        }
        if str(commission_id) not in streams:
            raise _Tampered("missing", "the commission's stream is not in the bundle")
        unexpected = sorted(set(streams) - expected_streams)
        if unexpected:
            raise _Tampered("format", f"stream {unexpected[0]} is not one of the commission's")
        say("checkpoints")
        latest_path = points.get("latest") if isinstance(points, dict) else None
        closing_path = points.get("closing") if isinstance(points, dict) else None
        if latest_path not in files or (closing_path is not None and closing_path not in files):
            raise _Tampered("checkpoint", "a checkpoint named by the manifest is missing")
        latest = _checkpoint(files[latest_path], latest_path, origin, keys)
        checkpoints = {latest.size: latest}
        if closing_path is not None:
            closing = _checkpoint(files[closing_path], closing_path, origin, keys)
            checkpoints[closing.size] = closing
            try:
                consistency = orjson.loads(files[CONSISTENCY])
                proof = [_hex(h, "consistency proof element", 32) for h in consistency["proof"]]
                if (consistency["old_size"], consistency["new_size"]) != (
                    closing.size,
                    latest.size,
                ):
                    raise _Tampered("proof", f"{CONSISTENCY} is not between the checkpoints")
                verify_consistency(
                    closing.size, latest.size, proof, closing.root_hash, latest.root_hash
                )
            except (KeyError, TypeError, orjson.JSONDecodeError):
                raise _Tampered("proof", f"{CONSISTENCY} is malformed") from None
            except ProofError as e:
                raise _Tampered(
                    "proof",
                    f"the latest checkpoint (size {latest.size}) does not extend the closing "
                    f"checkpoint (size {closing.size}): {e}",
                ) from None
        _check_proofs(files, entries, checkpoints)
        report.checks.append(
            "inclusion proofs of every entry verified against the checkpoint(s) of size "
            + " and ".join(str(s) for s in sorted(checkpoints))
            + f", signed by the ledger key ({origin})"
            + ("; the latest extends the closing checkpoint" if closing_path else "")
        )
        say("recomputation")
        try:
            app = offline_app(
                StoredEvent(e.stream, e.version, e.topic, e.state or b"")
                for e in entries
                if e.stream != KEY_LOG_STREAM
            )
            _check_cutoffs(app, commission_id, entries)
            _check_decisions(app, commission_id, report)
            _check_minutes(app, commission_id, files, report)
        except _Tampered:
            raise
        except Exception as e:
            raise _Tampered(
                "decode", f"the events cannot be replayed to recompute the commission: {e!r}"
            ) from None
        if anchor is not None:
            _check_anchor(anchor, keys, checkpoints, report)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        report.ok = False
        report.kind = "format"
        report.message = f"malformed bundle content: {e!r}"
        return report
    except _Tampered as t:
        report.ok = False
        report.kind = t.kind
        report.message = t.message
        return report
    report.message = (
        f"intact: commission {commission_id}, {len(entries)} events, closing checkpoint "
        + (f"of size {min(checkpoints)}" if closing_path else "absent (not closed)")
    )
    return report
