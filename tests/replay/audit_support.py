"""A closed commission on a real ledger store, for the regulator-toolkit tests (no tests here).

The commission has a proxy, a tie broken by a casting vote, a referral, a revised ballot, a
ballot recorded after its member's cut-off (late) and approved minutes; the ledger key comes
from a fixed seed, so everything is deterministic but the wall-clock-free parts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from domain.actor import Actor
from ledger.application import CaleolApplication
from ledger.config import environment_for
from ledger.keys import KeyStore
from tests.scenario import STAFF, TUESDAY_0900, FakeClock, SeqIds, build

SEED = bytes(range(32))


@dataclass
class Closed:
    app: CaleolApplication
    clock: FakeClock
    cid: UUID
    url: str
    key_dir: Path


def ledger_app(url: str, key_dir: Path, clock: FakeClock) -> CaleolApplication:
    KeyStore(key_dir).import_seed(SEED)
    env = environment_for(url, key_dir=key_dir)
    return CaleolApplication(env=env, clock=clock, ids=SeqIds())


def build_closed(
    url: str,
    key_dir: Path,
    *,
    approve: bool = True,
    minutes_digest: Callable[[CaleolApplication, Any], str] | None = None,
) -> Closed:
    clock = FakeClock()
    app = ledger_app(url, key_dir, clock)
    built = build(app=app, clock=clock, open_it=False)
    cid = built.commission_id
    clock.set(TUESDAY_0900)
    app.run_schedule(cid)

    def step() -> None:
        clock.advance(minutes=7)

    for member in ("president", "board2", "tenants", "mayor-bobigny", "mayor-pantin"):
        step()
        app.log_in(cid, member, method="magic_link", session_id=f"session-{member}")
    step()
    app.give_proxy(cid, actor=Actor("prefecture", "prefecture"), holder_id="tenants")
    c = built.candidates
    for member, ranking in (
        ("president", [c["D1"][0], c["D1"][1], c["D1"][2]]),
        ("tenants", [c["D1"][0], c["D1"][1], c["D1"][2]]),
        ("board2", [c["D1"][1], c["D1"][0], c["D1"][2]]),
        ("mayor-bobigny", [c["D1"][1], c["D1"][0], c["D1"][2]]),
    ):
        step()
        app.submit_ballot(cid, member, dwelling_id="D1", ranking=ranking)
    for member in ("president", "board2", "mayor-bobigny"):
        step()
        app.submit_ballot(cid, member, dwelling_id="D2", ranking=list(c["D2"]))
    step()
    app.submit_ballot(cid, "board2", dwelling_id="D2", ranking=list(reversed(c["D2"])))  # revised
    step()
    app.submit_ballot(
        cid, "tenants", dwelling_id="D2", ranking=list(c["D2"]), on_behalf_of="prefecture"
    )
    step()
    app.request_referral(
        cid, "mayor-pantin", dwelling_id="D3", reason={"code": "other", "text": "en séance"}
    )
    # A ballot that read the commission open and commits after the closing: late.
    step()
    stale = app.commission(cid)
    activity = app.activity(stale, "mayor-pantin")
    app.close_commission(cid, actor=STAFF)
    activity.submit_ballot(
        commission=stale,
        at=clock(),
        dwelling_id="D3",
        ranking=list(c["D3"]),
        non_attribution={},
        inadmissible={},
    )
    app.save(activity)
    if approve:
        from projections.minutes import minutes_digest as digest_of

        clock.advance(hours=3)
        digest = (minutes_digest or digest_of)(app, app.commission(cid))
        app.approve_minutes(
            cid, actor=Actor("president", "board"), president_id="president", minutes_sha256=digest
        )
    return Closed(app, clock, cid, url, key_dir)
