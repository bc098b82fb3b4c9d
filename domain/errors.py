"""Named domain errors: every rule of DESIGN §3 that a command can break has its own class.

Each carries a stable machine-readable ``code`` so that the API and the CLI can report it as is.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class of all rule violations; nothing is recorded when one is raised."""

    code = "domain_error"


class InvalidInput(DomainError):
    code = "invalid_input"


class InvalidTransition(DomainError):
    """The command is not allowed in the commission's current status."""

    code = "invalid_transition"


class OutsideWindow(DomainError):
    """Ballots, opinions, referrals and proxies are accepted only while the commission is open."""

    code = "outside_window"


class CommissionClosed(OutsideWindow):
    code = "commission_closed"


class UnknownMember(DomainError):
    code = "unknown_member"


class UnknownDwelling(DomainError):
    code = "unknown_dwelling"


class UnknownCandidate(DomainError):
    code = "unknown_candidate"


class DuplicateEntity(DomainError):
    code = "duplicate"


class NoRightOnDwelling(DomainError):
    """The member has no right (vote or opinion) on this dwelling."""

    code = "no_right_on_dwelling"


class NotVotingMember(DomainError):
    """Only deliberative members may ballot, refer, give or hold a proxy."""

    code = "not_voting_member"


class NotConsultativeMember(DomainError):
    """Opinions (avis) are for consultative members; voting members submit ballots."""

    code = "not_consultative_member"


class ProxyError(DomainError):
    code = "proxy_invalid"


class ProxyLimitReached(ProxyError):
    code = "proxy_limit_reached"


class ProxyChained(ProxyError):
    code = "proxy_chained"


class ProxyNotHeld(ProxyError):
    """A ballot on behalf of someone requires a proxy from them, in force."""

    code = "proxy_not_held"


class MissingNumeroUnique(DomainError):
    """A file without a numéro unique (SNE) cannot be examined (CCH L441-2-1)."""

    code = "missing_numero_unique"


class TooFewCandidates(DomainError):
    """A dwelling below the RI's minimum of candidates, without a stated exception."""

    code = "too_few_candidates"


class IncompleteSetup(DomainError):
    code = "incomplete_setup"


class InvalidBallot(DomainError):
    code = "invalid_ballot"


class UnknownReasonCode(DomainError):
    code = "unknown_reason_code"
