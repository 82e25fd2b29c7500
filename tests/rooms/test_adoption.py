"""Adoption votes: each rule at, just below and just above its threshold, quorum, paper and rounding."""

from __future__ import annotations

from typing import Any

import pytest

from rooms import Code, Refused
from rooms.adoption import (
    ABSTAIN,
    GRADIENTS,
    REASONS,
    RULE_NAMES,
    AdoptionRule,
    Outcome,
    check_ballot,
    from_data,
    needs_reason,
    options,
    outcome,
    parse_paper,
    parse_rule,
    percent,
    rule_to_data,
    step,
    to_data,
    visible,
)

MAJORITY = AdoptionRule("majority")
TWO_THIRDS = AdoptionRule("two_thirds")
CONSENT = AdoptionRule("consent")


def threshold(pct: int, **more: Any) -> AdoptionRule:
    return parse_rule({"rule": "threshold", "threshold": pct, **more})


def gradients(pct: int | None = None) -> AdoptionRule:
    return parse_rule({"rule": "gradients", "threshold": pct})


def grad_counts(**by_key: int) -> list[int]:
    """Gradients counts in ballot order from keys, e.g. grad_counts(endorse=3, veto=1)."""
    return [by_key.get(k, 0) for k in options("gradients")]


def invalid_field(args: dict[str, Any]) -> str:
    """The field a refused parse_rule names."""
    with pytest.raises(Refused) as info:
        parse_rule(args)
    assert info.value.code == Code.INVALID_ARGS
    return info.value.msg.split(":")[0]


# -- options and rules ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", RULE_NAMES)
def test_every_rule_offers_abstain_last(name: str) -> None:
    """Every rule's options are stable keys with abstain last and only once."""
    opts = options(name)
    assert opts[-1] == ABSTAIN and opts.count(ABSTAIN) == 1 and len(set(opts)) == len(opts)


def test_options_of_each_rule() -> None:
    """for/against, consent/object and the seven gradients steps, each in ballot order."""
    assert options(MAJORITY) == options(TWO_THIRDS) == options(threshold(80)) == ("for", "against", "abstain")
    assert options(CONSENT) == ("consent", "object", "abstain")
    assert options(gradients()) == ("endorse", "endorse_with_minor_point", "agree_with_reservations",
                                    "more_discussion_needed", "dont_like_but_will_not_block",
                                    "serious_disagreement", "veto", "abstain")


def test_gradients_scale_keeps_kaners_order() -> None:
    """On the scale abstain is step 4 and veto step 8, whatever its ballot index."""
    assert len(GRADIENTS) == 8 and step("endorse") == 1 and step(ABSTAIN) == 4 and step("veto") == 8
    assert sorted(options("gradients"), key=step) == list(GRADIENTS)


def test_options_of_an_unknown_rule_is_an_error() -> None:
    """A rule name outside RULE_NAMES is a programming error, not a silent empty ballot."""
    with pytest.raises(ValueError):
        options("unanimity")


def test_parse_rule_defaults() -> None:
    """A bare rule has no quorum and shows live; gradients defaults to a 75 percent threshold."""
    assert parse_rule({"rule": "majority"}) == AdoptionRule("majority", None, None, None, False)
    assert gradients() == AdoptionRule("gradients", 75)
    assert gradients(90).threshold == 90
    assert parse_rule({"rule": "consent", "hidden": True, "quorum": 12}) == AdoptionRule("consent", quorum=12,
                                                                                          hidden=True)


@pytest.mark.parametrize(("args", "field"), [
    ({}, "rule"),
    ({"rule": "unanimity"}, "rule"),
    ({"rule": "threshold"}, "threshold"),
    ({"rule": "threshold", "threshold": 49}, "threshold"),
    ({"rule": "threshold", "threshold": 101}, "threshold"),
    ({"rule": "threshold", "threshold": 80.0}, "threshold"),
    ({"rule": "gradients", "threshold": 40}, "threshold"),
    ({"rule": "majority", "threshold": 60}, "threshold"),
    ({"rule": "two_thirds", "threshold": 67}, "threshold"),
    ({"rule": "consent", "quorum": 0}, "quorum"),
    ({"rule": "consent", "quorum": "5"}, "quorum"),
    ({"rule": "consent", "quorum_percent": 101}, "quorum_percent"),
    ({"rule": "majority", "quorum": 5, "quorum_percent": 50}, "quorum_percent"),
    ({"rule": "majority", "hidden": "yes"}, "hidden"),
])
def test_parse_rule_names_the_wrong_field(args: dict[str, Any], field: str) -> None:
    """A bad rule argument is invalid_args naming the field at fault."""
    assert invalid_field(args) == field


@pytest.mark.parametrize("rule", [MAJORITY, TWO_THIRDS, CONSENT, gradients(), threshold(80, quorum_percent=40),
                                  parse_rule({"rule": "majority", "quorum": 7, "hidden": True})])
def test_a_rule_survives_its_event_data(rule: AdoptionRule) -> None:
    """parse_rule reads back exactly what rule_to_data wrote, so a replayed vote has its rule."""
    assert parse_rule(rule_to_data(rule)) == rule


def test_hidden_counts_show_once_closed() -> None:
    """A hidden vote shows counts only after closing; a live one always."""
    hidden = parse_rule({"rule": "majority", "hidden": True})
    assert (visible(hidden, True), visible(hidden, False)) == (False, True)
    assert (visible(MAJORITY, True), visible(MAJORITY, False)) == (True, True)


# -- ballots --------------------------------------------------------------------------------------

def test_only_an_objection_or_a_veto_needs_a_reason() -> None:
    """needs_reason is true for consent's object option and the gradients' veto alone."""
    assert [needs_reason(CONSENT, i) for i in range(3)] == [False, True, False]
    assert not any(needs_reason(MAJORITY, i) for i in range(len(options(MAJORITY))))
    assert [i for i in range(len(options(gradients()))) if needs_reason(gradients(), i)] == \
        [options(gradients()).index("veto")]
    assert needs_reason(CONSENT, 7) is False


def test_an_objection_must_carry_a_reason() -> None:
    """An objection with no reason, or a blank one, or one over 500 characters is invalid_args."""
    for reason in (None, "", "   ", "x" * 501, 5):
        with pytest.raises(Refused) as info:
            check_ballot(CONSENT, 1, reason)
        assert info.value.code == Code.INVALID_ARGS and info.value.msg.startswith("reason:")
    assert check_ballot(CONSENT, 1, "  It ignores rural areas. ") == "It ignores rural areas."
    assert check_ballot(CONSENT, 1, "x" * 500) == "x" * 500


@pytest.mark.parametrize(("rule", "choice"), [(CONSENT, 0), (CONSENT, 2), (MAJORITY, 1), (gradients(), 5)])
def test_a_reason_on_any_other_ballot_is_refused(rule: AdoptionRule, choice: int) -> None:
    """Consent, abstain, against or even veto carry no reason: one given is invalid_args; none is fine."""
    assert check_ballot(rule, choice) is None
    with pytest.raises(Refused) as info:
        check_ballot(rule, choice, "because")
    assert info.value.code == Code.INVALID_ARGS and info.value.msg.startswith("reason:")


@pytest.mark.parametrize("choice", [-1, 3, True])
def test_a_ballot_outside_the_options_is_refused(choice: int) -> None:
    """A choice index outside the rule's options is invalid_args naming choice."""
    with pytest.raises(Refused) as info:
        check_ballot(MAJORITY, choice)
    assert info.value.msg.startswith("choice:")


# -- majority -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("for_", "against", "adopted", "reason"), [
    (2, 1, True, "majority_for"),
    (1, 1, False, "tie"),
    (1, 2, False, "majority_against"),
    (51, 50, True, "majority_for"),
])
def test_majority_needs_more_for_than_against(for_: int, against: int, adopted: bool, reason: str) -> None:
    """Simple majority: for > against adopts; a tie does not."""
    o = outcome(MAJORITY, [for_, against, 0], present=200)
    assert (o.adopted, o.reason) == (adopted, reason)


def test_abstentions_do_not_count_either_way() -> None:
    """Abstentions are reported apart (percent of cast) and never change the decision."""
    o = outcome(MAJORITY, [2, 1, 7], present=10)
    assert (o.for_, o.against, o.abstain, o.cast) == (2, 1, 7, 10)
    assert (o.for_percent, o.against_percent, o.abstain_percent) == (66.7, 33.3, 70.0)
    assert o.adopted and outcome(MAJORITY, [2, 1, 0], present=10).adopted
    assert outcome(MAJORITY, [1, 2, 97], present=100).adopted is False


def test_all_abstaining_adopts_nothing() -> None:
    """Ballots that all abstain decide nothing under any rule."""
    for rule in (MAJORITY, TWO_THIRDS, threshold(50), CONSENT, gradients()):
        counts = [0] * (len(options(rule)) - 1) + [4]
        o = outcome(rule, counts, present=4)
        assert (o.adopted, o.reason, o.for_percent, o.abstain_percent) == (False, "all_abstained", None, 100.0)


# -- two thirds and a custom threshold ------------------------------------------------------------

@pytest.mark.parametrize(("for_", "against", "adopted"), [
    (2, 1, True),  # exactly two thirds
    (200, 100, True),
    (199, 100, False),  # just below
    (201, 100, True),  # just above
    (65, 35, False),
    (67, 33, True),
    (1, 0, True),
])
def test_two_thirds_at_below_and_above(for_: int, against: int, adopted: bool) -> None:
    """Two thirds adopts when for is at least 2/3 of for + against, compared exactly."""
    o = outcome(TWO_THIRDS, [for_, against, 3], present=400)
    assert o.adopted is adopted
    assert o.reason == ("threshold_met" if adopted else "below_threshold")


@pytest.mark.parametrize(("for_", "against", "adopted", "shown"), [
    (80, 20, True, 80.0),  # exactly 80.0 percent
    (79, 21, False, 79.0),
    (81, 19, True, 81.0),
    (3999, 1001, False, 80.0),  # 79.98 percent shows as 80.0 but is below
    (4, 1, True, 80.0),
])
def test_custom_threshold_at_below_and_above(for_: int, against: int, adopted: bool, shown: float) -> None:
    """An 80 percent threshold adopts at exactly 80 and above, decided on the exact share, not the shown one."""
    o = outcome(threshold(80), [for_, against, 0], present=5000)
    assert (o.adopted, o.for_percent) == (adopted, shown)


def test_a_fifty_percent_threshold_adopts_a_tie() -> None:
    """At 50 percent, for >= half of the decisive ballots: a tie is adopted, unlike simple majority."""
    assert outcome(threshold(50), [3, 3, 0], present=6).adopted is True
    assert outcome(threshold(50), [2, 3, 0], present=6).adopted is False
    assert outcome(threshold(100), [5, 0, 9], present=14).adopted is True
    assert outcome(threshold(100), [5, 1, 0], present=14).adopted is False


# -- consent --------------------------------------------------------------------------------------

def test_consent_without_objection_is_adopted() -> None:
    """Consent adopts when no one objects, however many abstain."""
    o = outcome(CONSENT, [3, 0, 5], present=8)
    assert (o.adopted, o.reason, o.objections) == (True, "consent", 0)


def test_one_objection_blocks_consent() -> None:
    """A single objection blocks consent against any number of consents, and is counted."""
    o = outcome(CONSENT, [40, 1, 2], present=43)
    assert (o.adopted, o.reason, o.objections, o.against) == (False, "objection", 1, 1)


# -- gradients ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("counts", "adopted", "reason"), [
    (grad_counts(endorse=3, more_discussion_needed=1), True, "threshold_met"),  # exactly 75
    (grad_counts(endorse=2, agree_with_reservations=1, serious_disagreement=1, abstain=9), True, "threshold_met"),
    (grad_counts(endorse=2, dont_like_but_will_not_block=1), False, "below_threshold"),  # 66.7
    (grad_counts(endorse=299, serious_disagreement=101), False, "below_threshold"),  # 74.75
    (grad_counts(endorse_with_minor_point=301, serious_disagreement=99), True, "threshold_met"),  # 75.25
])
def test_gradients_at_below_and_above_75(counts: list[int], adopted: bool, reason: str) -> None:
    """Gradients adopts when steps 1-3 are at least 75 percent of the ballots that do not abstain."""
    o = outcome(gradients(), counts, present=500)
    assert (o.adopted, o.reason) == (adopted, reason)


def test_a_veto_blocks_gradients() -> None:
    """One veto (step 8) blocks adoption even with every other ballot an endorsement."""
    o = outcome(gradients(), grad_counts(endorse=30, veto=1), present=31)
    assert (o.adopted, o.reason, o.objections, o.for_, o.against) == (False, "veto", 1, 30, 1)


def test_gradients_abstain_is_step_four_and_apart() -> None:
    """Step 4 ballots are abstentions: left out of the share, reported in abstain."""
    o = outcome(gradients(), grad_counts(endorse=3, abstain=6, veto=0, more_discussion_needed=1), present=10)
    assert (o.for_, o.against, o.abstain, o.for_percent, o.abstain_percent) == (3, 1, 6, 75.0, 60.0)


def test_gradients_with_a_custom_threshold() -> None:
    """A gradients vote at 90 percent needs nine supporters in ten."""
    assert outcome(gradients(90), grad_counts(endorse=9, serious_disagreement=1), present=10).adopted
    assert not outcome(gradients(90), grad_counts(endorse=8, serious_disagreement=1), present=10).adopted


# -- quorum ---------------------------------------------------------------------------------------

def test_quorum_counts_ballots_cast_including_abstentions() -> None:
    """A quorum of 5 is met by 5 ballots of which some abstain, and not by 4."""
    rule = parse_rule({"rule": "majority", "quorum": 5})
    met = outcome(rule, [2, 1, 2], present=20)
    assert (met.quorum_met, met.adopted, met.reason) == (True, True, "majority_for")
    short = outcome(rule, [3, 0, 1], present=20)
    assert (short.quorum_met, short.adopted, short.reason) == (False, False, "no_quorum")


def test_quorum_percent_is_turnout_of_those_present() -> None:
    """A 50 percent quorum of 10 present is met by 5 ballots and not by 4."""
    rule = parse_rule({"rule": "consent", "quorum_percent": 50})
    assert outcome(rule, [4, 0, 1], present=10).quorum_met is True
    o = outcome(rule, [4, 0, 0], present=10)
    assert (o.quorum_met, o.reason, o.turnout_percent) == (False, "no_quorum", 40.0)


def test_no_quorum_comes_before_a_veto_or_objection() -> None:
    """A vote without its quorum is not valid at all, so it reports no_quorum even with an objection."""
    rule = parse_rule({"rule": "consent", "quorum": 10})
    assert outcome(rule, [1, 1, 0], present=10).reason == "no_quorum"


def test_no_ballots_adopt_nothing() -> None:
    """With no ballots a vote is not adopted: no_votes, or no_quorum when a quorum was set."""
    o = outcome(MAJORITY, [0, 0, 0], present=12)
    assert (o.adopted, o.reason, o.quorum_met, o.turnout_percent, o.for_percent, o.abstain_percent) == (
        False, "no_votes", True, 0.0, None, None)
    assert outcome(parse_rule({"rule": "majority", "quorum": 1}), [0, 0, 0], present=12).reason == "no_quorum"
    assert outcome(parse_rule({"rule": "majority", "quorum_percent": 10}), [0, 0, 0], 12).reason == "no_quorum"


def test_nobody_present_has_no_turnout() -> None:
    """With present 0 and no ballots the turnout is None, not a division by zero."""
    o = outcome(threshold(60, quorum_percent=50), [0, 0, 0], present=0)
    assert (o.present, o.turnout_percent, o.adopted, o.reason) == (0, None, False, "no_votes")


def test_digital_ballots_count_as_present() -> None:
    """Someone who cast a ballot was present: present is never below the digital ballots cast."""
    o = outcome(MAJORITY, [3, 1, 0], present=2)
    assert (o.present, o.turnout_percent) == (4, 100.0)


# -- paper ballots --------------------------------------------------------------------------------

def test_paper_counts_join_the_totals() -> None:
    """Paper counts add to the digital counts per option, and each paper ballot adds one present."""
    o = outcome(MAJORITY, [2, 3, 0], present=10, paper=[4, 1, 1])
    assert (o.for_, o.against, o.abstain, o.cast, o.present) == (6, 4, 1, 11, 16)
    assert o.adopted and not outcome(MAJORITY, [2, 3, 0], present=10).adopted


def test_paper_objections_block_consent() -> None:
    """An objection on paper blocks consent like a digital one."""
    o = outcome(CONSENT, [12, 0, 0], present=12, paper=[3, 1, 0])
    assert (o.adopted, o.reason, o.objections) == (False, "objection", 1)


def test_paper_can_meet_a_quorum() -> None:
    """Paper ballots count toward a quorum of ballots cast."""
    rule = parse_rule({"rule": "majority", "quorum": 6})
    assert outcome(rule, [3, 1, 0], present=4).quorum_met is False
    assert outcome(rule, [3, 1, 0], present=4, paper=[1, 0, 1]).quorum_met is True


def test_parse_paper_checks_one_count_per_option() -> None:
    """Paper counts are a list of whole numbers 0-100000, one per option; anything else names the field."""
    assert parse_paper(CONSENT, {"counts": [2, 0, 1]}) == (2, 0, 1)
    for bad in ([1, 2], [1, 2, 3, 4], [1, -1, 0], [1, 1.0, 0], [True, 0, 0], "3", None, [0, 0, 100_001]):
        with pytest.raises(Refused) as info:
            parse_paper(CONSENT, {"counts": bad})
        assert info.value.code == Code.INVALID_ARGS and info.value.msg.startswith("counts")


@pytest.mark.parametrize(("counts", "paper"), [([1, 0], None), ([1, 0, 0], [1, 0]), ([1, -1, 0], None),
                                               ([1, 0, 0], [0, 0, -2])])
def test_outcome_refuses_counts_that_do_not_fit(counts: list[int], paper: list[int] | None) -> None:
    """Counts of the wrong length or below zero are a ValueError: the caller has a bug."""
    with pytest.raises(ValueError):
        outcome(MAJORITY, counts, present=3, paper=paper)


# -- rounding and data ----------------------------------------------------------------------------

@pytest.mark.parametrize(("part", "whole", "shown"), [
    (1, 16, 6.3),  # 6.25: half up (float round() gives 6.2)
    (1, 80, 1.3),  # 1.25
    (1, 8, 12.5),
    (1, 3, 33.3),
    (2, 3, 66.7),
    (1, 6, 16.7),
    (0, 7, 0.0),
    (7, 7, 100.0),
    (3999, 5000, 80.0),
    (1, 2000, 0.1),  # 0.05
    (1, 2001, 0.0),  # just under 0.05
])
def test_percent_rounds_half_up_to_one_decimal(part: int, whole: int, shown: float) -> None:
    """Percentages are the exact fraction rounded half up to one decimal, unlike float round()."""
    assert percent(part, whole) == shown


def test_percent_of_nothing_is_none() -> None:
    """A share of zero ballots has no percentage."""
    assert percent(0, 0) is None and percent(5, 0) is None


def test_the_same_ballots_give_the_same_outcome_however_they_were_cast() -> None:
    """The same totals, all on tablets or split between tablets and paper, give the very same outcome."""
    rule = threshold(60)
    a = outcome(rule, [7, 4, 2], present=13)
    b = outcome(rule, [3, 1, 0], present=4, paper=[4, 3, 2])
    assert a == b == outcome(rule, (7, 4, 2), present=13)
    assert (a.for_percent, a.against_percent, a.abstain_percent, a.adopted, a.reason) == (
        63.6, 36.4, 15.4, True, "threshold_met")


def test_outcome_data_round_trips() -> None:
    """to_data writes plain data with `for` (not `for_`); from_data reads the same outcome back."""
    o = outcome(gradients(), grad_counts(endorse=5, veto=1, abstain=2), present=9, paper=grad_counts(endorse=1))
    data = to_data(o)
    assert data["for"] == 6 and "for_" not in data and data["reason"] == "veto"
    assert set(data) == {"for", "against", "abstain", "objections", "cast", "present", "turnout_percent",
                         "for_percent", "against_percent", "abstain_percent", "quorum_met", "adopted", "reason"}
    assert all(v is None or type(v) in (int, float, bool, str) for v in data.values())
    assert from_data(data) == o and isinstance(from_data(data), Outcome)


def test_every_reason_is_a_known_key() -> None:
    """Each outcome's reason is one of the stable REASONS the UI translates."""
    seen = {outcome(r, c, 10).reason for r, c in [
        (MAJORITY, [0, 0, 0]), (MAJORITY, [1, 0, 0]), (MAJORITY, [0, 1, 0]), (MAJORITY, [1, 1, 0]),
        (MAJORITY, [0, 0, 1]), (TWO_THIRDS, [1, 1, 0]), (TWO_THIRDS, [2, 1, 0]), (CONSENT, [1, 0, 0]),
        (CONSENT, [1, 1, 0]), (gradients(), grad_counts(veto=1)), (parse_rule({"rule": "majority", "quorum": 9}),
                                                                   [1, 0, 0])]}
    assert seen == set(REASONS)
