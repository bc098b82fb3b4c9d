"""The write side: an eventsourcing ``Application`` that runs the domain's commands.

The clock and the id generator are injected (``Clock``, ``IdSource``): the demo runs on a simulated
clock and seeded ids, production on the wall clock and random ids. Personal data of applicants is
sealed by the ``ApplicantVault`` before it reaches the domain.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.utils import EnvType

from domain.actor import SCHEDULER, Actor
from domain.applicants import ApplicantFile
from domain.closing import decide_all
from domain.commission import Commission, Status
from domain.erasure import ErasureRegister
from domain.errors import DomainError, UnknownMember
from domain.members import Member
from domain.participation import MemberActivity, activity_id
from domain.rules import Rules
from ledger.vault import ApplicantVault, MemoryKeyTable

Clock = Callable[[], datetime]
IdSource = Callable[[str], str]


def wall_clock() -> datetime:
    return datetime.now(UTC)


def random_ids(kind: str) -> str:
    return str(uuid.uuid4())


class CommissionNotFound(DomainError):
    code = "commission_not_found"


class CaleolApplication(Application[UUID]):
    name = "caleol"

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        clock: Clock = wall_clock,
        ids: IdSource = random_ids,
        vault: ApplicantVault | None = None,
    ) -> None:
        super().__init__(env)
        self.clock = clock
        self.ids = ids
        self.vault = vault or ApplicantVault(MemoryKeyTable(), lookup_secret=b"\0" * 32)

    # ---------------------------------------------------------------- loading
    def commission(self, commission_id: UUID, version: int | None = None) -> Commission:
        try:
            return self.repository.get(commission_id, version=version)
        except AggregateNotFoundError:
            raise CommissionNotFound(f"no commission {commission_id}") from None

    def activity(self, commission: Commission, member_id: str) -> MemberActivity:
        commission.member(member_id)
        try:
            return self.repository.get(activity_id(commission.id, member_id))
        except AggregateNotFoundError:
            return MemberActivity.start(commission=commission, member_id=member_id, at=self.clock())

    def activity_version(self, commission_id: UUID, member_id: str) -> int:
        events = list(self.events.get(activity_id(commission_id, member_id), desc=True, limit=1))
        return events[0].originator_version if events else 0

    def activities_at_cutoff(self, commission: Commission) -> dict[str, MemberActivity]:
        activities: dict[str, MemberActivity] = {}
        for member_id in commission.members:
            version = commission.cutoff.get(member_id, 0)
            if version:
                activities[member_id] = self.repository.get(
                    activity_id(commission.id, member_id), version=version
                )
        return activities

    # ------------------------------------------------------------------- keys
    def register_signing_key(self) -> str:
        """Registers the key store's active key in the ledger now (after a rotation)."""
        return self.recorder.register_signing_key()  # type: ignore[attr-defined,no-any-return]

    def registered_key_ids(self) -> list[str]:
        return self.recorder.registered_key_ids()  # type: ignore[attr-defined,no-any-return]

    # ------------------------------------------------------------------ setup
    def schedule_commission(
        self,
        *,
        actor: Actor,
        agency_id: str,
        title: str,
        rules: Rules,
        opens_at: datetime,
        closes_at: datetime,
        landlord: str = "",
        agency_name: str = "",
    ) -> UUID:
        commission = Commission.schedule(
            actor=actor,
            at=self.clock(),
            agency_id=agency_id,
            title=title,
            rules=rules,
            opens_at=opens_at,
            closes_at=closes_at,
            landlord=landlord,
            agency_name=agency_name,
        )
        self.save(commission)
        return commission.id

    def _command(self, commission_id: UUID, action: Callable[[Commission], Any]) -> Any:
        commission = self.commission(commission_id)
        result = action(commission)
        self.save(commission)
        return result

    def convene_member(self, commission_id: UUID, *, actor: Actor, member: Member) -> None:
        self._command(
            commission_id, lambda c: c.convene_member(actor=actor, at=self.clock(), member=member)
        )

    def send_convocations(self, commission_id: UUID, *, actor: Actor) -> list[str]:
        return self._command(  # type: ignore[no-any-return]
            commission_id, lambda c: c.send_convocations(actor=actor, at=self.clock())
        )

    def list_dwelling(
        self,
        commission_id: UUID,
        *,
        actor: Actor,
        dwelling_id: str,
        commune: str,
        contingent: str | None = None,
        description: Mapping[str, Any] | None = None,
    ) -> None:
        self._command(
            commission_id,
            lambda c: c.list_dwelling(
                actor=actor,
                at=self.clock(),
                dwelling_id=dwelling_id,
                commune=commune,
                contingent=contingent,
                description=dict(description or {}),
            ),
        )

    def present_candidate(
        self,
        commission_id: UUID,
        *,
        actor: Actor,
        dwelling_id: str,
        file: ApplicantFile,
        missing_documents: list[str] | None = None,
        cotation: int | None = None,
        candidate_id: str | None = None,
    ) -> str:
        """Seals the applicant's file and presents it; returns the candidate id."""
        commission = self.commission(commission_id)
        candidate_id = candidate_id or self.ids("candidate")
        ref = self.vault.ref_for(file.numero_unique, lambda: self.ids("applicant"))
        sealed = self.vault.seal(ref, file)
        commission.present_candidate(
            actor=actor,
            at=self.clock(),
            dwelling_id=dwelling_id,
            candidate_id=candidate_id,
            applicant_ref=ref,
            sealed_file=sealed,
            missing_documents=list(missing_documents or []),
            cotation=cotation,
        )
        self.save(commission)
        return candidate_id

    def withdraw_candidate(
        self, commission_id: UUID, *, actor: Actor, candidate_id: str, reason: str
    ) -> None:
        self._command(
            commission_id,
            lambda c: c.withdraw_candidate(
                actor=actor, at=self.clock(), candidate_id=candidate_id, reason=reason
            ),
        )

    def state_exception(
        self, commission_id: UUID, *, actor: Actor, dwelling_id: str, reason_code: str, detail: str
    ) -> None:
        self._command(
            commission_id,
            lambda c: c.state_exception(
                actor=actor,
                at=self.clock(),
                dwelling_id=dwelling_id,
                reason_code=reason_code,
                detail=detail,
            ),
        )

    def cancel(self, commission_id: UUID, *, actor: Actor, reason: str) -> None:
        self._command(
            commission_id, lambda c: c.cancel(actor=actor, at=self.clock(), reason=reason)
        )

    # -------------------------------------------------------------- lifecycle
    def open_commission(self, commission_id: UUID, *, actor: Actor = SCHEDULER) -> None:
        by = "schedule" if actor == SCHEDULER else "staff"
        self._command(commission_id, lambda c: c.open(actor=actor, at=self.clock(), by=by))
        from ledger.checkpoints import checkpoint_after  # the audit layer, when a ledger store

        checkpoint_after(self, "opened", commission_id)

    def close_commission(
        self, commission_id: UUID, *, actor: Actor = SCHEDULER
    ) -> list[dict[str, Any]]:
        """Closes the commission and records its decisions in the same transaction.

        The cut-off is the version of each member's activity stream read here, before the
        ``Closed`` event is recorded: anything appended to a member's stream after it is late.
        """
        commission = self.commission(commission_id)
        cutoff = {m: self.activity_version(commission_id, m) for m in sorted(commission.members)}
        activities: dict[str, MemberActivity] = {
            m: self.repository.get(activity_id(commission_id, m), version=v)
            for m, v in cutoff.items()
            if v
        }
        decisions = decide_all(commission, activities) if commission.status is Status.OPEN else []
        by = "schedule" if actor == SCHEDULER else "staff"
        commission.close(
            actor=actor,
            at=self.clock(),
            cutoff=cutoff,
            decisions=decisions,
            late_ballots=[],
            by=by,
        )
        self.save(commission)
        from ledger.checkpoints import checkpoint_after  # the audit layer, when a ledger store

        checkpoint_after(self, "closed", commission_id)
        return decisions

    def run_schedule(self, commission_id: UUID) -> str | None:
        """Opens or closes the commission when its scheduled instant has come; says what it did."""
        commission = self.commission(commission_id)
        now = self.clock()
        if commission.status is Status.CONVENED and commission.opens_at <= now:
            self.open_commission(commission_id)
            return "opened"
        if commission.status is Status.OPEN and commission.closes_at <= now:
            self.close_commission(commission_id)
            return "closed"
        return None

    def approve_minutes(
        self, commission_id: UUID, *, actor: Actor, president_id: str, minutes_sha256: str
    ) -> None:
        if actor.id != president_id:
            raise UnknownMember("the minutes are approved by the president themselves")
        self._command(
            commission_id,
            lambda c: c.approve_minutes(
                actor=actor,
                at=self.clock(),
                president_id=president_id,
                minutes_sha256=minutes_sha256,
            ),
        )
        from ledger.checkpoints import checkpoint_after  # the audit layer, when a ledger store

        checkpoint_after(self, "minutes_approved", commission_id)

    def give_proxy(self, commission_id: UUID, *, actor: Actor, holder_id: str) -> None:
        self._command(
            commission_id,
            lambda c: c.give_proxy(
                actor=actor, at=self.clock(), principal_id=actor.id, holder_id=holder_id
            ),
        )

    def revoke_proxy(self, commission_id: UUID, *, actor: Actor) -> None:
        self._command(
            commission_id,
            lambda c: c.revoke_proxy(actor=actor, at=self.clock(), principal_id=actor.id),
        )

    # ------------------------------------------------------- member activity
    def _member_command(
        self,
        commission_id: UUID,
        member_id: str,
        action: Callable[[MemberActivity, Commission], Any],
    ) -> Any:
        commission = self.commission(commission_id)
        activity = self.activity(commission, member_id)
        result = action(activity, commission)
        self.save(activity)
        return result

    def log_in(self, commission_id: UUID, member_id: str, *, method: str, session_id: str) -> None:
        session_hash = hashlib.sha256(session_id.encode()).hexdigest()
        self._member_command(
            commission_id,
            member_id,
            lambda a, c: a.log_in(
                commission=c, at=self.clock(), method=method, session_hash=session_hash
            ),
        )

    def consult_file(
        self, commission_id: UUID, member_id: str, *, dwelling_id: str, candidate_id: str
    ) -> ApplicantFile | None:
        """Records the consultation, then returns the clear file (None if erased)."""
        commission = self.commission(commission_id)
        activity = self.activity(commission, member_id)
        activity.consult_file(
            commission=commission,
            at=self.clock(),
            dwelling_id=dwelling_id,
            candidate_id=candidate_id,
        )
        self.save(activity)
        candidate = commission.candidates[candidate_id]
        return self.vault.open(candidate["applicant_ref"], candidate["sealed_file"])

    def submit_ballot(
        self,
        commission_id: UUID,
        member_id: str,
        *,
        dwelling_id: str,
        ranking: list[str],
        non_attribution: Mapping[str, Any] | None = None,
        inadmissible: Mapping[str, Any] | None = None,
        on_behalf_of: str | None = None,
    ) -> int:
        return self._member_command(  # type: ignore[no-any-return]
            commission_id,
            member_id,
            lambda a, c: a.submit_ballot(
                commission=c,
                at=self.clock(),
                dwelling_id=dwelling_id,
                ranking=list(ranking),
                non_attribution=dict(non_attribution or {}),
                inadmissible=dict(inadmissible or {}),
                on_behalf_of=on_behalf_of,
            ),
        )

    def give_opinion(
        self,
        commission_id: UUID,
        member_id: str,
        *,
        dwelling_id: str,
        opinion: str,
        candidate_id: str | None = None,
        text: str = "",
    ) -> None:
        self._member_command(
            commission_id,
            member_id,
            lambda a, c: a.give_opinion(
                commission=c,
                at=self.clock(),
                dwelling_id=dwelling_id,
                opinion=opinion,
                candidate_id=candidate_id,
                text=text,
            ),
        )

    def request_referral(
        self, commission_id: UUID, member_id: str, *, dwelling_id: str, reason: Any
    ) -> None:
        self._member_command(
            commission_id,
            member_id,
            lambda a, c: a.request_referral(
                commission=c, at=self.clock(), dwelling_id=dwelling_id, reason_given=reason
            ),
        )

    def post_message(
        self,
        commission_id: UUID,
        thread_member_id: str,
        *,
        author: Actor,
        text: str,
        dwelling_id: str | None = None,
        reply_to: str | None = None,
    ) -> str:
        message_id = self.ids("message")
        self._member_command(
            commission_id,
            thread_member_id,
            lambda a, c: a.post_message(
                commission=c,
                at=self.clock(),
                author=author,
                message_id=message_id,
                text=text,
                dwelling_id=dwelling_id,
                reply_to=reply_to,
            ),
        )
        return message_id

    # ----------------------------------------------------------------- erasure
    def erase_applicant(self, numero_unique: str, *, actor: Actor, reason: str) -> list[str]:
        """Destroys the applicant's data keys and records the erasure (by key reference only)."""
        try:
            register: ErasureRegister = self.repository.get(ErasureRegister.ID)
        except AggregateNotFoundError:
            register = ErasureRegister.open(actor=actor, at=self.clock())
        refs = [
            item.applicant_ref
            for item in self.vault.table.find(self.vault.lookup(numero_unique))
            if item.key is not None
        ]
        for ref in refs:
            register.record(actor=actor, at=self.clock(), applicant_ref=ref, reason=reason)
        if refs:
            self.save(register)  # recorded first: an erasure is never done without its trace
            self.vault.erase(numero_unique)
        return refs
