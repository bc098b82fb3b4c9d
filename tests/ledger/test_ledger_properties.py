"""Property: for random ledgers (random saves over a few streams, optional key rotations),
verify passes untouched and fails after any single mutation, naming the mutated leaf."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_ledger_support import MEMBER, STAFF, Note, Store, make_app, seed_signer

from ledger.config import open_recorder
from ledger.keys import StaticSigners
from ledger.verify import VerifyResult, verify_ledger

Op = tuple[str, tuple[int, ...]]

ops_strategy = st.lists(
    st.one_of(
        st.tuples(st.just("edit"), st.lists(st.integers(0, 2), min_size=1, max_size=4).map(tuple)),
        st.just(("rotate", ())),
    ),
    min_size=1,
    max_size=6,
)

MUTATIONS = (
    "flip_payload",
    "delete_both",
    "delete_event_only",
    "delete_entry",
    "swap",
    "move_payload",
    "edit_recorded_at",
    "edit_actor",
    "edit_prev",
    "edit_key_id",
    "forge_unknown_key",
    "forge_retired_key",
)


@dataclass
class Built:
    url: str
    signers: StaticSigners
    rotated: bool


def build(url: str, streams: int, ops: list[Op]) -> Built:
    seeds = iter(range(1, 100))
    signers = StaticSigners(seed_signer(next(seeds)))
    rotated = pending = False  # a rotation reaches the ledger with the next insert
    app = make_app(url, signers)
    try:
        notes = [Note(title=f"n{i}", actor=STAFF) for i in range(streams)]
        app.save(*notes)
        for kind, targets in ops:
            if kind == "rotate":
                signers.add(seed_signer(next(seeds)))
                pending = True
                continue
            chosen = sorted({t % streams for t in targets})
            for index in chosen:
                notes[index].edit(line=f"edit by {index}", actor=MEMBER)
            app.save(*(notes[i] for i in chosen))
            rotated = rotated or pending
    finally:
        app.close()
    return Built(url, signers, rotated)


def verify(url: str) -> VerifyResult:
    factory, recorder = open_recorder(url, create=False)
    try:
        return verify_ledger(recorder, workers=1)
    finally:
        factory.close()


def mutate(built: Built, mutation: str, pick: Callable[[int], int]) -> tuple[str, int | None]:
    """Apply one mutation; return the expected (failure kind, leaf)."""
    store = Store(built.url)
    entries = store.entries()
    events = store.event_entries()
    last_leaf = entries[-1][0]
    if mutation == "flip_payload":
        leaf, nid, _, _ = events[pick(len(events))]
        store.flip_payload_byte(nid)
        return "payload", leaf
    if mutation == "delete_both":
        middle = [e for e in events if e[0] != last_leaf]
        assume(middle)
        leaf, nid, _, _ = middle[pick(len(middle))]
        store.delete_event(nid, ledger_too=True)
        return "gap", leaf
    if mutation == "delete_event_only":
        leaf, nid, _, _ = events[pick(len(events))]
        store.delete_event(nid, ledger_too=False)
        return "missing", leaf
    if mutation == "delete_entry":
        leaf = entries[pick(len(entries))][0]
        store.delete_entry(leaf)
        return ("orphan_event", None) if leaf == last_leaf else ("gap", leaf)
    if mutation == "swap":
        assume(len(events) >= 2)
        i = pick(len(events))
        j = pick(len(events) - 1)
        j = j + 1 if j >= i else j
        a, b = sorted((events[i], events[j]))
        store.swap_events(a[1], b[1])
        return "reordered", a[0]
    if mutation == "move_payload":
        assume(len(events) >= 2)
        i = pick(len(events))
        j = pick(len(events) - 1)
        j = j + 1 if j >= i else j
        assume(store.state(events[i][1]) != store.state(events[j][1]))
        store.move_payload(events[i][1], events[j][1])
        return "payload", events[j][0]
    if mutation == "edit_recorded_at":
        leaf = entries[pick(len(entries))][0]
        store.edit_entry(leaf, "recorded_at", "1999-12-31T23:59:59.999999Z")
        return "signature", leaf
    if mutation == "edit_actor":
        leaf = entries[pick(len(entries))][0]
        store.edit_entry(leaf, "actor", '{"id":"intruder","on_behalf_of":null,"role":"staff"}')
        return "signature", leaf
    if mutation == "edit_prev":
        leaf = entries[pick(len(entries))][0]
        store.edit_entry(leaf, "prev_hash", os.urandom(32))
        return "chain", leaf
    if mutation == "edit_key_id":
        leaf = entries[pick(len(entries))][0]
        store.edit_entry(leaf, "key_id", seed_signer(200).key_id)
        return "unknown_key", leaf
    if mutation == "forge_unknown_key":
        return "unknown_key", store.append_signed(seed_signer(201))
    assert mutation == "forge_retired_key"
    assume(built.rotated)
    retired = seed_signer(1)
    return "key_not_valid", store.append_signed(retired)


def check_property(
    url: str, streams: int, ops: list[Op], mutation: str | None, data: st.DataObject
) -> None:
    built = build(url, streams, ops)
    result = verify(url)
    assert result.ok, result.message
    if mutation is None:
        return
    kind, leaf = mutate(built, mutation, lambda n: data.draw(st.integers(0, n - 1)))
    result = verify(url)
    assert not result.ok, f"{mutation} not detected"
    assert (result.kind, result.leaf) == (kind, leaf), result.message


def property_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@property_settings(100)
@given(
    streams=st.integers(1, 3),
    ops=ops_strategy,
    mutation=st.one_of(st.none(), st.sampled_from(MUTATIONS)),
    data=st.data(),
)
def test_ledger_sqlite_any_single_mutation_is_detected(
    fresh_store: Callable[[str], str],
    streams: int,
    ops: list[Op],
    mutation: str | None,
    data: st.DataObject,
) -> None:
    check_property(fresh_store("sqlite"), streams, ops, mutation, data)


@pytest.mark.postgres
@property_settings(20)
@given(
    streams=st.integers(1, 3),
    ops=ops_strategy,
    mutation=st.one_of(st.none(), st.sampled_from(MUTATIONS)),
    data=st.data(),
)
def test_ledger_postgres_any_single_mutation_is_detected(
    pg_dbname: str,
    fresh_store: Callable[[str], str],
    streams: int,
    ops: list[Op],
    mutation: str | None,
    data: st.DataObject,
) -> None:
    check_property(fresh_store("postgres"), streams, ops, mutation, data)
