"""Audit bundles: export, offline verification, recomputation, and tamper detection.

- ``verify --bundle`` needs no database and recomputes decisions and minutes identical to what
  the platform recorded and published;
- any single byte changed anywhere in the bundle is detected (property-based), and so are
  a file changed with its ZIP checksum fixed, a payload changed with the manifest re-hashed,
  a removed ballot, a truncated stream, decisions the platform signed but did not compute
  from the ballots, and minutes approved with another digest;
- input that is not a bundle is "unusable" (exit 2), tampering exit 1.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from audit_support import Closed, build_closed
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ledger.application
from api.cli import main
from domain.participation import activity_id
from projections.minutes import minutes_digest, render_minutes
from replay.bundle import (
    BUNDLE_FORMAT,
    CONSISTENCY,
    ENTRIES,
    INCLUSION,
    MANIFEST,
    MINUTES_JSON,
    STORED_EVENTS,
    BundleUnusable,
    build_bundle,
    canonical_zip,
    verify_bundle,
)
from replay.offline import offline_app, recompute_decisions


@pytest.fixture(scope="module")
def bundle(closed: Closed) -> bytes:
    data, _ = build_bundle(closed.app, closed.cid)
    return data


def _files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _repack(data: bytes, edit: Callable[[dict[str, bytes]], None], *, manifest: bool) -> bytes:
    """Edit the files, optionally re-hash them in the manifest, and write a canonical ZIP."""
    files = _files(data)
    edit(files)
    if manifest:
        listed = orjson.loads(files[MANIFEST])
        listed["files"] = [
            {"path": p, "sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
            for p, d in sorted(files.items())
            if p != MANIFEST
        ]
        files[MANIFEST] = orjson.dumps(listed, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)
    others = sorted((p, d) for p, d in files.items() if p != MANIFEST)
    ordered = [(MANIFEST, files[MANIFEST]), *others]
    return canonical_zip(ordered, BUNDLE_FORMAT.encode())


def _jsonl(data: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in data.splitlines()]


def _dump(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) + b"\n" for r in rows)


# -- what the platform published, recomputed offline ----------------------------------------


def test_bundle_verifies_offline_and_recomputes_decisions_and_minutes(
    closed: Closed, bundle: bytes
) -> None:
    report = verify_bundle(bundle)
    assert report.ok, report.message
    text = "\n".join(report.checks)
    assert "identical to the recorded DecisionsRecorded" in text
    assert "the digest the president approved" in text and "minutes.pdf re-rendered" in text
    # The same decisions and minutes as the platform's, recomputed from the bundle alone.
    files = _files(bundle)
    events = [
        (row["originator_id"], row["originator_version"], row["topic"], row["state"])
        for row in _jsonl(files[STORED_EVENTS])
    ]
    from eventsourcing.persistence import StoredEvent

    app = offline_app(StoredEvent(i, v, t, base64.b64decode(s)) for i, v, t, s in events)
    recomputed = recompute_decisions(app, closed.cid)
    platform = closed.app.commission(closed.cid)
    assert recomputed.recomputed == [platform.decisions[d] for d in sorted(platform.decisions)]
    assert minutes_digest(app, app.commission(closed.cid)) == platform.minutes_sha256
    anchor = orjson.loads(files[MINUTES_JSON])["anchor"]
    assert files[MINUTES_JSON] == render_minutes(closed.app, closed.cid, "json", anchor=anchor)
    assert anchor["size"] == int(files["checkpoints/closing.txt"].split(b"\n")[1])


def test_export_is_deterministic_and_proves_late_events_against_the_latest(
    closed: Closed, bundle: bytes
) -> None:
    again, summary = build_bundle(closed.app, closed.cid)
    assert again == bundle
    assert summary.closing_size is not None and summary.latest_size > summary.closing_size
    files = _files(bundle)
    late = [p for p in _jsonl(files[INCLUSION]) if p["tree_size"] == summary.latest_size]
    assert {p["leaf"] for p in late} == set(range(summary.closing_size, summary.latest_size))
    assert orjson.loads(files[CONSISTENCY])["old_size"] == summary.closing_size


def test_cli_export_and_verify_without_a_database(closed: Closed, tmp_path: Path) -> None:
    out = tmp_path / "bundle.zip"
    runner = CliRunner()
    env = {"CALEOL_KEY_DIR": str(closed.key_dir)}
    result = runner.invoke(
        main, ["export", str(closed.cid), "--db", closed.url, "--out", str(out)], env=env
    )
    assert result.exit_code == 0, result.output
    nowhere = {"CALEOL_DATABASE_URL": f"sqlite:///{tmp_path}/missing/none.db"}
    ok = runner.invoke(main, ["verify", "--bundle", str(out)], env=nowhere)
    assert ok.exit_code == 0, ok.output
    assert "decisions recomputed" in ok.output and "Consistent, not anchored" in ok.output
    bad = bytearray(out.read_bytes())
    bad[len(bad) // 2] ^= 0x40
    (tmp_path / "bad.zip").write_bytes(bytes(bad))
    tampered = runner.invoke(main, ["verify", "--bundle", str(tmp_path / "bad.zip")], env=nowhere)
    assert tampered.exit_code == 1 and "TAMPERED" in tampered.output
    (tmp_path / "notes.txt").write_text("hello")
    unusable = runner.invoke(main, ["verify", "--bundle", str(tmp_path / "notes.txt")])
    assert unusable.exit_code == 2 and "not an audit bundle" in unusable.output
    missing = runner.invoke(main, ["verify", "--bundle", str(tmp_path / "nope.zip")])
    assert missing.exit_code == 2


# -- tamper detection -----------------------------------------------------------------------


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_single_byte_changed_is_detected(bundle: bytes, data: st.DataObject) -> None:
    position = data.draw(st.integers(min_value=0, max_value=len(bundle) - 1), label="position")
    flip = data.draw(st.integers(min_value=1, max_value=255), label="xor")
    altered = bytearray(bundle)
    altered[position] ^= flip
    report = verify_bundle(bytes(altered))  # never "unusable": it is a damaged bundle
    assert not report.ok and report.kind and report.message


def test_every_byte_of_the_container_structure_is_covered(bundle: bytes) -> None:
    # Headers, central directory and comment: the last 3 KB and every local header.
    positions = set(range(max(0, len(bundle) - 3000), len(bundle)))
    start = 0
    while (found := bundle.find(b"PK\x03\x04", start)) >= 0:
        positions.update(range(found, found + 30))
        start = found + 4
    for position in sorted(positions):
        altered = bytearray(bundle)
        altered[position] ^= 0x01
        assert not verify_bundle(bytes(altered)).ok, position


def test_a_file_changed_with_its_zip_checksum_fixed_is_named(bundle: bytes) -> None:
    def edit(files: dict[str, bytes]) -> None:
        files[ENTRIES] = files[ENTRIES].replace(b'"version":1', b'"version":9', 1)

    report = verify_bundle(_repack(bundle, edit, manifest=False))
    assert not report.ok and report.kind == "file"
    assert f"{ENTRIES} was altered" in report.message


def test_a_payload_changed_with_the_manifest_rehashed_fails_its_signed_hash(
    closed: Closed, bundle: bytes
) -> None:
    def edit(files: dict[str, bytes]) -> None:
        rows = _jsonl(files[STORED_EVENTS])
        for row in rows:
            if row["topic"].endswith("BallotSubmitted"):
                state = orjson.loads(base64.b64decode(row["state"]))
                state["ranking"] = list(reversed(state["ranking"]))
                row["state"] = base64.b64encode(
                    orjson.dumps(state, option=orjson.OPT_SORT_KEYS)
                ).decode()
                break
        files[STORED_EVENTS] = _dump(rows)

    report = verify_bundle(_repack(bundle, edit, manifest=True))
    assert not report.ok and report.kind == "payload"
    assert "does not match its signed hash" in report.message


def test_a_removed_ballot_breaks_its_stream_chain(closed: Closed, bundle: bytes) -> None:
    board2 = str(activity_id(closed.cid, "board2"))

    def edit(files: dict[str, bytes]) -> None:
        rows = _jsonl(files[ENTRIES])
        victim = next(r for r in rows if r["stream"] == board2 and r["version"] == 3)
        files[ENTRIES] = _dump([r for r in rows if r is not victim])

    report = verify_bundle(_repack(bundle, edit, manifest=True))
    assert not report.ok and report.kind == "chain", report.message


def test_a_counted_tail_cut_from_a_stream_is_missing(closed: Closed, bundle: bytes) -> None:
    tenants = str(activity_id(closed.cid, "tenants"))

    def edit(files: dict[str, bytes]) -> None:
        rows = _jsonl(files[ENTRIES])
        last = max(r["version"] for r in rows if r["stream"] == tenants)
        files[ENTRIES] = _dump(
            [r for r in rows if not (r["stream"] == tenants and r["version"] == last)]
        )

    report = verify_bundle(_repack(bundle, edit, manifest=True))
    assert not report.ok and report.kind == "missing"
    assert "closing cut-off" in report.message


def test_signed_decisions_not_computed_from_the_ballots_are_detected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ledger.application.decide_all

    def biased(commission: Any, activities: Any) -> list[dict[str, Any]]:
        decisions = real(commission, activities)
        first = decisions[0]
        first["ranking"] = list(reversed(first["ranking"]))  # the platform "adjusts" a result
        return decisions

    monkeypatch.setattr(ledger.application, "decide_all", biased)
    built = build_closed(f"sqlite:///{tmp_path}/l.db", tmp_path / "keys", approve=False)
    monkeypatch.undo()
    data, _ = build_bundle(built.app, built.cid)
    report = verify_bundle(data)
    built.app.close()
    assert not report.ok and report.kind == "decisions"
    assert "differ from the recorded DecisionsRecorded for dwelling(s) D1" in report.message


def test_minutes_approved_with_another_digest_are_detected(tmp_path: Path) -> None:
    built = build_closed(
        f"sqlite:///{tmp_path}/l.db", tmp_path / "keys", minutes_digest=lambda *_: "0" * 64
    )
    data, _ = build_bundle(built.app, built.cid)
    report = verify_bundle(data)
    built.app.close()
    assert not report.ok and report.kind == "minutes"
    assert "approved minutes with SHA-256 " + "0" * 64 in report.message


def _zip_without_manifest() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", b"not a bundle")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [b"", b"hello", b"PK\x05\x06" + bytes(18), _zip_without_manifest()],
    ids=["empty", "text", "empty-zip", "no-manifest"],
)
def test_input_that_is_no_bundle_is_unusable(data: bytes) -> None:
    with pytest.raises(BundleUnusable):
        verify_bundle(data)


def test_another_bundle_format_version_is_unusable(bundle: bytes) -> None:
    def edit(files: dict[str, bytes]) -> None:
        files[MANIFEST] = files[MANIFEST].replace(BUNDLE_FORMAT.encode(), b"caleol-audit-bundle/9")

    with pytest.raises(BundleUnusable, match="unsupported bundle format"):
        verify_bundle(_repack(bundle, edit, manifest=False))


def test_anchors_key_and_checkpoint(closed: Closed, bundle: bytes) -> None:
    files = _files(bundle)
    public = orjson.loads(files["keys.json"])["keys"][0]["public_key"]
    assert verify_bundle(bundle, anchor=public.encode()).anchored
    other = verify_bundle(bundle, anchor=("ab" * 32).encode())
    assert not other.ok and other.kind == "anchor"
    closing = files["checkpoints/closing.txt"]
    assert verify_bundle(bundle, anchor=closing).anchored
    lines = closing.decode().split("\n")
    lines[2] = base64.b64encode(b"\x00" * 32).decode()
    forged = verify_bundle(bundle, anchor="\n".join(lines).encode())
    assert not forged.ok and forged.kind == "anchor"


@pytest.mark.postgres
def test_bundle_from_postgres_verifies(audit_pg_url: str, tmp_path: Path) -> None:
    built = build_closed(audit_pg_url, tmp_path / "keys")
    data, summary = build_bundle(built.app, built.cid)
    built.app.close()
    report = verify_bundle(data)
    assert report.ok, report.message
    assert summary.pdf and summary.closing_size
