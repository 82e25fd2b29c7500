"""Parsing untrusted `args` into typed commands: shapes, lengths, ranges and types, nothing more."""

from __future__ import annotations

from typing import Any

import pytest

from rooms import Code, Refused
from rooms import commands as c
from rooms.phases import Phase


def refusal(kind: str, op: Any, args: Any) -> Refused:
    with pytest.raises(Refused) as info:
        c.parse(kind, op, args)
    return info.value


def invalid(kind: str, op: str, args: Any, field: str | None = None) -> None:
    err = refusal(kind, op, args)
    assert err.code == Code.INVALID_ARGS, err
    if field is not None:
        assert err.msg.startswith(f"{field}:"), err.msg


# -- text ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("sent", "kept"), [
    ("a", "a"),
    ("  trimmed  ", "trimmed"),
    ("x" * 280, "x" * 280),
    ("\t " + "x" * 280 + " \n", "x" * 280),
    ("æøå – ünïcode", "æøå – ünïcode"),
])
def test_note_text_within_1_to_280_after_trimming_is_kept_trimmed(sent: str, kept: str) -> None:
    """A note text of 1-280 characters after trimming parses, and the command holds the trimmed text."""
    assert c.parse("table", "note.add", {"note": "n1", "text": sent}) == c.AddNote("n1", kept)
    assert c.parse("table", "note.edit", {"note": "n1", "text": sent}) == c.EditNote("n1", kept)


@pytest.mark.parametrize("sent", ["", "   ", "\n\t", "x" * 281, " " + "x" * 281 + " "])
def test_note_text_empty_or_over_280_after_trimming_is_refused(sent: str) -> None:
    """A note text that is blank or longer than 280 characters after trimming is invalid_args naming text."""
    invalid("table", "note.add", {"note": "n1", "text": sent}, "text")
    invalid("table", "note.edit", {"note": "n1", "text": sent}, "text")


def test_note_text_missing_is_refused() -> None:
    """note.add without a text is invalid_args: a note needs something written on it."""
    invalid("table", "note.add", {"note": "n1"}, "text")


@pytest.mark.parametrize(("sent", "kept"), [("", ""), ("   ", ""), ("y" * 80, "y" * 80), (" Ideas ", "Ideas")])
def test_cluster_title_of_0_to_80_characters_parses(sent: str, kept: str) -> None:
    """A cluster title of 0-80 characters after trimming parses (trimmed), for add and rename."""
    assert c.parse("table", "cluster.add", {"cluster": "c1", "title": sent}) == c.AddCluster("c1", kept)
    assert c.parse("table", "cluster.rename", {"cluster": "c1", "title": sent}) == c.RenameCluster("c1", kept)


def test_cluster_title_may_be_left_out() -> None:
    """A cluster without a title gets the empty title (0 characters are allowed)."""
    assert c.parse("table", "cluster.add", {"cluster": "c1"}) == c.AddCluster("c1", "")


@pytest.mark.parametrize("sent", ["y" * 81, None, 3, ["t"]])
def test_cluster_title_too_long_or_not_a_string_is_refused(sent: Any) -> None:
    """A title over 80 characters, or one that is not a string, is invalid_args naming title."""
    invalid("table", "cluster.add", {"cluster": "c1", "title": sent}, "title")
    invalid("table", "cluster.rename", {"cluster": "c1", "title": sent}, "title")


# -- ids -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ident", ["a", "Z", "0", "n-1", "a.b_c:d-E9", "x" * 64, "uuid:1f3e.9A_b-c"])
def test_ids_of_1_to_64_allowed_characters_parse(ident: str) -> None:
    """An id of 1-64 characters from [A-Za-z0-9._:-] is accepted wherever an id is expected."""
    assert c.parse("table", "note.remove", {"note": ident}) == c.RemoveNote(ident)
    assert c.parse("table", "dot.add", {"target": ident}) == c.AddDot(ident)
    assert c.parse("hall", "poll.close", {"poll": ident}) == c.ClosePoll(ident)


@pytest.mark.parametrize("ident", [
    "", "x" * 65, "a b", "a/b", "a\n", "\na", "é", "n#1", "n+1", "<script>", None, 7, True, ["n1"], {"n": 1},
])
def test_ids_outside_the_alphabet_or_length_are_refused(ident: Any) -> None:
    """An id that is empty, over 64 characters, has a character outside [A-Za-z0-9._:-] or is no string is refused."""
    invalid("table", "note.remove", {"note": ident}, "note")
    invalid("table", "dot.add", {"target": ident}, "target")
    invalid("hall", "poll.close", {"poll": ident}, "poll")


def test_ids_are_required() -> None:
    """A command that names a note, cluster or target refuses args that leave that id out."""
    invalid("table", "note.add", {"text": "hello"}, "note")
    invalid("table", "cluster.add", {"title": "t"}, "cluster")
    invalid("table", "dot.remove", {}, "target")


def test_note_move_cluster_may_be_nil_or_absent() -> None:
    """note.move with cluster nil or absent means unclustered; a present cluster must be a valid id."""
    assert c.parse("table", "note.move", {"note": "n1", "cluster": None}) == c.MoveNote("n1", None)
    assert c.parse("table", "note.move", {"note": "n1"}) == c.MoveNote("n1", None)
    assert c.parse("table", "note.move", {"note": "n1", "cluster": "c1"}) == c.MoveNote("n1", "c1")
    invalid("table", "note.move", {"note": "n1", "cluster": ""}, "cluster")
    invalid("table", "note.move", {"note": "n1", "cluster": 1}, "cluster")


# -- ops and args ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "op"), [
    ("table", "note.fly"), ("table", ""), ("table", "NOTE.ADD"), ("table", "activity.start"),
    ("table", "vote.cast"), ("table", "poll.open"), ("hall", "note.add"), ("hall", "poll.tally"),
    ("hall", "dot.add"), ("table", 7), ("table", None), ("hall", ["phase.set"]),
])
def test_unknown_op_is_refused_as_unknown_op(kind: str, op: Any) -> None:
    """An op the room kind does not offer (including server-only ops like poll.tally) is unknown_op."""
    assert refusal(kind, op, {}).code == Code.UNKNOWN_OP


def test_unknown_op_is_reported_before_bad_args() -> None:
    """With both the op and the args wrong, the device learns the op is unknown."""
    assert refusal("table", "nope", "not a map").code == Code.UNKNOWN_OP


@pytest.mark.parametrize("args", [None, [], ["note", "n1"], "note=n1", 5, True, b"\x80"])
def test_args_that_are_not_a_map_are_invalid_args(args: Any) -> None:
    """args must be a map: anything else is invalid_args naming args, for a table and for the hall."""
    invalid("table", "note.add", args, "args")
    invalid("hall", "timer.stop", args, "args")


def test_unexpected_extra_args_are_ignored() -> None:
    """Extra keys in args do not change what is parsed (the server may add fields later)."""
    assert c.parse("table", "note.remove", {"note": "n1", "text": 9, "x": None}) == c.RemoveNote("n1")


# -- phases ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("phase", ["brainstorm", "cluster", "vote", "results"])
def test_settable_phases_parse(phase: str) -> None:
    """Each of the four settable phases parses, for a table and for the hall."""
    assert c.parse("table", "phase.set", {"phase": phase}) == c.SetPhase(Phase(phase))
    assert c.parse("hall", "phase.set", {"phase": phase}) == c.SetPhase(Phase(phase), None)


@pytest.mark.parametrize("phase", ["idle", "Vote", "VOTE", "", None, 1, ["vote"]])
def test_other_phases_are_refused(phase: Any) -> None:
    """idle (not settable), a miscased phase, or a non-string phase is invalid_args naming phase."""
    invalid("table", "phase.set", {"phase": phase}, "phase")
    invalid("hall", "phase.set", {"phase": phase}, "phase")


def test_hall_phase_set_tables_is_an_optional_list_of_ids() -> None:
    """Hall phase.set takes tables as a list of ids (kept in order), or none for every table."""
    assert c.parse("hall", "phase.set", {"phase": "vote", "tables": ["1", "t-2"]}).tables == ("1", "t-2")
    assert c.parse("hall", "phase.set", {"phase": "vote", "tables": None}).tables is None
    assert c.parse("hall", "phase.set", {"phase": "vote", "tables": []}).tables == ()
    invalid("hall", "phase.set", {"phase": "vote", "tables": "1"}, "tables")
    invalid("hall", "phase.set", {"phase": "vote", "tables": {"1": True}}, "tables")
    invalid("hall", "phase.set", {"phase": "vote", "tables": ["ok"] * 1001}, "tables")
    assert refusal("hall", "phase.set", {"phase": "vote", "tables": ["bad id"]}).code == Code.INVALID_ARGS
    assert refusal("hall", "phase.set", {"phase": "vote", "tables": [1]}).code == Code.INVALID_ARGS


# -- activities: dots and max_per_target -----------------------------------------------------------

def test_activity_defaults_are_5_dots_and_3_per_target() -> None:
    """An activity without dots or max_per_target gets 5 dots per member and at most 3 on one target."""
    cmd = c.parse("hall", "activity.start", {"activity": "a1", "prompt": " What matters? "})
    assert cmd == c.StartActivity("a1", "What matters?", 5, 3, False)


def test_activity_prompt_may_be_empty_but_not_over_500() -> None:
    """An activity's prompt is 0-500 characters after trimming."""
    assert c.parse("hall", "activity.start", {"activity": "a1"}).prompt == ""
    assert c.parse("hall", "activity.start", {"activity": "a1", "prompt": "p" * 500}).prompt == "p" * 500
    invalid("hall", "activity.start", {"activity": "a1", "prompt": "p" * 501}, "prompt")


@pytest.mark.parametrize(("dots", "mpt"), [(1, 1), (2, 2), (5, 5), (5, 1), (20, 20), (20, 3)])
def test_dots_and_max_per_target_within_bounds_parse(dots: int, mpt: int) -> None:
    """dots of 1-20 and max_per_target of 1 up to dots parse as given."""
    cmd = c.parse("hall", "activity.start", {"activity": "a1", "dots": dots, "max_per_target": mpt})
    assert (cmd.dots, cmd.max_per_target) == (dots, mpt)


@pytest.mark.parametrize(("dots", "default_mpt"), [(1, 1), (2, 2), (3, 3), (4, 3), (20, 3)])
def test_default_max_per_target_never_exceeds_dots(dots: int, default_mpt: int) -> None:
    """Without max_per_target the cap is 3, or dots when fewer than 3 dots are given."""
    assert c.parse("hall", "activity.start", {"activity": "a1", "dots": dots}).max_per_target == default_mpt


@pytest.mark.parametrize(("args", "field"), [
    ({"dots": 0}, "dots"), ({"dots": -1}, "dots"), ({"dots": 21}, "dots"),
    ({"dots": True}, "dots"), ({"dots": "5"}, "dots"), ({"dots": 5.0}, "dots"), ({"dots": None}, "dots"),
    ({"dots": 5, "max_per_target": 0}, "max_per_target"), ({"dots": 5, "max_per_target": 6}, "max_per_target"),
    ({"dots": 2, "max_per_target": 3}, "max_per_target"), ({"max_per_target": 6}, "max_per_target"),
    ({"max_per_target": True}, "max_per_target"), ({"max_per_target": 2.0}, "max_per_target"),
    ({"show_totals": 1}, "show_totals"), ({"show_totals": "yes"}, "show_totals"),
])
def test_dots_and_max_per_target_out_of_bounds_are_refused(args: dict[str, Any], field: str) -> None:
    """dots outside 1-20, max_per_target outside 1..dots, or a mistyped number or flag is invalid_args."""
    invalid("hall", "activity.start", {"activity": "a1", **args}, field)


# -- polls -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [2, 3, 12])
def test_choice_poll_takes_2_to_12_options(n: int) -> None:
    """A choice poll with 2-12 options parses, options trimmed and in order."""
    options = [f" opt {i} " for i in range(n)]
    cmd = c.parse("hall", "poll.open", {"poll": "p1", "question": "Q?", "kind": "choice", "options": options})
    assert cmd == c.OpenPoll("p1", "Q?", "choice", tuple(f"opt {i}" for i in range(n)), False)


@pytest.mark.parametrize("n", [0, 1, 13])
def test_choice_poll_with_fewer_than_2_or_more_than_12_options_is_refused(n: int) -> None:
    """A choice poll needs 2-12 options; any other count is invalid_args naming options."""
    args = {"poll": "p1", "question": "Q?", "kind": "choice", "options": [f"o{i}" for i in range(n)]}
    invalid("hall", "poll.open", args, "options")


@pytest.mark.parametrize("n", [3, 5, 7])
def test_scale_poll_takes_3_to_7_labels(n: int) -> None:
    """A scale poll with 3-7 labels parses; its labels become the options."""
    labels = [f"l{i}" for i in range(n)]
    cmd = c.parse("hall", "poll.open", {"poll": "p1", "question": "Q?", "kind": "scale", "labels": labels,
                                        "hidden": True})
    assert cmd == c.OpenPoll("p1", "Q?", "scale", tuple(labels), True)


@pytest.mark.parametrize("n", [0, 2, 8])
def test_scale_poll_with_fewer_than_3_or_more_than_7_labels_is_refused(n: int) -> None:
    """A scale poll needs 3-7 labels; any other count is invalid_args naming labels."""
    args = {"poll": "p1", "question": "Q?", "kind": "scale", "labels": [f"l{i}" for i in range(n)]}
    invalid("hall", "poll.open", args, "labels")


@pytest.mark.parametrize(("args", "field"), [
    ({"kind": "ranking", "options": ["a", "b"]}, "kind"),
    ({"kind": None, "options": ["a", "b"]}, "kind"),
    ({"options": ["a", "b"]}, "kind"),
    ({"kind": "scale", "options": ["a", "b", "c"]}, "labels"),  # a scale's steps are labels, not options
    ({"kind": "choice", "labels": ["a", "b", "c"]}, "options"),
    ({"kind": "choice", "options": "a,b"}, "options"),
    ({"kind": "choice", "options": ["a", "b"], "question": ""}, "question"),
    ({"kind": "choice", "options": ["a", "b"], "question": "q" * 301}, "question"),
    ({"kind": "choice", "options": ["a", "b"], "hidden": "no"}, "hidden"),
    ({"kind": "choice", "options": ["a", "b"], "poll": "p 1"}, "poll"),
])
def test_malformed_polls_are_refused(args: dict[str, Any], field: str) -> None:
    """An unknown kind, the wrong list for the kind, a bad question, flag or id is invalid_args naming it."""
    invalid("hall", "poll.open", {"poll": "p1", "question": "Q?", **args}, field)


@pytest.mark.parametrize("options", [["a", ""], ["a", "   "], ["a", 2], ["a", None], ["a", "o" * 121]])
def test_poll_options_must_each_be_1_to_120_characters(options: list[Any]) -> None:
    """Every option is a string of 1-120 characters after trimming; one bad option refuses the poll."""
    args = {"poll": "p1", "question": "Q?", "kind": "choice", "options": options}
    assert refusal("hall", "poll.open", args).code == Code.INVALID_ARGS


def test_a_bad_list_item_is_refused_naming_its_list() -> None:
    """A bad option or table id is refused naming `options` / `tables`, as the module promises for every field."""
    args = {"poll": "p1", "question": "Q?", "kind": "choice", "options": ["a", 2]}
    assert refusal("hall", "poll.open", args).msg.startswith("options")
    assert refusal("hall", "phase.set", {"phase": "vote", "tables": ["bad id"]}).msg.startswith("tables")


# -- votes, timers, spotlight: numbers are numbers --------------------------------------------------

def test_vote_choice_is_a_whole_number_index() -> None:
    """vote.cast takes an int choice of 0-11; a bool, string, float, negative or too large index is refused."""
    assert c.parse("hall", "vote.cast", {"poll": "p1", "choice": 0}) == c.CastVote("p1", 0)
    assert c.parse("hall", "vote.cast", {"poll": "p1", "choice": 11}) == c.CastVote("p1", 11)
    for bad in [True, False, "1", 1.0, -1, 12, None]:
        invalid("hall", "vote.cast", {"poll": "p1", "choice": bad}, "choice")


def test_timer_seconds_is_1_to_a_day() -> None:
    """timer.start takes 1-86400 whole seconds; 0, more than a day, a bool or a string is refused."""
    assert c.parse("hall", "timer.start", {"seconds": 1}) == c.StartTimer(1)
    assert c.parse("hall", "timer.start", {"seconds": 86400}) == c.StartTimer(86400)
    for bad in [0, 86401, True, "60", 60.0, None]:
        invalid("hall", "timer.start", {"seconds": bad}, "seconds")
    assert c.parse("hall", "timer.stop", {}) == c.StopTimer()


def test_spotlight_takes_a_table_id_or_nil() -> None:
    """spotlight names a table by id, or nil to clear; results are never taken from the device."""
    assert c.parse("hall", "spotlight", {"table": "3"}) == c.Spotlight("3")
    assert c.parse("hall", "spotlight", {"table": None}) == c.Spotlight(None)
    assert c.parse("hall", "spotlight", {"table": "3", "results": [{"x": 1}]}).results == ()
    invalid("hall", "spotlight", {"table": 3}, "table")


@pytest.mark.parametrize(("op", "args", "field"), [
    ("note.add", {"note": 1, "text": "t"}, "note"),
    ("note.add", {"note": "n1", "text": 1}, "text"),
    ("note.add", {"note": "n1", "text": True}, "text"),
    ("note.add", {"note": "n1", "text": ["t"]}, "text"),
    ("note.add", {"note": True, "text": "t"}, "note"),
    ("cluster.rename", {"cluster": "c1", "title": False}, "title"),
    ("dot.add", {"target": 3}, "target"),
])
def test_wrong_types_are_refused(op: str, args: dict[str, Any], field: str) -> None:
    """An int or bool where a string is expected is refused, naming the field."""
    invalid("table", op, args, field)
