"""C2SP signed notes and tlog checkpoints: the public vector, round trips and rejections."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from ledger.checkpoint import (
    DEFAULT_ORIGIN_PREFIX,
    Checkpoint,
    CheckpointError,
    MalformedCheckpointError,
    OriginMismatchError,
    ledger_origin,
    open_checkpoint,
    sign_checkpoint,
)
from ledger.merkle import DictNodeStore, MerkleTree
from ledger.signed_note import (
    InvalidKeyError,
    InvalidSignatureError,
    MalformedNoteError,
    NoteError,
    Signature,
    Signer,
    UnverifiedNoteError,
    Verifier,
    key_id,
    open_note,
    parse_note,
    sign_note,
)


def _testdata_dir() -> Path:
    override = os.environ.get("CALEOL_TESTDATA")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2].parent / "shared" / "testdata"


VECTOR_PATH = _testdata_dir() / "signed-note-vector.json"
EM_DASH = "\u2014"


@pytest.fixture(scope="module")
def vector() -> dict[str, Any]:
    assert VECTOR_PATH.is_file(), f"signed-note vector not found at {VECTOR_PATH}"
    data: dict[str, Any] = json.loads(VECTOR_PATH.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def alice() -> Signer:
    return Signer.from_seed("alice.example", bytes(range(32)))


@pytest.fixture(scope="module")
def bob() -> Signer:
    return Signer.from_seed("bob.example", bytes(range(32, 64)))


TEXT = "caleol.example/ledger/test\n3\nAAAA\n"


# --------------------------------------------------------------------------------------------
# The public vector (golang.org/x/mod/sumdb/note TestSign)


def test_vector_signature_is_reproduced_exactly(vector: dict[str, Any]) -> None:
    signer = Signer.parse(vector["signer_key"])
    assert signer.name == "PeterNeumann"
    assert signer.key_id.hex() == vector["key_id_hex"]
    note = sign_note(vector["text"], [signer])
    expected_line = f"{EM_DASH} PeterNeumann {vector['signature_b64']}\n"
    assert note == vector["text"] + "\n" + expected_line
    parsed = parse_note(note)
    assert parsed.text == vector["text"]
    (sig,) = parsed.signatures
    assert base64.b64encode(sig.key_id + sig.signature).decode() == vector["signature_b64"]
    assert parsed.encode() == note


def test_vector_key_round_trips_and_verifies(vector: dict[str, Any]) -> None:
    signer = Signer.parse(vector["signer_key"])
    assert signer.encode_private() == vector["signer_key"]
    vkey = signer.verifier.encode()
    assert vkey.startswith(f"PeterNeumann+{vector['key_id_hex']}+")
    verifier = Verifier.parse(vkey)
    assert verifier == signer.verifier
    note = vector["text"] + "\n" + f"{EM_DASH} PeterNeumann {vector['signature_b64']}\n"
    opened = open_note(note.encode("utf-8"), [verifier])
    assert opened.text == vector["text"]
    assert [s.name for s in opened.verified] == ["PeterNeumann"]
    assert opened.unverified == ()


def test_key_id_formula(alice: Signer) -> None:
    public = alice.verifier.public_key
    digest = hashlib.sha256(b"alice.example\n\x01" + public).digest()
    assert key_id("alice.example", public) == digest[:4] == alice.key_id


def test_signer_repr_hides_the_seed(alice: Signer) -> None:
    text = repr(alice)
    assert "alice.example" in text
    assert base64.b64encode(bytes(range(32))).decode()[:8] not in text


# --------------------------------------------------------------------------------------------
# Keys


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "alice",
        "alice+00000000",
        "al ice+00000000+AQ==",
        "+00000000+AQ==",
        "alice+0000000+AQ==",
        "alice+0000000g+AQ==",
    ],
)
def test_malformed_verifier_keys_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidKeyError):
        Verifier.parse(bad)


def test_verifier_key_checks_id_algorithm_and_length(alice: Signer) -> None:
    vkey = alice.verifier.encode()
    name, id_hex, material = vkey.split("+", 2)
    with pytest.raises(InvalidKeyError, match="does not match"):
        Verifier.parse(f"{name}+{'00000000' if id_hex != '00000000' else '11111111'}+{material}")
    with pytest.raises(InvalidKeyError, match="does not match"):
        Verifier.parse(f"bob.example+{id_hex}+{material}")
    raw = base64.b64decode(material)
    other_alg = base64.b64encode(b"\x04" + raw[1:]).decode()
    with pytest.raises(InvalidKeyError, match="unsupported signature type"):
        Verifier.parse(f"{name}+{id_hex}+{other_alg}")
    short = base64.b64encode(raw[:-1]).decode()
    with pytest.raises(InvalidKeyError, match="32 bytes"):
        Verifier.parse(f"{name}+{id_hex}+{short}")
    with pytest.raises(InvalidKeyError, match="base64"):
        Verifier.parse(f"{name}+{id_hex}+{material[:-1]}!")
    assert Verifier.parse(f"{name}+{id_hex.upper()}+{material}") == alice.verifier


def test_signer_key_rejections(alice: Signer) -> None:
    skey = alice.encode_private()
    assert Signer.parse(skey).verifier == alice.verifier
    with pytest.raises(InvalidKeyError):
        Signer.parse(skey.removeprefix("PRIVATE+"))
    with pytest.raises(InvalidKeyError, match="does not match"):
        Signer.parse(skey.replace("alice.example", "mallory.example"))
    with pytest.raises(InvalidKeyError):
        Signer.from_seed("alice.example", b"short")


@pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\there", "nbsp\u00a0x"])
def test_invalid_key_names(name: str) -> None:
    with pytest.raises(InvalidKeyError):
        Signer.from_seed(name, bytes(32))


# --------------------------------------------------------------------------------------------
# Signing and opening


def test_multiple_signatures(alice: Signer, bob: Signer) -> None:
    note = sign_note(TEXT, [alice, bob])
    assert [s.name for s in parse_note(note).signatures] == ["alice.example", "bob.example"]

    both = open_note(note, [alice.verifier, bob.verifier])
    assert [s.name for s in both.verified] == ["alice.example", "bob.example"]
    assert both.signed_by(alice.verifier) and both.signed_by(bob.verifier)

    only_bob = open_note(note, [bob.verifier])
    assert [s.name for s in only_bob.verified] == ["bob.example"]
    assert [s.name for s in only_bob.unverified] == ["alice.example"]
    assert not only_bob.signed_by(alice.verifier)


def test_cosigning_keeps_existing_signatures(alice: Signer, bob: Signer) -> None:
    first = parse_note(sign_note(TEXT, [alice]))
    cosigned = sign_note(first.text, [bob], existing=first.signatures)
    assert cosigned == sign_note(TEXT, [alice, bob])


def test_unknown_key_is_rejected(alice: Signer, bob: Signer) -> None:
    note = sign_note(TEXT, [alice])
    with pytest.raises(UnverifiedNoteError):
        open_note(note, [bob.verifier])
    with pytest.raises(UnverifiedNoteError):
        open_note(note, [])
    # Same name, another key (e.g. after rotation): a different key id, so unknown.
    impostor = Signer.from_seed("alice.example", bytes(32))
    with pytest.raises(UnverifiedNoteError):
        open_note(note, [impostor.verifier])


def test_bad_signature_is_rejected(alice: Signer, bob: Signer) -> None:
    note = sign_note(TEXT, [alice, bob])
    sig = parse_note(note).signatures[0]
    flipped = bytes([sig.signature[0] ^ 1]) + sig.signature[1:]
    tampered = note.replace(sig.line(), Signature(sig.name, sig.key_id, flipped).line())
    with pytest.raises(InvalidSignatureError):
        open_note(tampered, [alice.verifier, bob.verifier])
    # A bad signature by a known key is fatal even when another known key signed correctly.
    with pytest.raises(InvalidSignatureError):
        open_note(tampered, [alice.verifier])
    truncated = note.replace(sig.line(), Signature(sig.name, sig.key_id, sig.signature[:63]).line())
    with pytest.raises(InvalidSignatureError):
        open_note(truncated, [alice.verifier])


def test_modified_text_is_rejected(alice: Signer) -> None:
    note = sign_note(TEXT, [alice])
    with pytest.raises(InvalidSignatureError):
        open_note(note.replace("\n3\n", "\n4\n"), [alice.verifier])


def test_duplicate_signatures(alice: Signer) -> None:
    note = sign_note(TEXT, [alice])
    line = parse_note(note).signatures[0].line()
    opened = open_note(note + line, [alice.verifier])
    assert len(opened.verified) == 1
    bad = Signature("alice.example", alice.key_id, bytes(64)).line()
    with pytest.raises(InvalidSignatureError):
        open_note(note + bad, [alice.verifier])


def test_ambiguous_verifiers_are_rejected(alice: Signer) -> None:
    clash = Verifier.__new__(Verifier)
    object.__setattr__(clash, "name", alice.name)
    object.__setattr__(clash, "public_key", bytes(32))
    object.__setattr__(clash, "key_id", alice.key_id)
    with pytest.raises(InvalidKeyError, match="ambiguous"):
        open_note(sign_note(TEXT, [alice]), [alice.verifier, clash])


@pytest.mark.parametrize("text", ["", "no newline", "tab\there\n", "nul\x00\n", "cr\r\n"])
def test_sign_rejects_malformed_text(alice: Signer, text: str) -> None:
    with pytest.raises(MalformedNoteError):
        sign_note(text, [alice])


@pytest.mark.parametrize(
    "text", ["\n", "a\n\nb\n", "trailing blank\n\n", "DEL \x7f and é, ü, 漢字\n"]
)
def test_texts_with_blank_lines_and_unicode_round_trip(alice: Signer, text: str) -> None:
    note = sign_note(text, [alice])
    assert parse_note(note).text == text
    assert open_note(note, [alice.verifier]).text == text


def test_sign_needs_a_signer() -> None:
    with pytest.raises(NoteError):
        sign_note(TEXT, [])


MALFORMED_CASES = [
    "no blank line",
    "no signatures",
    "no final newline",
    "hyphen instead of em dash",
    "en dash instead of em dash",
    "no space after dash",
    "missing base64",
    "empty base64",
    "bad base64",
    "unpadded base64",
    "non-canonical base64",
    "too short",
    "plus in name",
    "trailing blank line",
    "garbage line",
    "control character",
    "invalid utf-8",
    "too many signatures",
]


def _malformed_variant(note: str, case: str) -> str | bytes:
    line = parse_note(note).signatures[0].line()
    body = note[: -len(line)]
    encoded = line.rstrip("\n").split(" ", 2)[2]
    # 68 bytes encode to 92 chars ending in one "="; the last data char carries 2 unused bits.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    non_canonical = encoded[:-2] + alphabet[alphabet.index(encoded[-2]) ^ 1] + "="
    assert base64.b64decode(non_canonical) == base64.b64decode(encoded) != b""
    variants: dict[str, str | bytes] = {
        "no blank line": note.replace("\n\n", "\n"),
        "no signatures": body,
        "no final newline": note[:-1],
        "hyphen instead of em dash": note.replace(EM_DASH, "-"),
        "en dash instead of em dash": note.replace(EM_DASH, "\u2013"),
        "no space after dash": note.replace(f"{EM_DASH} ", EM_DASH),
        "missing base64": body + f"{EM_DASH} alice.example\n",
        "empty base64": body + f"{EM_DASH} alice.example \n",
        "bad base64": body + f"{EM_DASH} alice.example {encoded[:-2]}!=\n",
        "unpadded base64": body + f"{EM_DASH} alice.example {encoded.rstrip('=')}\n",
        "non-canonical base64": body + f"{EM_DASH} alice.example {non_canonical}\n",
        "too short": body + f"{EM_DASH} alice.example AAAAAA==\n",
        "plus in name": note.replace("alice.example", "alice+example"),
        "trailing blank line": note + "\n",
        "garbage line": note + "garbage\n",
        "control character": note.replace("test", "te\x01st"),
        "invalid utf-8": note.encode("utf-8").replace(b"test", b"te\xffst"),
        "too many signatures": body + line * 101,
    }
    assert sorted(variants) == sorted(MALFORMED_CASES)
    return variants[case]


@pytest.mark.parametrize("case", MALFORMED_CASES)
def test_malformed_notes_are_rejected(alice: Signer, case: str) -> None:
    note = sign_note(TEXT, [alice])
    with pytest.raises(MalformedNoteError):
        open_note(_malformed_variant(note, case), [alice.verifier])


def test_unknown_signature_types_are_kept_unverified(alice: Signer) -> None:
    note = sign_note(TEXT, [alice])
    witness = Signature("witness.example", b"\x01\x02\x03\x04", b"\x00" * 72).line()
    opened = open_note(note + witness, [alice.verifier])
    assert [s.name for s in opened.unverified] == ["witness.example"]


# --------------------------------------------------------------------------------------------
# Checkpoints


ROOT = hashlib.sha256(b"root").digest()


def test_ledger_origin() -> None:
    assert ledger_origin("bailleur-42") == "caleol.example/ledger/bailleur-42"
    assert DEFAULT_ORIGIN_PREFIX == "caleol.example/ledger/"
    assert ledger_origin("x", prefix="hlm.example.fr/caleol/") == "hlm.example.fr/caleol/x"
    for bad in ["", "a b", "a/b", "-x", "a\nb", "a+b"]:
        with pytest.raises(CheckpointError):
            ledger_origin(bad)


def test_checkpoint_body_format() -> None:
    checkpoint = Checkpoint("caleol.example/ledger/t", 12, ROOT)
    assert checkpoint.to_text() == (
        f"caleol.example/ledger/t\n12\n{base64.b64encode(ROOT).decode()}\n"
    )
    with_ext = Checkpoint("o", 0, ROOT, ("ext one", "ext two"))
    assert with_ext.to_text().endswith("\next one\next two\n")
    assert Checkpoint.from_text(with_ext.to_text()) == with_ext
    assert Checkpoint.from_text(checkpoint.to_text()) == checkpoint


@pytest.mark.parametrize(
    "body",
    [
        "",
        "o\n1\n",
        "o\n1\nROOT",
        "\n1\nROOT\n",
        "o\n01\nROOT\n",
        "o\n-1\nROOT\n",
        "o\n+1\nROOT\n",
        "o\n1.0\nROOT\n",
        "o\n 1\nROOT\n",
        "o\n\nROOT\n",
        f"o\n{2**64}\nROOT\n",
        "o\n1\nAAAA\n",
        "o\n1\nROOT\n\n",
        "o\n1\nROOT\next\n\nmore\n",
        "o\n1\nROOT-NOPAD\n",
        "o\r\n1\nROOT\n",
    ],
)
def test_malformed_checkpoint_bodies(body: str) -> None:
    root_b64 = base64.b64encode(ROOT).decode()
    body = body.replace("ROOT-NOPAD", root_b64.rstrip("=")).replace("ROOT", root_b64)
    with pytest.raises(MalformedCheckpointError):
        Checkpoint.from_text(body)


def test_checkpoint_rejects_bad_fields() -> None:
    with pytest.raises(MalformedCheckpointError):
        Checkpoint("", 1, ROOT)
    with pytest.raises(MalformedCheckpointError):
        Checkpoint("o", -1, ROOT)
    with pytest.raises(MalformedCheckpointError):
        Checkpoint("o", 1, ROOT[:31])
    with pytest.raises(MalformedCheckpointError):
        Checkpoint("o", 1, ROOT, ("",))
    with pytest.raises(MalformedCheckpointError):
        Checkpoint("o", 1, ROOT, ("a\nb",))


def test_signed_checkpoint_of_a_merkle_tree(alice: Signer, bob: Signer) -> None:
    origin = ledger_origin("test")
    log_key = Signer.from_seed(origin, bytes(range(100, 132)))
    tree = MerkleTree(DictNodeStore())
    for i in range(10):
        tree.append(f"event {i}".encode())
    checkpoint = Checkpoint(origin, tree.size, tree.root())
    note = sign_checkpoint(checkpoint, [log_key, bob])

    opened = open_checkpoint(note, origin=origin, log_verifier=log_key.verifier)
    assert opened.checkpoint == checkpoint
    assert [s.name for s in opened.note.unverified] == ["bob.example"]
    witnessed = open_checkpoint(
        note, origin=origin, log_verifier=log_key.verifier, other_verifiers=[bob.verifier]
    )
    assert len(witnessed.note.verified) == 2

    with pytest.raises(OriginMismatchError):
        open_checkpoint(note, origin=ledger_origin("other"), log_verifier=log_key.verifier)
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(note, origin=origin, log_verifier=alice.verifier)
    with pytest.raises(CheckpointError, match="not signed by the log key"):
        open_checkpoint(
            note, origin=origin, log_verifier=alice.verifier, other_verifiers=[bob.verifier]
        )
    forged = note.replace(f"\n{tree.size}\n", f"\n{tree.size + 1}\n")
    with pytest.raises(InvalidSignatureError):
        open_checkpoint(forged, origin=origin, log_verifier=log_key.verifier)


def test_signed_but_malformed_checkpoint_is_rejected(alice: Signer) -> None:
    note = sign_note("caleol.example/ledger/t\n007\nAAAA\n", [alice])
    with pytest.raises(MalformedCheckpointError):
        open_checkpoint(note, origin="caleol.example/ledger/t", log_verifier=alice.verifier)
