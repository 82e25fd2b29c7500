"""Adoption votes: the rules by which the plenary adopts a recommendation, as pure arithmetic.

An adoption vote is a poll on one recommendation with a rule chosen when it opens:

- `majority`: adopted when for > against (a tie is not adopted);
- `two_thirds`: adopted when for >= 2/3 of (for + against);
- `threshold`: adopted when for >= `threshold` percent (50-100) of (for + against);
- `consent`: adopted when no one objects and at least one consents; an objection carries a reason
  (as a veto does in `gradients`);
- `gradients`: the 8 steps of Kaner's gradients of agreement; adopted when steps 1-3 make at least
  `threshold` percent (default 75) of the ballots that do not abstain, and no one vetoes (step 8).

Ballots are option indices into `options(rule)`: stable keys that the UI translates, with
`abstain` always the last option. Abstentions never count for or against; they are reported apart.
(The gradients scale shows abstain as its step 4: `GRADIENTS` lists the scale in that order, and
`step(key)` gives a key's step.)

Quorum, at most one of the two (`quorum` and `quorum_percent` are exclusive):

- `quorum`: the least number of ballots cast, abstentions and paper ballots included;
- `quorum_percent`: the least turnout, ballots cast as a percent of those present.

Those present are `present` (the members with a device, as the hall's tally counts them; never
fewer than the digital ballots cast, since whoever cast one was there) plus one for each paper
ballot: a paper ballot is a member without a device, who is there and voted.

Percentages are for display only: exact `Fraction`s rounded to one decimal, half up (1/16 is 6.3,
not 6.2 as float `round` gives). Every decision compares exact fractions, never a rounded number,
so 3,999 for and 1,001 against shows as 80.0 percent yet is below an 80 percent threshold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from fractions import Fraction
from typing import Any

from .commands import flag, integer, text
from .errors import Code, Refused

RULE_NAMES = ("majority", "two_thirds", "threshold", "consent", "gradients")

ABSTAIN = "abstain"
FOR = "for"
AGAINST = "against"
CONSENT = "consent"
OBJECT = "object"
VETO = "veto"
# Kaner's gradients of agreement, in the order of the scale (step 1 to step 8).
GRADIENTS = (
    "endorse",  # 1 whole-hearted endorsement
    "endorse_with_minor_point",  # 2 agreement with a minor point of contention
    "agree_with_reservations",  # 3 support with reservations
    ABSTAIN,  # 4 abstain: I can live with it
    "more_discussion_needed",  # 5
    "dont_like_but_will_not_block",  # 6
    "serious_disagreement",  # 7
    VETO,  # 8
)
SUPPORT = frozenset(GRADIENTS[:3])  # the steps that count for adoption

DEFAULT_GRADIENTS_THRESHOLD = 75
THRESHOLD_MIN = 50
REASON_MAX = 500
QUORUM_MAX = 100_000
PAPER_MAX = 100_000  # paper ballots for one option

# Why a vote ended as it did: stable keys the UI translates.
REASONS = (
    "no_quorum", "no_votes", "all_abstained", "majority_for", "majority_against", "tie", "threshold_met",
    "below_threshold", "consent", "objection", "veto",
)

_OPTIONS: dict[str, tuple[str, ...]] = {
    "majority": (FOR, AGAINST, ABSTAIN),
    "two_thirds": (FOR, AGAINST, ABSTAIN),
    "threshold": (FOR, AGAINST, ABSTAIN),
    "consent": (CONSENT, OBJECT, ABSTAIN),
    "gradients": tuple(g for g in GRADIENTS if g != ABSTAIN) + (ABSTAIN,),
}


def _bad(field: str, why: str) -> Refused:
    return Refused(Code.INVALID_ARGS, f"{field}: {why}")


@dataclass(frozen=True, slots=True)
class AdoptionRule:
    """How one adoption vote decides. Build it with `parse_rule`, which checks every field."""

    rule: str  # one of RULE_NAMES
    threshold: int | None = None  # percent: required by "threshold", 75 unless given for "gradients"; else None
    quorum: int | None = None  # the least number of ballots cast (abstentions and paper included)
    quorum_percent: int | None = None  # or the least turnout, percent of those present (1-100)
    hidden: bool = False  # counts withheld until the vote closes


def _optional_int(args: Mapping[str, Any], field: str, low: int, high: int) -> int | None:
    return None if args.get(field) is None else integer(args, field, low, high)


def parse_rule(args: Mapping[str, Any]) -> AdoptionRule:
    """The rule of a vote from untrusted `args` (rule, threshold, quorum, quorum_percent, hidden).

    Refused(invalid_args) names the field: an unknown rule, a threshold out of 50-100, a
    threshold missing for "threshold" or given to a rule that takes none, both quorums at once.
    """
    name = args.get("rule")
    if name not in RULE_NAMES:
        raise _bad("rule", "must be one of " + ", ".join(RULE_NAMES))
    threshold = _optional_int(args, "threshold", THRESHOLD_MIN, 100)
    if name == "threshold" and threshold is None:
        raise _bad("threshold", f"the threshold rule needs a percent from {THRESHOLD_MIN} to 100")
    if name == "gradients" and threshold is None:
        threshold = DEFAULT_GRADIENTS_THRESHOLD
    if name not in ("threshold", "gradients") and threshold is not None:
        raise _bad("threshold", "only the threshold and gradients rules take one")
    quorum = _optional_int(args, "quorum", 1, QUORUM_MAX)
    quorum_percent = _optional_int(args, "quorum_percent", 1, 100)
    if quorum is not None and quorum_percent is not None:
        raise _bad("quorum_percent", "set quorum or quorum_percent, not both")
    return AdoptionRule(str(name), threshold, quorum, quorum_percent, flag(args, "hidden"))


def rule_to_data(rule: AdoptionRule) -> dict[str, Any]:
    """The rule as plain data for an event; `parse_rule(rule_to_data(r)) == r`."""
    return {"rule": rule.rule, "threshold": rule.threshold, "quorum": rule.quorum,
            "quorum_percent": rule.quorum_percent, "hidden": rule.hidden}


def options(rule: AdoptionRule | str) -> tuple[str, ...]:
    """The stable option keys of a rule (or a rule's name), in ballot index order, abstain last."""
    name = rule.rule if isinstance(rule, AdoptionRule) else rule
    found = _OPTIONS.get(name)
    if found is None:
        raise ValueError(f"no adoption rule {name!r}")
    return found


def step(key: str) -> int:
    """The step (1-8) of a gradients key on Kaner's scale, where abstain is step 4."""
    return GRADIENTS.index(key) + 1


def visible(rule: AdoptionRule, open: bool) -> bool:
    """Whether the counts may be shown: always once closed, while open only if not hidden."""
    return not rule.hidden or not open


def needs_reason(rule: AdoptionRule, choice: int) -> bool:
    """Whether a ballot for option `choice` must carry a reason: a consent vote's objection or a
    gradients vote's veto (either stops the recommendation, so the record says why)."""
    opts = options(rule)
    return 0 <= choice < len(opts) and opts[choice] in (OBJECT, VETO)


def check_ballot(rule: AdoptionRule, choice: int, reason: Any = None) -> str | None:
    """The trimmed reason of a valid ballot (None when it has none), or Refused(invalid_args).

    An objection must carry a reason of 1-500 characters after trimming; any other ballot must
    carry none (not even an empty one).
    """
    opts = options(rule)
    if type(choice) is not int or not 0 <= choice < len(opts):
        raise _bad("choice", f"must be 0-{len(opts) - 1}")
    if needs_reason(rule, choice):
        if reason is None:
            raise _bad("reason", "an objection must give its reason")
        return text({"reason": reason}, "reason", 1, REASON_MAX)
    if reason is not None:
        raise _bad("reason", "only an objection carries a reason")
    return None


def parse_paper(rule: AdoptionRule, args: Mapping[str, Any], field: str = "counts") -> tuple[int, ...]:
    """Paper ballot counts from untrusted `args[field]`: one whole number 0-100000 per option."""
    value = args.get(field)
    n = len(options(rule))
    if not isinstance(value, list) or len(value) != n:
        raise _bad(field, f"must be a list of {n} counts, one per option")
    return tuple(integer({f"{field}[{i}]": v}, f"{field}[{i}]", 0, PAPER_MAX) for i, v in enumerate(value))


# -- the outcome ----------------------------------------------------------------------------------

def percent(part: int, whole: int) -> float | None:
    """part/whole as a percentage rounded to one decimal, half up; None when whole is 0."""
    if whole == 0:
        return None
    tenths = math.floor(Fraction(1000 * part, whole) + Fraction(1, 2))
    return tenths / 10  # int / int is the float nearest the exact tenths, the same on every machine


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of an adoption vote, digital and paper ballots together.

    `for_` and `against` are what decides: for, consent or steps 1-3 against against, objections
    or steps 5-8. `objections` are the blocking ballots: consent's objections, gradients' vetoes
    (0 under the other rules). `for_percent` and `against_percent` are of (for + against), the share
    the thresholds compare; `abstain_percent` is of `cast`, `turnout_percent` of `present`.
    """

    for_: int
    against: int
    abstain: int
    objections: int
    cast: int
    present: int
    turnout_percent: float | None
    for_percent: float | None
    against_percent: float | None
    abstain_percent: float | None
    quorum_met: bool
    adopted: bool
    reason: str  # one of REASONS


def _split(rule: AdoptionRule, n: Mapping[str, int]) -> tuple[int, int, int]:
    """(for, against, objections) of the per-option totals `n`."""
    if rule.rule == "consent":
        return n[CONSENT], n[OBJECT], n[OBJECT]
    if rule.rule == "gradients":
        support = sum(v for k, v in n.items() if k in SUPPORT)
        rest = sum(v for k, v in n.items() if k not in SUPPORT and k != ABSTAIN)
        return support, rest, n[VETO]
    return n[FOR], n[AGAINST], 0


def _needed(rule: AdoptionRule) -> Fraction:
    if rule.rule == "two_thirds":
        return Fraction(2, 3)
    assert rule.threshold is not None, "parse_rule sets a threshold for threshold and gradients"
    return Fraction(rule.threshold, 100)


def _verdict(rule: AdoptionRule, for_: int, against: int, objections: int, cast: int,
             quorum_met: bool) -> tuple[bool, str]:
    if not quorum_met:
        return False, "no_quorum"
    if cast == 0:
        return False, "no_votes"
    if objections:
        return False, "objection" if rule.rule == "consent" else "veto"
    if for_ + against == 0:
        return False, "all_abstained"
    if rule.rule == "consent":
        return True, "consent"
    if rule.rule == "majority":
        if for_ == against:
            return False, "tie"
        return (True, "majority_for") if for_ > against else (False, "majority_against")
    if Fraction(for_, for_ + against) >= _needed(rule):
        return True, "threshold_met"
    return False, "below_threshold"


def _counts(rule: AdoptionRule, name: str, counts: Sequence[int]) -> list[int]:
    n = len(options(rule))
    if len(counts) != n or any(type(v) is not int or v < 0 for v in counts):
        raise ValueError(f"{name}: {n} counts of 0 or more, one per option of {rule.rule}")
    return list(counts)


def outcome(rule: AdoptionRule, counts: Sequence[int], present: int, paper: Sequence[int] | None = None) -> Outcome:
    """The outcome of a vote under `rule`: the digital `counts` plus any `paper` counts, per option.

    `present` counts the members with a device (see the module's doc for how paper ballots and
    turnout count). A wrong number of counts, or a negative one, is a ValueError: counts come from
    the ballot box and from `parse_paper`, never straight from a device.
    """
    digital = _counts(rule, "counts", counts)
    on_paper = _counts(rule, "paper", paper) if paper is not None else [0] * len(digital)
    if present < 0:
        raise ValueError("present: 0 or more")
    totals = dict(zip(options(rule), (a + b for a, b in zip(digital, on_paper, strict=True)), strict=True))
    for_, against, objections = _split(rule, totals)
    abstain = totals[ABSTAIN]
    cast = sum(totals.values())
    electorate = max(present, sum(digital)) + sum(on_paper)
    quorum_met = ((rule.quorum is None or cast >= rule.quorum)
                  and (rule.quorum_percent is None or cast * 100 >= rule.quorum_percent * electorate))
    adopted, reason = _verdict(rule, for_, against, objections, cast, quorum_met)
    return Outcome(
        for_=for_, against=against, abstain=abstain, objections=objections, cast=cast, present=electorate,
        turnout_percent=percent(cast, electorate), for_percent=percent(for_, for_ + against),
        against_percent=percent(against, for_ + against), abstain_percent=percent(abstain, cast),
        quorum_met=quorum_met, adopted=adopted, reason=reason,
    )


_DATA_KEYS = {"for_": "for"}
_FIELDS = tuple(f.name for f in fields(Outcome))


def to_data(result: Outcome) -> dict[str, Any]:
    """The outcome as plain data for an event (`for_` is written `for`)."""
    return {_DATA_KEYS.get(k, k): getattr(result, k) for k in _FIELDS}


def from_data(data: Mapping[str, Any]) -> Outcome:
    """The outcome that `to_data` wrote: `from_data(to_data(o)) == o`."""
    return Outcome(**{k: data[_DATA_KEYS.get(k, k)] for k in _FIELDS})
