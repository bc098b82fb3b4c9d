"""Commission members, their roles and their rights on each dwelling (CCH L441-2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    BOARD = "board"  # one of the six designated by the landlord's board
    TENANT_REPRESENTATIVE = "tenant_representative"  # also designated by the board
    MAYOR = "mayor"  # mayor of the dwelling's commune or their representative
    PREFECTURE = "prefecture"
    EPCI = "epci"
    RESERVATION_HOLDER = "reservation_holder"
    SOCIAL_ENGINEERING = "social_engineering"  # L365-3 body
    ARRONDISSEMENT_MAYOR = "arrondissement_mayor"  # Paris, Lyon, Marseille


class VoteType(StrEnum):
    DELIBERATIVE = "deliberative"
    CONSULTATIVE = "consultative"


class Right(StrEnum):
    VOTE = "vote"
    OPINION = "opinion"
    NONE = "none"


#: Roles that the law makes consultative whatever the convocation says.
CONSULTATIVE_ROLES = frozenset(
    {Role.RESERVATION_HOLDER, Role.SOCIAL_ENGINEERING, Role.ARRONDISSEMENT_MAYOR}
)
#: Voting roles whose vote is scoped to the communes they represent.
COMMUNE_SCOPED_ROLES = frozenset({Role.MAYOR, Role.ARRONDISSEMENT_MAYOR})


@dataclass(frozen=True)
class Member:
    id: str
    role: Role
    vote: VoteType
    name: str = ""
    communes: frozenset[str] = field(default_factory=frozenset)  # INSEE codes
    contingent: str | None = None  # reservation holders: the contingent they own

    @property
    def is_voting(self) -> bool:
        return self.vote is VoteType.DELIBERATIVE


@dataclass(frozen=True)
class DwellingScope:
    """What decides a member's rights on a dwelling."""

    id: str
    commune: str
    contingent: str | None = None


def convened_member(
    member_id: str,
    name: str,
    role: str,
    vote: str,
    communes: list[str],
    contingent: str | None,
) -> Member:
    """The member a convocation event describes (the events keep plain JSON values)."""
    return Member(
        id=member_id,
        name=name,
        role=Role(role),
        vote=VoteType(vote),
        communes=frozenset(communes),
        contingent=contingent,
    )


def expected_vote_type(role: Role) -> VoteType:
    return VoteType.CONSULTATIVE if role in CONSULTATIVE_ROLES else VoteType.DELIBERATIVE


def right_on(member: Member, dwelling: DwellingScope) -> Right:
    """The member's right on one dwelling.

    A mayor votes only on dwellings of their commune; a reservation holder gives opinions only on
    dwellings of its contingent; arrondissement mayors give opinions on their arrondissement;
    the other members' rights cover every dwelling of the commission.
    """
    if member.role in COMMUNE_SCOPED_ROLES and dwelling.commune not in member.communes:
        return Right.NONE
    if member.role is Role.RESERVATION_HOLDER and (
        dwelling.contingent is None or dwelling.contingent != member.contingent
    ):
        return Right.NONE
    return Right.VOTE if member.is_voting else Right.OPINION


def casting_voter(
    members: list[Member] | tuple[Member, ...], dwelling: DwellingScope
) -> str | None:
    """The mayor of the dwelling's commune, whose ballot breaks ties (casting vote)."""
    for member in members:
        if member.role is Role.MAYOR and member.is_voting and dwelling.commune in member.communes:
            return member.id
    return None
