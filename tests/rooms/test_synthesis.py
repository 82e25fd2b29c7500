"""The hall's synthesis board: cards sent from the tables, grouped into themes, duplicates flagged."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from rooms import SYSTEM, Actor, Code, Event, Refused, Role, synthesis, table
from rooms.phases import Phase
from rooms.synthesis import Card, SendCard, Synthesis
from rooms.table import TableState

FAC = Actor("dev-fac", Role.FACILITATOR)
HOST1 = Actor("dev-host1", Role.HOST, "1")
HOST2 = Actor("dev-host2", Role.HOST, "2")
M1 = Actor("dev-m1", Role.MEMBER, "1")
DISPLAY = Actor("dev-display", Role.DISPLAY)
TABLES = {"1": "Table 1", "2": "Table 2", "3": "Table 3"}


class Session:
    """A board with the log of every event it folded, as the hall's log would hold them."""

    def __init__(self) -> None:
        self.state = Synthesis()
        self.log: list[Event] = []

    def act(self, actor: Actor, op: str, args: dict[str, Any], **content: Any) -> list[Event]:
        """Parse, fill in (`content`, as the server would for card.send), decide and evolve one command."""
        cmd = synthesis.PARSERS[op](args)
        if content:
            assert isinstance(cmd, SendCard)
            cmd = replace(cmd, **content)
        evs = synthesis.decide(self.state, actor, cmd, op, TABLES)
        for e in evs:
            synthesis.evolve(self.state, e)
        self.log.extend(evs)
        return evs

    def refused(self, actor: Actor, op: str, args: dict[str, Any], **content: Any) -> Code:
        """The code a command is refused with; also checks the refusal changed nothing."""
        before = synthesis.dump(self.state)
        with pytest.raises(Refused) as info:
            self.act(actor, op, args, **content)
        assert synthesis.dump(self.state) == before
        return info.value.code

    def send(self, card: str, table_id: str, cluster: str, title: str = "", notes: tuple[str, ...] = (),
             dots: int = 0, actor: Actor = FAC, activity: str = "a1") -> list[Event]:
        args = {"card": card, "table": table_id, "cluster": cluster, "activity": activity}
        return self.act(actor, "card.send", args, title=title, notes=notes, dots=dots)

    def theme(self, theme: str, title: str = "") -> None:
        self.act(FAC, "theme.add", {"theme": theme, "title": title})

    def move(self, card: str, theme: str | None) -> None:
        self.act(FAC, "card.move", {"card": card, "theme": theme})


def board() -> Session:
    """Cards k1, k2 (table 1), k3 (table 2), k4 (table 3) and empty themes t1, t2."""
    s = Session()
    s.send("k1", "1", "c1", "Buses", ("more night buses",), 4)
    s.send("k2", "1", "c2", "Parks", ("plant trees",), 2)
    s.send("k3", "2", "c1", "Transport", ("cheaper tickets",), 5)
    s.send("k4", "3", "c9", "Housing", ("rent caps",), 1)
    s.theme("t1", "Mobility")
    s.theme("t2", "Nature")
    return s


def theme_of(s: Session, card: str) -> str | None:
    return s.state.cards[card].theme


# -- card.send -------------------------------------------------------------------------------------

def test_card_send_records_the_card_with_its_provenance() -> None:
    """card.send logs the table, activity, cluster, title, notes and dots, and adds an unsorted card."""
    s = Session()
    [e] = s.send("k1", "2", "c7", "Buses", ("more night buses", "cheaper fares"), 6)
    assert e == Event("card.send", {"card": "k1", "table": "2", "activity": "a1", "cluster": "c7", "title": "Buses",
                                    "notes": ["more night buses", "cheaper fares"], "dots": 6, "duplicates": []})
    assert s.state.cards == {"k1": Card("k1", "2", "a1", "c7", "Buses", ["more night buses", "cheaper fares"], 6)}


def test_a_host_may_send_their_own_tables_cluster() -> None:
    """A host sends a cluster of their own table to the hall board."""
    s = Session()
    s.send("k1", "1", "c1", "Buses", actor=HOST1)
    assert list(s.state.cards) == ["k1"]


def test_a_host_may_not_send_another_tables_cluster() -> None:
    """A host sending another table's cluster is forbidden."""
    s = Session()
    args = {"card": "k1", "table": "2", "cluster": "c1"}
    assert s.refused(HOST1, "card.send", args) == Code.FORBIDDEN
    assert s.refused(HOST2, "card.send", {**args, "table": "1"}) == Code.FORBIDDEN


@pytest.mark.parametrize("actor", [M1, DISPLAY, SYSTEM], ids=["member", "display", "system"])
def test_only_a_facilitator_or_host_may_send_a_card(actor: Actor) -> None:
    """Members (even of the table), displays and the server's own actor may not send a card."""
    assert Session().refused(actor, "card.send", {"card": "k1", "table": "1", "cluster": "c1"}) == Code.FORBIDDEN


def test_a_card_from_an_unknown_table_is_refused() -> None:
    """A card naming a table the assembly does not have is unknown_target."""
    assert Session().refused(FAC, "card.send", {"card": "k1", "table": "9", "cluster": "c1"}) == Code.UNKNOWN_TARGET


def test_a_card_id_already_on_the_board_is_refused() -> None:
    """A card id in use, even for another cluster, is duplicate_id."""
    s = board()
    assert s.refused(FAC, "card.send", {"card": "k1", "table": "3", "cluster": "c5"}) == Code.DUPLICATE_ID


def test_a_cluster_sent_twice_is_refused() -> None:
    """A resend of the same table's cluster of the same activity, under any card id, is duplicate_id."""
    s = board()
    args = {"card": "k9", "table": "1", "cluster": "c1", "activity": "a1"}
    assert s.refused(FAC, "card.send", args, title="Buses") == Code.DUPLICATE_ID
    assert s.refused(HOST1, "card.send", args, title="Buses") == Code.DUPLICATE_ID
    s.send("k5", "1", "c1", activity="a2")  # the same cluster id in another activity is another cluster
    s.send("k6", "3", "c1")  # and so it is at another table
    assert list(s.state.cards) == ["k1", "k2", "k3", "k4", "k5", "k6"]


def test_a_withdrawn_cluster_may_be_sent_again() -> None:
    """Once its card is withdrawn, a cluster may be sent again (under its old id or a new one)."""
    s = board()
    s.act(FAC, "card.withdraw", {"card": "k1"})
    s.send("k1", "1", "c1", "Buses again")
    assert s.state.cards["k1"].title == "Buses again"


@pytest.mark.parametrize(("content", "field"), [
    ({"title": "x" * 81}, "title"),
    ({"notes": ("n",) * (synthesis.MAX_CARD_NOTES + 1)}, "notes"),
    ({"notes": ("ok", "x" * 281)}, "notes[1]"),
    ({"dots": -1}, "dots"),
    ({"dots": synthesis.MAX_CARD_DOTS + 1}, "dots"),
    ({"dots": True}, "dots"),
])
def test_card_content_over_its_limits_is_refused(content: dict[str, Any], field: str) -> None:
    """What the server filled in is checked too: an oversized title, notes or dots is invalid_args naming it."""
    s = Session()
    with pytest.raises(Refused) as info:
        synthesis.decide(s.state, FAC, SendCard("k1", "1", "c1", "a1", **content), "card.send", TABLES)
    assert info.value.code == Code.INVALID_ARGS and info.value.msg.startswith(f"{field}:")


def test_a_full_board_refuses_another_card() -> None:
    """Past MAX_CARDS cards, card.send is over_budget."""
    cards: list[list[Any]] = [[f"k{i}", "1", "a1", f"c{i}", "", [], 0, None, []] for i in range(synthesis.MAX_CARDS)]
    data: dict[str, Any] = {"cards": cards, "themes": []}
    s = Session()
    s.state = synthesis.load(data)
    assert s.refused(FAC, "card.send", {"card": "k-new", "table": "2", "cluster": "c1"}) == Code.OVER_BUDGET


def test_a_board_full_of_notes_refuses_another_card() -> None:
    """Past MAX_BOARD_NOTES note texts in all, a card with notes is over_budget."""
    per_card = synthesis.MAX_CARD_NOTES
    data = {"cards": [[f"k{i}", "1", "a1", f"c{i}", "", ["x"] * per_card, 0, None, []]
                      for i in range(synthesis.MAX_BOARD_NOTES // per_card)], "themes": []}
    s = Session()
    s.state = synthesis.load(data)
    args = {"card": "k-new", "table": "2", "cluster": "c1"}
    assert s.refused(FAC, "card.send", args, notes=("one more",)) == Code.OVER_BUDGET
    s.act(FAC, "card.send", args)  # a card without notes still fits
    assert "k-new" in s.state.cards


# -- themes ----------------------------------------------------------------------------------------

def test_theme_add_and_rename() -> None:
    """theme.add adds a titled theme at the end; theme.rename changes only its title."""
    s = board()
    [e] = s.act(FAC, "theme.add", {"theme": "t3", "title": "  Homes  "})
    assert e == Event("theme.add", {"theme": "t3", "title": "Homes"})
    [e] = s.act(FAC, "theme.rename", {"theme": "t1", "title": "Getting around"})
    assert e == Event("theme.rename", {"theme": "t1", "title": "Getting around"})
    assert [(t.id, t.title) for t in s.state.themes.values()] == [("t1", "Getting around"), ("t2", "Nature"),
                                                                 ("t3", "Homes")]


def test_theme_add_with_a_used_id_is_refused() -> None:
    """A theme id already on the board is duplicate_id."""
    assert board().refused(FAC, "theme.add", {"theme": "t1", "title": "Again"}) == Code.DUPLICATE_ID


def test_a_board_full_of_themes_refuses_another() -> None:
    """Past MAX_THEMES themes, theme.add is over_budget."""
    s = Session()
    s.state = synthesis.load({"cards": [], "themes": [[f"t{i}", ""] for i in range(synthesis.MAX_THEMES)]})
    assert s.refused(FAC, "theme.add", {"theme": "t-new", "title": ""}) == Code.OVER_BUDGET


def test_card_move_into_a_theme_and_split_back_out() -> None:
    """card.move puts a card in a theme, into another, and with no theme back among the unsorted cards."""
    s = board()
    [e] = s.act(FAC, "card.move", {"card": "k1", "theme": "t1"})
    assert e == Event("card.move", {"card": "k1", "theme": "t1"})
    assert theme_of(s, "k1") == "t1"
    s.move("k1", "t2")
    assert theme_of(s, "k1") == "t2"
    [e] = s.act(FAC, "card.move", {"card": "k1"})
    assert e == Event("card.move", {"card": "k1", "theme": None})
    assert theme_of(s, "k1") is None and synthesis.view(s.state)["unsorted"] == ["k1", "k2", "k3", "k4"]


def test_theme_merge_moves_the_cards_and_removes_the_source() -> None:
    """theme.merge puts every card of the source theme into the target, then the source is gone."""
    s = board()
    s.move("k1", "t1")
    s.move("k3", "t1")
    s.move("k2", "t2")
    [e] = s.act(FAC, "theme.merge", {"theme": "t1", "into": "t2"})
    assert e == Event("theme.merge", {"theme": "t1", "into": "t2", "cards": ["k1", "k3"]})
    assert list(s.state.themes) == ["t2"]
    assert [theme_of(s, k) for k in ("k1", "k2", "k3", "k4")] == ["t2", "t2", "t2", None]


def test_theme_merge_into_itself_is_refused() -> None:
    """Merging a theme into itself is invalid_args naming `into`."""
    s = board()
    with pytest.raises(Refused) as info:
        s.act(FAC, "theme.merge", {"theme": "t1", "into": "t1"})
    assert info.value.code == Code.INVALID_ARGS and info.value.msg.startswith("into:")


def test_theme_remove_sends_its_cards_back_to_unsorted() -> None:
    """theme.remove removes an empty theme, or a theme whose cards then go back to the unsorted pile."""
    s = board()
    [e] = s.act(FAC, "theme.remove", {"theme": "t2"})
    assert e == Event("theme.remove", {"theme": "t2", "cards": []})
    s.move("k4", "t1")
    [e] = s.act(FAC, "theme.remove", {"theme": "t1"})
    assert e == Event("theme.remove", {"theme": "t1", "cards": ["k4"]})
    assert s.state.themes == {} and theme_of(s, "k4") is None


def test_card_withdraw_takes_a_card_off_the_board() -> None:
    """card.withdraw removes the card, out of its theme too; the theme keeps its other cards."""
    s = board()
    s.move("k1", "t1")
    s.move("k3", "t1")
    [e] = s.act(FAC, "card.withdraw", {"card": "k1"})
    assert e == Event("card.withdraw", {"card": "k1"})
    assert "k1" not in s.state.cards
    assert synthesis.view(s.state)["themes"][0]["cards"] == ["k3"]


@pytest.mark.parametrize(("op", "args"), [
    ("theme.rename", {"theme": "t9", "title": "x"}),
    ("card.move", {"card": "k9", "theme": "t1"}),
    ("card.move", {"card": "k1", "theme": "t9"}),
    ("theme.merge", {"theme": "t9", "into": "t1"}),
    ("theme.merge", {"theme": "t1", "into": "t9"}),
    ("theme.remove", {"theme": "t9"}),
    ("card.withdraw", {"card": "k9"}),
])
def test_an_unknown_card_or_theme_is_refused(op: str, args: dict[str, Any]) -> None:
    """Naming a card or theme that is not on the board is unknown_target."""
    assert board().refused(FAC, op, args) == Code.UNKNOWN_TARGET


FACILITATOR_OPS: list[tuple[str, dict[str, Any]]] = [
    ("theme.add", {"theme": "t9", "title": "New"}),
    ("theme.rename", {"theme": "t1", "title": "Renamed"}),
    ("card.move", {"card": "k1", "theme": "t1"}),
    ("theme.merge", {"theme": "t1", "into": "t2"}),
    ("theme.remove", {"theme": "t1"}),
    ("card.withdraw", {"card": "k1"}),
]


@pytest.mark.parametrize(("op", "args"), FACILITATOR_OPS, ids=[op for op, _ in FACILITATOR_OPS])
@pytest.mark.parametrize("actor", [HOST1, M1, DISPLAY, SYSTEM], ids=["host", "member", "display", "system"])
def test_grouping_is_facilitator_only(actor: Actor, op: str, args: dict[str, Any]) -> None:
    """Every theme op, card.move and card.withdraw is forbidden to hosts, members, displays and the server."""
    assert board().refused(actor, op, args) == Code.FORBIDDEN


@pytest.mark.parametrize(("op", "args"), FACILITATOR_OPS, ids=[op for op, _ in FACILITATOR_OPS])
def test_the_facilitator_may_use_every_grouping_op(op: str, args: dict[str, Any]) -> None:
    """The same commands from the facilitator are accepted and logged under their own op."""
    assert [e.op for e in board().act(FAC, op, args)] == [op]


def test_decide_refuses_an_op_of_another_room() -> None:
    """An op that is not a board op is unknown_op."""
    with pytest.raises(Refused) as info:
        synthesis.decide(Synthesis(), FAC, synthesis.WithdrawCard("k1"), "note.add", TABLES)
    assert info.value.code == Code.UNKNOWN_OP


def test_the_ops_parsed_ruled_and_folded_are_the_same() -> None:
    """Every wire op has a parser, a rule and an event of the same name, and no more."""
    assert set(synthesis.PARSERS) == set(synthesis.RULES) == synthesis.OPS == set(synthesis.EVOLVERS)


# -- parsing ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("op", "args", "field"), [
    ("card.send", {"table": "1", "cluster": "c1"}, "card"),
    ("card.send", {"card": "k1", "cluster": "c1"}, "table"),
    ("card.send", {"card": "k1", "table": "1", "cluster": "c 1"}, "cluster"),
    ("card.send", {"card": "k1", "table": "1", "cluster": "c1", "activity": 7}, "activity"),
    ("theme.add", {"theme": "t1", "title": "x" * 81}, "title"),
    ("theme.add", {"theme": "", "title": "x"}, "theme"),
    ("theme.rename", {"theme": "t1", "title": None}, "title"),
    ("card.move", {"card": "k1", "theme": ["t1"]}, "theme"),
    ("theme.merge", {"theme": "t1"}, "into"),
    ("theme.remove", {}, "theme"),
    ("card.withdraw", {"card": "k" * 65}, "card"),
])
def test_a_parse_error_names_the_field(op: str, args: dict[str, Any], field: str) -> None:
    """A malformed argument is invalid_args whose message starts with the field's name."""
    with pytest.raises(Refused) as info:
        synthesis.PARSERS[op](args)
    assert info.value.code == Code.INVALID_ARGS and info.value.msg.startswith(f"{field}:")


def test_card_send_takes_no_content_from_the_device() -> None:
    """A device's title, notes or dots in card.send are ignored: only the server fills them in."""
    cmd = synthesis.PARSERS["card.send"]({"card": "k1", "table": "1", "cluster": "c1", "title": "Forged",
                                          "notes": ["forged"], "dots": 99})
    assert cmd == SendCard("k1", "1", "c1")


# -- filling a card in from its table ---------------------------------------------------------------

def a_table(phase: str = "results") -> TableState:
    """Table 1 with activity a1: cluster c1 "Buses" (notes n1, n2; 3 dots), cluster c2, note n3 alone."""
    state = table.new_state("1")
    evs: list[tuple[str, dict[str, Any]]] = [
        ("table.open", {"table": "1", "name": "Table 1"}),
        ("activity.start", {"activity": "a1", "prompt": "P", "dots": 5, "max_per_target": 3}),
        ("note.add", {"note": "n1", "text": "night buses", "author": "d1"}),
        ("note.add", {"note": "n2", "text": "cheaper fares", "author": "d2"}),
        ("note.add", {"note": "n3", "text": "parks", "author": "d1"}),
        ("cluster.add", {"cluster": "c1", "title": "Buses"}),
        ("cluster.add", {"cluster": "c2", "title": "Empty"}),
        ("note.move", {"note": "n1", "cluster": "c1"}),
        ("note.move", {"note": "n2", "cluster": "c1"}),
        ("dot.add", {"target": "c1", "member": "d1"}),
        ("dot.add", {"target": "c1", "member": "d2"}),
        ("dot.add", {"target": "c1", "member": "d2"}),
        ("phase.set", {"phase": phase}),
    ]
    for op, data in evs:
        table.evolve(state, Event(op, data))
    return state


def test_fill_reads_a_cluster_from_a_table_at_its_results() -> None:
    """fill takes the cluster's title, its notes' texts and its dots from the table, and names the activity."""
    filled = synthesis.fill(SendCard("k1", "1", "c1"), a_table())
    assert filled == SendCard("k1", "1", "c1", "a1", "Buses", ("night buses", "cheaper fares"), 3)
    assert synthesis.fill(SendCard("k2", "1", "c2", "a1"), a_table()) == SendCard("k2", "1", "c2", "a1", "Empty")


def test_fill_reads_an_earlier_activity_in_any_phase() -> None:
    """A cluster of an activity the table has moved on from may be sent while the next one runs."""
    state = a_table()
    table.evolve(state, Event("activity.start", {"activity": "a2", "prompt": "", "dots": 5, "max_per_target": 3}))
    assert state.phase == Phase.BRAINSTORM
    assert synthesis.fill(SendCard("k1", "1", "c1", "a1"), state).title == "Buses"


@pytest.mark.parametrize(("cmd", "phase", "code"), [
    (SendCard("k1", "1", "c1"), "vote", Code.WRONG_PHASE),
    (SendCard("k1", "1", "c1", "a1"), "cluster", Code.WRONG_PHASE),
    (SendCard("k1", "1", "c9"), "results", Code.UNKNOWN_TARGET),
    (SendCard("k1", "1", "n3"), "results", Code.UNKNOWN_TARGET),
    (SendCard("k1", "1", "c1", "a7"), "results", Code.UNKNOWN_TARGET),
])
def test_fill_refuses_what_the_table_cannot_send(cmd: SendCard, phase: str, code: Code) -> None:
    """Before its results a table's current clusters cannot be sent; an unknown cluster or activity is unknown."""
    with pytest.raises(Refused) as info:
        synthesis.fill(cmd, a_table(phase))
    assert info.value.code == code


def test_fill_refuses_a_table_without_an_activity() -> None:
    """A table where no activity has started has nothing to send: wrong_phase."""
    with pytest.raises(Refused) as info:
        synthesis.fill(SendCard("k1", "1", "c1"), table.new_state("1"))
    assert info.value.code == Code.WRONG_PHASE


# -- view and duplicates ---------------------------------------------------------------------------

def test_view_lists_cards_themes_tables_and_unsorted() -> None:
    """The view shows each card's provenance, each theme's cards, dots and distinct tables, and the unsorted."""
    s = board()
    s.move("k3", "t1")
    s.move("k1", "t1")
    s.move("k4", "t1")
    v = synthesis.view(s.state)
    assert v["cards"][0] == {"card": "k1", "table": "1", "activity": "a1", "cluster": "c1", "title": "Buses",
                             "notes": ["more night buses"], "dots": 4, "theme": "t1"}
    assert v["themes"] == [
        {"theme": "t1", "title": "Mobility", "cards": ["k1", "k3", "k4"], "tables": ["1", "2", "3"], "dots": 10},
        {"theme": "t2", "title": "Nature", "cards": [], "tables": [], "dots": 0},
    ]
    assert v["unsorted"] == ["k2"] and v["duplicates"] == []
    json.dumps(v)  # plain data only


def duplicates_board() -> Session:
    """Two tables that wrote about bus fares alike, one more of table 1 alike too, and unrelated cards."""
    s = Session()
    s.send("a", "1", "c1", "Cheaper buses", ("bus tickets cost too much", "more night buses"))
    s.send("b", "1", "c2", "Green parks", ("plant more trees",))
    s.send("c", "2", "c1", "Bus fares", ("Bus tickets cost too much!", "More night buses"))
    s.send("d", "1", "c3", "Cheaper buses", ("bus tickets cost too much", "more night buses"))
    s.send("e", "3", "c1", "Housing", ("rent caps",))
    return s


def test_card_send_carries_its_likely_duplicates_among_earlier_cards() -> None:
    """A sent card's event names the earlier cards of other tables it reads like, with their score."""
    s = duplicates_board()
    sends = {e.data["card"]: e.data["duplicates"] for e in s.log}
    assert sends["a"] == [] and sends["b"] == [] and sends["e"] == []
    [[other, score]] = sends["c"]
    assert other == "a" and synthesis.DUPLICATE_THRESHOLD <= score < 100 and isinstance(score, int)
    assert sends["d"] == [["c", score]]  # not a: that card is of the same table
    assert s.state.cards["d"].duplicates == {"c": score}


def test_likely_duplicates_are_flagged_only_across_tables() -> None:
    """Alike cards of different tables are paired (sent first, first); alike cards of one table are not."""
    s = duplicates_board()
    dups = synthesis.view(s.state)["duplicates"]
    assert [pair[:2] for pair in dups] == [["a", "c"], ["c", "d"]]
    assert dups[0][2] == dups[1][2]  # a and d read the same, so they pair with c equally
    assert synthesis.likely_duplicates(s.state.cards.values()) == dups


def test_likely_duplicates_are_ranked_and_deterministic() -> None:
    """The most alike pairs come first, ties in the order sent, and the same board always gives the same list."""
    s = Session()
    s.send("p", "1", "c1", "Bike lanes", ("safer bike lanes in town", "bike parking at stations"))
    s.send("q", "2", "c1", "Bike lanes", ("safer bike lanes in the town", "bike parking at the station"))
    s.send("x", "1", "c2", "Housing", ())
    s.send("y", "2", "c2", "Housing", ())
    s.send("z", "3", "c2", "housing!", ())
    dups = synthesis.view(s.state)["duplicates"]
    assert [pair[:2] for pair in dups] == [["x", "y"], ["x", "z"], ["y", "z"], ["p", "q"]]
    assert [pair[2] for pair in dups][:3] == [100, 100, 100] and 80 <= int(dups[3][2]) < 100
    assert synthesis.likely_duplicates(s.state.cards.values()) == dups
    again = synthesis.load(json.loads(json.dumps(synthesis.dump(s.state))))
    assert synthesis.view(again)["duplicates"] == dups


def test_a_card_whose_words_all_appear_in_another_is_a_likely_duplicate() -> None:
    """token_set_ratio scores a card 100 against any card of another table that holds all of its words."""
    s = Session()
    s.send("a", "1", "c1", "Housing", ("rent caps",))
    s.send("b", "2", "c1", "Social housing", ("rent caps for families", "more homes"))
    assert synthesis.view(s.state)["duplicates"] == [["a", "b", 100]]


def test_unrelated_or_withdrawn_cards_are_not_duplicates() -> None:
    """Cards that read differently are never paired, and a withdrawn card leaves its pairs."""
    s = duplicates_board()
    s.act(FAC, "card.withdraw", {"card": "c"})
    assert synthesis.view(s.state)["duplicates"] == []
    assert all(k.duplicates == {} for k in s.state.cards.values())
    assert synthesis.likely_duplicates([]) == []


def test_a_resent_card_is_compared_again() -> None:
    """A card withdrawn and sent again (last, now) is matched against every card then on the board."""
    s = duplicates_board()
    s.act(FAC, "card.withdraw", {"card": "a"})
    s.send("a", "1", "c1", "Cheaper buses", ("bus tickets cost too much", "more night buses"))
    dups = synthesis.view(s.state)["duplicates"]
    assert [pair[:2] for pair in dups] == [["c", "d"], ["c", "a"]]
    assert synthesis.likely_duplicates(s.state.cards.values()) == dups


def test_empty_cards_are_not_duplicates() -> None:
    """Two untitled clusters with no notes have nothing to compare and are not flagged."""
    s = Session()
    s.send("a", "1", "c1")
    s.send("b", "2", "c1")
    assert synthesis.view(s.state)["duplicates"] == []
    assert synthesis.likely_duplicates(s.state.cards.values()) == []


def test_a_card_keeps_only_its_most_alike_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past MAX_CARD_DUPLICATES matches, a sent card keeps the most alike, ties the earliest sent."""
    monkeypatch.setattr(synthesis, "MAX_CARD_DUPLICATES", 2)
    s = Session()
    s.send("a", "2", "c1", "Housings")  # a near miss: 93
    s.send("b", "3", "c1", "Housing")
    s.send("c", "2", "c2", "Housing")
    [e] = s.send("d", "1", "c1", "Housing")
    assert e.data["duplicates"] == [["b", 100], ["c", 100]]
    [e] = s.send("e", "1", "c2", "Housings")
    assert e.data["duplicates"] == [["a", 100], ["b", 93]]


# -- snapshots and replay --------------------------------------------------------------------------

def worked_session() -> Session:
    """A board after sends, themes, moves, a merge, a split, a removal and a withdrawal."""
    s = board()
    s.send("k5", "2", "c2", "Bike lanes", ("safer lanes",), 3, actor=HOST2)
    s.move("k1", "t1")
    s.move("k3", "t1")
    s.move("k5", "t2")
    s.act(FAC, "theme.add", {"theme": "t3", "title": "Bikes"})
    s.act(FAC, "theme.merge", {"theme": "t2", "into": "t1"})
    s.move("k3", None)
    s.move("k2", "t3")
    s.act(FAC, "theme.remove", {"theme": "t3"})
    s.act(FAC, "theme.rename", {"theme": "t1", "title": "Getting around"})
    s.act(FAC, "card.withdraw", {"card": "k4"})
    return s


def test_dump_and_load_round_trip() -> None:
    """load(dump(s)) equals s, through JSON too, in the same order."""
    s = worked_session()
    data = json.loads(json.dumps(synthesis.dump(s.state)))
    assert synthesis.load(data) == s.state
    assert synthesis.dump(synthesis.load(data)) == synthesis.dump(s.state)
    assert synthesis.load(synthesis.dump(Synthesis())) == Synthesis()


def test_replaying_the_log_from_nothing_rebuilds_the_board() -> None:
    """Folding the logged events into an empty board gives the live board exactly."""
    s = worked_session()
    replayed = Synthesis()
    for e in json.loads(json.dumps([[e.op, dict(e.data)] for e in s.log])):
        synthesis.evolve(replayed, Event(e[0], e[1]))
    assert replayed == s.state
    assert synthesis.view(replayed) == synthesis.view(s.state)
    assert list(replayed.cards) == ["k1", "k2", "k3", "k5"] and list(replayed.themes) == ["t1"]


def test_evolve_refuses_an_unknown_event() -> None:
    """An event the board does not know is a ValueError, not silently skipped."""
    with pytest.raises(ValueError):
        synthesis.evolve(Synthesis(), Event("poll.open", {}))
