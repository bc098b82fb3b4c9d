"""Deciding one dwelling at closing: one test per rule of DESIGN §3, failing if it is removed."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.decisions import borda, schulze
from domain.decisions.case import (
    CandidateDecision,
    CandidateFile,
    CaseBallot,
    CaseReferral,
    DwellingCase,
    DwellingDecision,
)
from domain.decisions.decide import break_ties, decide, validate_case
from domain.errors import (
    DomainError,
    DuplicateEntity,
    InvalidBallot,
    InvalidInput,
    NoRightOnDwelling,
    NotVotingMember,
    ProxyChained,
    ProxyError,
    ProxyLimitReached,
    ProxyNotHeld,
    UnknownCandidate,
    UnknownMember,
)
from domain.members import DwellingScope, Member, Role, VoteType, expected_vote_type
from domain.rules import Method, Rules

COMMUNE = "69123"
DWELLING = DwellingScope("d1", COMMUNE, contingent="action_logement")
CANDS = ("c1", "c2", "c3")


def member(
    mid: str,
    role: Role = Role.BOARD,
    *,
    communes: Iterable[str] = (),
    vote: VoteType | None = None,
    contingent: str | None = None,
) -> Member:
    return Member(
        id=mid,
        role=role,
        vote=vote or expected_vote_type(role),
        communes=frozenset(communes),
        contingent=contingent,
    )


MAYOR = member("mayor", Role.MAYOR, communes=[COMMUNE])
BOARD = tuple(member(f"b{i}") for i in range(1, 4))
MEMBERS = (MAYOR, *BOARD)  # four voting members with rights: quorum "half" = 2


def ballot(
    mid: str,
    *ranking: str,
    na: Mapping[str, str] | None = None,
    inad: Mapping[str, str] | None = None,
    on_behalf_of: str | None = None,
) -> CaseBallot:
    return CaseBallot(
        member_id=mid,
        ranking=tuple(ranking),
        non_attribution=dict(na or {}),
        inadmissible=dict(inad or {}),
        on_behalf_of=on_behalf_of,
    )


def make_case(
    *ballots: CaseBallot,
    candidates: Iterable[CandidateFile | str] = CANDS,
    members: Iterable[Member] = MEMBERS,
    proxies: Mapping[str, str] | None = None,
    referrals: Iterable[CaseReferral] = (),
    rules: Rules | None = None,
    dwelling: DwellingScope = DWELLING,
) -> DwellingCase:
    return DwellingCase(
        dwelling=dwelling,
        candidates=tuple(
            c if isinstance(c, CandidateFile) else CandidateFile(c) for c in candidates
        ),
        members=tuple(members),
        proxies=dict(proxies or {}),
        ballots=tuple(ballots),
        referrals=tuple(referrals),
        rules=rules or Rules(),
    )


def ranks(decision: DwellingDecision) -> dict[str, int | None]:
    return {cand: d.rank for cand, d in decision.decisions.items()}


# ------------------------------------------------------------------------------ basics


def test_plain_decision_with_schulze() -> None:
    result = decide(make_case(ballot("b1", "c1", "c2", "c3"), ballot("b2", "c1", "c3", "c2")))
    assert result.status == "decided"
    assert result.referral_reason is None
    assert result.ranking == ("c1", "c2", "c3") or result.ranking == ("c1", "c3", "c2")
    assert result.decisions["c1"] == CandidateDecision("attribution", 1, ())
    assert (result.method, result.method_version) == (schulze.NAME, schulze.VERSION)
    assert (result.quorum_required, result.quorum_cast) == (2, 2)


def test_borda_method_is_used_and_recorded() -> None:
    # c1 is the Condorcet winner (3 to 2) but c2 has more Borda points (7 against 6)
    members = (*MEMBERS, member("b4"))
    ballots = (
        ballot("b1", "c1", "c2", "c3"),
        ballot("b2", "c1", "c2", "c3"),
        ballot("b3", "c1", "c2", "c3"),
        ballot("b4", "c2", "c3", "c1"),
        ballot("mayor", "c2", "c3", "c1"),
    )
    assert decide(make_case(*ballots, members=members)).ranking == ("c1", "c2", "c3")
    result = decide(make_case(*ballots, members=members, rules=Rules(method=Method.BORDA)))
    assert (result.method, result.method_version) == (borda.NAME, borda.VERSION)
    assert result.ranking == ("c2", "c1", "c3")
    assert ranks(result) == {"c1": 2, "c2": 1, "c3": 3}
    assert result.casting_vote_used is False


def test_output_json_shape() -> None:
    data = decide(make_case(ballot("b1", "c1", "c2", "c3"), ballot("b2", "c1", "c2", "c3")))
    assert data.to_json()["quorum"] == {"required": 2, "cast": 2}
    assert data.to_json()["decisions"]["c1"]["decision"] == "attribution"


# ------------------------------------------------------------------------------ quorum


def test_no_quorum_refers_the_dwelling() -> None:
    result = decide(make_case(ballot("b1", "c1", "c2", "c3")))
    assert (result.status, result.referral_reason) == ("referred", "no_quorum")
    assert (result.quorum_required, result.quorum_cast) == (2, 1)
    assert result.decisions == {} and result.ranking == ()


def test_quorum_counts_voters_not_ballots() -> None:
    # two ballots of the same member are one voter: still no quorum
    result = decide(make_case(ballot("b1", "c1", "c2", "c3"), ballot("b1", "c2", "c1", "c3")))
    assert result.referral_reason == "no_quorum"
    assert result.quorum_cast == 1


def test_quorum_half_rounds_up_and_integer_quorum() -> None:
    five = (*MEMBERS, member("b4"))
    two = (ballot("b1", "c1", "c2", "c3"), ballot("b2", "c1", "c2", "c3"))
    assert decide(make_case(*two, members=five)).referral_reason == "no_quorum"  # needs 3 of 5
    three = (*two, ballot("b3", "c1", "c2", "c3"))
    assert decide(make_case(*three, members=five)).status == "decided"
    assert decide(make_case(*three, rules=Rules(quorum=4))).referral_reason == "no_quorum"


def test_no_ballot_at_all_is_never_a_quorum() -> None:
    result = decide(make_case(members=(member("b1", Role.RESERVATION_HOLDER),)))
    assert (result.status, result.referral_reason) == ("referred", "no_quorum")
    assert result.quorum_required == 1


# ------------------------------------------------------------------------------ rejections


def test_majority_non_attribution() -> None:
    result = decide(
        make_case(
            ballot("b1", "c1", "c2", na={"c3": "typologie inadaptée"}),
            ballot("b2", "c2", "c1", na={"c3": "ressources insuffisantes"}),
            ballot("b3", "c1", "c2", "c3"),
        )
    )
    assert result.decisions["c3"] == CandidateDecision(
        "non_attribution", None, ("ressources insuffisantes", "typologie inadaptée")
    )
    assert result.ranking == ("c1", "c2")


def test_minority_or_half_non_attribution_keeps_the_candidate() -> None:
    ballots = (
        ballot("b1", "c1", "c2", na={"c3": "typologie"}),
        ballot("b2", "c2", "c1", na={"c3": "typologie"}),
        ballot("b3", "c1", "c2", "c3"),
        ballot("mayor", "c1", "c2", "c3"),
    )
    result = decide(make_case(*ballots))  # 2 of 4: not a strict majority
    assert result.decisions["c3"].decision == "attribution"
    assert result.decisions["c3"].rank == 3


def test_majority_inadmissible_with_reasons() -> None:
    result = decide(
        make_case(
            ballot("b1", "c2", "c3", inad={"c1": "plafond de ressources dépassé"}),
            ballot("b2", "c3", "c2", inad={"c1": "plafond de ressources dépassé"}),
            ballot("mayor", "c2", "c3", inad={"c1": "pas de numéro unique valide"}),
        )
    )
    assert result.decisions["c1"] == CandidateDecision(
        "inadmissible", None, ("pas de numéro unique valide", "plafond de ressources dépassé")
    )
    assert result.decisions["c2"] == CandidateDecision("attribution", 1, ())


def test_mixed_marks_reaching_majority_take_the_more_frequent() -> None:
    def outcome(na_voters: set[str], inad_voters: set[str]) -> str:
        ballots = []
        for voter in ("b1", "b2", "b3"):
            if voter in na_voters:
                ballots.append(ballot(voter, "c1", "c2", na={"c3": "na"}))
            elif voter in inad_voters:
                ballots.append(ballot(voter, "c1", "c2", inad={"c3": "inad"}))
            else:
                ballots.append(ballot(voter, "c1", "c2", "c3"))
        return decide(make_case(*ballots)).decisions["c3"].decision

    assert outcome({"b1", "b2"}, {"b3"}) == "non_attribution"
    assert outcome({"b1"}, {"b2", "b3"}) == "inadmissible"
    assert outcome({"b1"}, {"b2"}) == "non_attribution"  # 2 of 3 marks, equal: non-attribution
    assert outcome({"b1"}, set()) == "attribution"


def test_everyone_rejected() -> None:
    result = decide(
        make_case(
            ballot("b1", na={"c1": "r", "c2": "r", "c3": "r"}),
            ballot("b2", inad={"c1": "x", "c2": "x", "c3": "x"}),
        ),
    )
    assert result.status == "decided"
    assert result.ranking == ()
    assert {c: d.decision for c, d in result.decisions.items()} == dict.fromkeys(
        CANDS, "non_attribution"
    )


# ------------------------------------------------------------------------------ ties


def test_casting_vote_breaks_a_first_place_tie_and_is_recorded() -> None:
    ballots = (ballot("b1", "c1", "c2", "c3"), ballot("mayor", "c2", "c1", "c3"))
    result = decide(make_case(*ballots))
    assert result.status == "decided"
    assert result.ranking == ("c2", "c1", "c3")
    assert ranks(result) == {"c1": 2, "c2": 1, "c3": 3}
    assert result.casting_vote_used is True


def test_casting_vote_not_used_without_tie() -> None:
    ballots = (
        ballot("b1", "c1", "c2", "c3"),
        ballot("b2", "c1", "c2", "c3"),
        ballot("mayor", "c2", "c1", "c3"),
    )
    result = decide(make_case(*ballots))
    assert result.ranking == ("c1", "c2", "c3")
    assert result.casting_vote_used is False


def test_casting_vote_breaks_lower_ties_too() -> None:
    ballots = (
        ballot("b1", "c1", "c2", "c3"),
        ballot("b2", "c1", "c3", "c2"),
        ballot("mayor", "c1", "c3", "c2"),
        ballot("b3", "c1", "c2", "c3"),
    )
    result = decide(make_case(*ballots))
    assert result.ranking == ("c1", "c3", "c2")
    assert ranks(result) == {"c1": 1, "c2": 3, "c3": 2}
    assert result.casting_vote_used is True


def test_unbroken_first_place_tie_refers_the_dwelling() -> None:
    # the mayor did not vote: nothing breaks the tie
    ballots = (ballot("b1", "c1", "c2", "c3"), ballot("b2", "c2", "c1", "c3"))
    result = decide(make_case(*ballots))
    assert (result.status, result.referral_reason) == ("referred", "tie_for_first_place")
    assert result.decisions == {} and result.ranking == ()
    assert result.casting_vote_used is False


def test_mayor_ballot_that_does_not_rank_the_tied_candidates_breaks_nothing() -> None:
    ballots = (
        ballot("b1", "c1", "c2", "c3"),
        ballot("b2", "c2", "c1", "c3"),
        ballot("mayor", "c3", na={"c1": "r", "c2": "r"}),
    )
    result = decide(make_case(*ballots))
    assert result.referral_reason == "tie_for_first_place"


def test_unbroken_lower_tie_shares_the_rank_in_input_order() -> None:
    ballots = (
        ballot("b1", "c1", "c3", "c2"),
        ballot("b2", "c1", "c2", "c3"),
    )
    result = decide(make_case(*ballots, candidates=("c1", "c3", "c2")))
    assert result.status == "decided"
    assert result.ranking == ("c1", "c3", "c2")
    assert ranks(result) == {"c1": 1, "c3": 2, "c2": 2}
    assert result.casting_vote_used is False


def test_competition_ranking_after_a_shared_rank() -> None:
    ballots = (
        ballot("b1", "c1", "c2", "c3", "c4"),
        ballot("b2", "c1", "c3", "c2", "c4"),
    )
    result = decide(make_case(*ballots, candidates=("c1", "c2", "c3", "c4")))
    assert ranks(result) == {"c1": 1, "c2": 2, "c3": 2, "c4": 4}


def test_break_ties_partially() -> None:
    groups = (("a", "b", "c", "d"), ("e",))
    assert break_ties(groups, ("c", "a", "e")) == ((("c",), ("a",), ("b", "d"), ("e",)), True)
    assert break_ties(groups, ("e",)) == (groups, False)
    assert break_ties(groups, None) == (groups, False)


# ------------------------------------------------------------------------------ referral


def test_member_referral_refers_the_dwelling() -> None:
    referral = CaseReferral("b3", "dossier à examiner en séance")
    ballots = (ballot("b1", "c1", "c2", "c3"), ballot("b2", "c1", "c2", "c3"))
    result = decide(make_case(*ballots, referrals=[referral]))
    assert (result.status, result.referral_reason) == ("referred", "member_request")
    assert result.decisions == {} and result.ranking == ()
    assert result.referrals == (referral,)
    assert result.to_json()["referrals"] == [
        {"member": "b3", "reason": "dossier à examiner en séance"}
    ]


def test_referral_threshold_counts_distinct_members() -> None:
    ballots = (ballot("b1", "c1", "c2", "c3"), ballot("b2", "c1", "c2", "c3"))
    rules = Rules(referral_threshold=2)
    twice = [CaseReferral("b3", "a"), CaseReferral("b3", "b")]
    assert decide(make_case(*ballots, referrals=twice, rules=rules)).status == "decided"
    two = [CaseReferral("b3", "a"), CaseReferral("mayor", "b")]
    assert decide(make_case(*ballots, referrals=two, rules=rules)).status == "referred"


def test_referral_needs_a_vote_on_the_dwelling() -> None:
    other_mayor = member("mayor2", Role.MAYOR, communes=["75056"])
    case = make_case(members=(*MEMBERS, other_mayor), referrals=[CaseReferral("mayor2", "r")])
    with pytest.raises(NoRightOnDwelling):
        validate_case(case)
    holder = member("al", Role.RESERVATION_HOLDER, contingent="action_logement")
    case = make_case(members=(*MEMBERS, holder), referrals=[CaseReferral("al", "r")])
    with pytest.raises(NotVotingMember):
        validate_case(case)


# ------------------------------------------------------------------------------ conditions


def test_missing_document_gives_a_suspensive_condition() -> None:
    candidates = (CandidateFile("c1", ("avis d'imposition 2024",)), CandidateFile("c2"))
    ballots = (ballot("b1", "c1", "c2"), ballot("b2", "c1", "c2"))
    result = decide(make_case(*ballots, candidates=candidates))
    assert result.decisions["c1"] == CandidateDecision(
        "attribution_conditional",
        1,
        ("avis d'imposition 2024",),
        missing_documents=("avis d'imposition 2024",),
        condition_deadline_days=10,
    )
    assert result.decisions["c2"] == CandidateDecision("attribution", 2, ())


def test_rejected_candidate_with_missing_document_is_just_rejected() -> None:
    candidates = (CandidateFile("c1", ("bulletin de salaire",)), CandidateFile("c2"))
    ballots = (ballot("b1", "c2", na={"c1": "r"}), ballot("b2", "c2", na={"c1": "r"}))
    result = decide(make_case(*ballots, candidates=candidates))
    assert result.decisions["c1"] == CandidateDecision("non_attribution", None, ("r",))


# ------------------------------------------------------------------------------ ballots


def test_last_ballot_counts() -> None:
    ballots = (
        ballot("b1", "c1", "c2", "c3"),
        ballot("b2", "c1", "c2", "c3"),
        ballot("b1", "c3", "c2", "c1"),
        ballot("b3", "c3", "c1", "c2"),
        ballot("b2", "c3", "c1", "c2"),
    )
    result = decide(make_case(*ballots))
    assert result.ranking[0] == "c3"
    assert result.quorum_cast == 3


def test_proxy_ballot_counts_for_the_principal() -> None:
    # b2 gave a proxy to b1; b1 votes for both: two voters, quorum reached
    ballots = (
        ballot("b1", "c2", "c1", "c3"),
        ballot("b1", "c2", "c1", "c3", on_behalf_of="b2"),
    )
    result = decide(make_case(*ballots, proxies={"b2": "b1"}))
    assert result.status == "decided"
    assert result.quorum_cast == 2
    assert result.ranking[0] == "c2"


def test_principal_revising_after_proxy_ballot_replaces_it() -> None:
    ballots = (
        ballot("b1", "c2", "c1", "c3", on_behalf_of="b2"),
        ballot("b2", "c1", "c2", "c3"),
        ballot("b3", "c1", "c2", "c3"),
    )
    result = decide(make_case(*ballots, proxies={"b2": "b1"}))
    assert result.quorum_cast == 2
    assert result.ranking[0] == "c1"


def test_mayor_casting_vote_cast_by_proxy_holder() -> None:
    ballots = (
        ballot("b1", "c1", "c2", "c3"),
        ballot("b2", "c2", "c1", "c3", on_behalf_of="mayor"),
    )
    result = decide(make_case(*ballots, proxies={"mayor": "b2"}))
    assert result.ranking == ("c2", "c1", "c3")
    assert result.casting_vote_used is True


def test_proxy_ballot_without_proxy_is_rejected() -> None:
    with pytest.raises(ProxyNotHeld, match="ballot 1"):
        validate_case(make_case(ballot("b1", *CANDS, on_behalf_of="b2")))
    with pytest.raises(ProxyNotHeld):
        validate_case(make_case(ballot("b1", *CANDS, on_behalf_of="b2"), proxies={"b2": "b3"}))


def test_mayor_votes_only_on_own_commune() -> None:
    elsewhere = DwellingScope("d2", "75056")
    ballots = (ballot("b1", *CANDS), ballot("b2", *CANDS))
    assert decide(make_case(*ballots, dwelling=elsewhere)).quorum_required == 2  # 3 voters
    assert decide(make_case(*ballots)).quorum_required == 2  # 4 voters
    five = (*MEMBERS, member("b4"))
    assert decide(make_case(*ballots, members=five, dwelling=elsewhere)).status == "decided"
    assert decide(make_case(*ballots, members=five)).referral_reason == "no_quorum"
    with pytest.raises(NoRightOnDwelling, match="ballot 1"):
        validate_case(make_case(ballot("mayor", *CANDS), dwelling=elsewhere))
    # and a mayor of another commune has no casting vote here
    tie = (ballot("b1", "c1", "c2", "c3"), ballot("b2", "c2", "c1", "c3"))
    result = decide(make_case(*tie, ballot("b3", "c2", "c1", "c3"), dwelling=elsewhere))
    assert result.ranking[0] == "c2"
    assert decide(make_case(*tie, dwelling=elsewhere)).referral_reason == "tie_for_first_place"


def test_reservation_holder_is_consultative_and_contingent_scoped() -> None:
    holder = member("al", Role.RESERVATION_HOLDER, contingent="action_logement")
    other = member("pref", Role.RESERVATION_HOLDER, contingent="prefecture")
    members = (*MEMBERS, holder, other)
    ballots = (ballot("b1", *CANDS), ballot("b2", *CANDS))
    # not counted among the voting members for the quorum
    assert decide(make_case(*ballots, members=members)).quorum_required == 2
    with pytest.raises(NotVotingMember, match="ballot 3"):
        validate_case(make_case(*ballots, ballot("al", *CANDS), members=members))
    with pytest.raises(NotVotingMember):
        validate_case(make_case(ballot("pref", *CANDS), members=members))
    # declaring a reservation holder deliberative is refused, on or off its contingent
    for contingent in ("action_logement", "prefecture"):
        voting = member("rh", Role.RESERVATION_HOLDER, vote=VoteType.DELIBERATIVE)
        voting = Member(voting.id, voting.role, voting.vote, contingent=contingent)
        with pytest.raises(InvalidInput, match="reservation_holder"):
            validate_case(make_case(*ballots, members=(*MEMBERS, voting)))


def test_ballot_without_rights_is_rejected() -> None:
    other_mayor = member("mayor2", Role.MAYOR, communes=["75056"])
    with pytest.raises(NoRightOnDwelling):
        validate_case(make_case(ballot("mayor2", *CANDS), members=(*MEMBERS, other_mayor)))
    with pytest.raises(NoRightOnDwelling):
        decide(make_case(ballot("mayor2", *CANDS), members=(*MEMBERS, other_mayor)))


@pytest.mark.parametrize(
    ("bad", "error", "fragment"),
    [
        (ballot("b1", "c1", "c2"), InvalidBallot, "'c3' neither ranked nor marked"),
        (ballot("b1", "c1", "c2", "c1", "c3"), InvalidBallot, "'c1' ranked twice"),
        (ballot("b1", "c1", "c2", "c3", na={"c3": "r"}), InvalidBallot, "both ranked"),
        (ballot("b1", "c1", "c2", na={"c3": "r"}, inad={"c3": "r"}), InvalidBallot, "both"),
        (ballot("b1", "c1", "c2", na={"c3": " "}), InvalidBallot, "without a reason"),
        (ballot("b1", "c1", "c2", inad={"c3": ""}), InvalidBallot, "without a reason"),
        (ballot("b1", "c1", "c2", "c3", "c9"), UnknownCandidate, "'c9'"),
        (ballot("b1", "c1", "c2", "c3", na={"c9": "r"}), UnknownCandidate, "'c9'"),
        (ballot("m9", "c1", "c2", "c3"), UnknownMember, "unknown member 'm9' in ballot 2"),
        (ballot("b1", *CANDS, on_behalf_of="m9"), UnknownMember, "'m9'"),
    ],
)
def test_invalid_ballots_are_rejected(
    bad: CaseBallot, error: type[DomainError], fragment: str
) -> None:
    case = make_case(ballot("b2", *CANDS), bad)
    with pytest.raises(error, match=fragment):
        validate_case(case)
    with pytest.raises(error):
        decide(case)


def test_incomplete_ballot_is_rejected() -> None:
    with pytest.raises(InvalidBallot, match="neither ranked nor marked"):
        decide(make_case(ballot("b1", "c1"), ballot("b2", *CANDS)))


# ------------------------------------------------------------------------------ proxies


def test_proxy_rules() -> None:
    with pytest.raises(ProxyChained):
        validate_case(make_case(proxies={"b1": "b2", "b2": "b3"}))
    with pytest.raises(ProxyLimitReached):
        validate_case(make_case(proxies={"b1": "b3", "b2": "b3"}))
    validate_case(
        make_case(proxies={"b1": "b3", "b2": "b3"}, rules=Rules(max_proxies_per_holder=2))
    )
    with pytest.raises(ProxyError):
        validate_case(make_case(proxies={"b1": "b1"}))
    with pytest.raises(UnknownMember):
        validate_case(make_case(proxies={"b1": "m9"}))
    holder = member("al", Role.RESERVATION_HOLDER, contingent="action_logement")
    with pytest.raises(NotVotingMember):
        validate_case(make_case(members=(*MEMBERS, holder), proxies={"b1": "al"}))


def test_case_level_checks() -> None:
    with pytest.raises(DuplicateEntity):
        validate_case(make_case(members=(*MEMBERS, member("b1"))))
    with pytest.raises(DuplicateEntity):
        validate_case(make_case(candidates=("c1", "c1")))
    with pytest.raises(InvalidInput):
        validate_case(make_case(candidates=()))
    with pytest.raises(InvalidInput):
        validate_case(make_case(candidates=[CandidateFile("c1", ("",))]))


# ------------------------------------------------------------------------------ determinism

MEMBER_IDS = ("mayor", "b1", "b2", "b3")


@st.composite
def random_cases(draw: st.DrawFn) -> DwellingCase:
    n = draw(st.integers(min_value=1, max_value=5))
    cands = [f"c{i}" for i in range(1, n + 1)]
    ballots = []
    for _ in range(draw(st.integers(min_value=0, max_value=8))):
        voter = draw(st.sampled_from(MEMBER_IDS))
        order = draw(st.permutations(cands))
        cut = draw(st.integers(min_value=0, max_value=n))
        na: dict[str, str] = {}
        inad: dict[str, str] = {}
        for cand in order[cut:]:
            mark = draw(st.sampled_from(["na", "inad"]))
            reason = draw(st.sampled_from(["r1", "r2", "r3"]))
            (na if mark == "na" else inad)[cand] = reason
        ballots.append(ballot(voter, *order[:cut], na=na, inad=inad))
    missing = draw(st.sets(st.sampled_from(cands)))
    candidates = [CandidateFile(c, ("doc",) if c in missing else ()) for c in cands]
    method = draw(st.sampled_from(list(Method)))
    return make_case(*ballots, candidates=candidates, rules=Rules(method=method))


def reordered(case: DwellingCase, rnd: random.Random) -> DwellingCase:
    """The same case with every mapping and the members listed in another order."""

    def shuffled_dict(d: Mapping[str, str]) -> dict[str, str]:
        items = list(d.items())
        rnd.shuffle(items)
        return dict(items)

    members = list(case.members)
    rnd.shuffle(members)
    ballots = tuple(
        CaseBallot(
            b.member_id,
            b.ranking,
            shuffled_dict(b.non_attribution),
            shuffled_dict(b.inadmissible),
            b.on_behalf_of,
        )
        for b in case.ballots
    )
    return DwellingCase(
        case.dwelling,
        case.candidates,
        tuple(members),
        shuffled_dict(case.proxies),
        ballots,
        case.referrals,
        case.rules,
    )


@settings(max_examples=150, deadline=None)
@given(random_cases(), st.randoms(use_true_random=False))
def test_deterministic_and_consistent(case: DwellingCase, rnd: random.Random) -> None:
    result = decide(case)
    assert result == decide(case)
    assert result.to_json() == decide(reordered(case, rnd)).to_json()
    if result.status == "referred":
        assert result.decisions == {} and result.ranking == ()
        return
    assert set(result.decisions) == {c.id for c in case.candidates}
    ranked = [c for c, d in result.decisions.items() if d.rank is not None]
    assert sorted(ranked) == sorted(result.ranking)
    assert [result.decisions[c].rank for c in result.ranking] == sorted(
        result.decisions[c].rank or 0 for c in result.ranking
    )
    if result.ranking:
        assert result.decisions[result.ranking[0]].rank == 1
        assert sum(1 for c in result.ranking if result.decisions[c].rank == 1) == 1
    for cand in case.candidates:
        decision = result.decisions[cand.id]
        if decision.rank is None:
            assert decision.decision in ("non_attribution", "inadmissible")
            assert decision.reasons
        elif cand.missing_documents:
            assert decision.decision == "attribution_conditional"
        else:
            assert decision.decision == "attribution"
