"""The hall's synthesis board: every table's clusters, as cards, grouped into the hall's themes.

When a table reaches its results, a cluster of it is sent to the hall board as a CARD that keeps
its provenance (table, activity, cluster) and its content (title, note texts, dots). The
facilitator groups cards from all tables into THEMES: add, rename, merge and remove themes, move
a card into a theme or back out to the unsorted pile, withdraw a card from the board.

A card's `theme` field is the one record of which theme holds it; a theme's cards are the cards
naming it, in the order they were sent.

Likely duplicates are found when a card is sent: `decide` scores the new card against every
earlier card of another table (rapidfuzz), and the card.send event carries the matches, so a
send costs one pass over the board and a view or a replay costs none. Scoring the whole board
at each view is quadratic (about a second for 300 cards); `likely_duplicates` still does exactly
that, as the reference the stored matches are tested against.

The device sends only card/table/cluster/activity; the server fills in the rest from the table
(`fill`) before `decide`, so no device can put words on the board that its table never wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from rapidfuzz import fuzz, process, utils

from .actors import Actor, Role
from .commands import NOTE_MAX, TITLE_MAX, _bad, ident, optional_ident, text
from .errors import Code, Refused
from .events import Event
from .phases import FACILITATOR, Phase, Rule
from .table import MAX_NOTES, TableState

MAX_CARDS = 2000  # a hall of 50 tables sending 10 clusters for 4 activities; stops a runaway device
MAX_THEMES = 300
MAX_CARD_NOTES = MAX_NOTES  # a cluster holds at most a whole table board's notes
MAX_BOARD_NOTES = 20_000  # all note texts on the board together (at most 280 characters each)
MAX_CARD_DOTS = 100_000
DUPLICATE_THRESHOLD = 80  # token_set_ratio (0-100) at or above which two cards are likely duplicates
MAX_CARD_DUPLICATES = 50  # matches kept per sent card (the most alike), so a board of clones stays small


# -- commands -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SendCard:
    card: str
    table: str
    cluster: str
    activity: str | None = None  # None: the table's current activity
    title: str = ""  # title, notes and dots are filled in by the server from the table's state
    notes: tuple[str, ...] = ()
    dots: int = 0


@dataclass(frozen=True, slots=True)
class AddTheme:
    theme: str
    title: str


@dataclass(frozen=True, slots=True)
class RenameTheme:
    theme: str
    title: str


@dataclass(frozen=True, slots=True)
class MoveCard:
    card: str
    theme: str | None  # None: back to the unsorted cards


@dataclass(frozen=True, slots=True)
class MergeThemes:
    theme: str
    into: str


@dataclass(frozen=True, slots=True)
class RemoveTheme:
    theme: str


@dataclass(frozen=True, slots=True)
class WithdrawCard:
    card: str


Command = SendCard | AddTheme | RenameTheme | MoveCard | MergeThemes | RemoveTheme | WithdrawCard

PARSERS: dict[str, Callable[[Mapping[str, Any]], Command]] = {
    # card.send takes no title, notes or dots from a device: the server reads them from the table
    "card.send": lambda a: SendCard(ident(a, "card"), ident(a, "table"), ident(a, "cluster"),
                                    optional_ident(a, "activity")),
    "theme.add": lambda a: AddTheme(ident(a, "theme"), text(a, "title", 0, TITLE_MAX)),
    "theme.rename": lambda a: RenameTheme(ident(a, "theme"), text(a, "title", 0, TITLE_MAX)),
    "card.move": lambda a: MoveCard(ident(a, "card"), optional_ident(a, "theme")),
    "theme.merge": lambda a: MergeThemes(ident(a, "theme"), ident(a, "into")),
    "theme.remove": lambda a: RemoveTheme(ident(a, "theme")),
    "card.withdraw": lambda a: WithdrawCard(ident(a, "card")),
}

# Who may do what on the board. own_only here: a host may send only their own table's clusters.
RULES: dict[str, Rule] = {
    "card.send": Rule(frozenset({Role.FACILITATOR, Role.HOST}), own_only=True),
    "card.move": Rule(FACILITATOR),
    "card.withdraw": Rule(FACILITATOR),
    "theme.add": Rule(FACILITATOR),
    "theme.rename": Rule(FACILITATOR),
    "theme.merge": Rule(FACILITATOR),
    "theme.remove": Rule(FACILITATOR),
}

OPS = frozenset(RULES)  # each command is logged as one event under its own op


# -- state ----------------------------------------------------------------------------------------

@dataclass(slots=True)
class Card:
    id: str
    table: str
    activity: str | None
    cluster: str
    title: str
    notes: list[str]
    dots: int
    theme: str | None = None
    duplicates: dict[str, int] = field(default_factory=dict)  # earlier card id -> score, most alike first


@dataclass(slots=True)
class Theme:
    id: str
    title: str


@dataclass(slots=True)
class Synthesis:
    cards: dict[str, Card] = field(default_factory=dict)  # in the order they were sent
    themes: dict[str, Theme] = field(default_factory=dict)  # in the order they were added


# -- filling a card in from its table ---------------------------------------------------------------

def fill(cmd: SendCard, state: TableState) -> SendCard:
    """`cmd` with its cluster's title, note texts and dots read from the table's `state`, and its
    activity named. The current activity must be at its results; an earlier one is over already.
    """
    current = state.board
    if current is not None and cmd.activity in (None, current.activity):
        if state.phase != Phase.RESULTS:
            raise Refused(Code.WRONG_PHASE, f"table {state.table} has not reached its results")
        board = current
    elif cmd.activity is not None and cmd.activity in state.past:
        board = state.past[cmd.activity]
    elif cmd.activity is None:
        raise Refused(Code.WRONG_PHASE, f"no activity has started at table {state.table}")
    else:
        raise Refused(Code.UNKNOWN_TARGET, f"table {state.table} has no activity {cmd.activity}")
    cluster = board.clusters.get(cmd.cluster)
    if cluster is None:
        raise Refused(Code.UNKNOWN_TARGET, f"table {state.table} has no cluster {cmd.cluster}")
    notes = tuple(n.text for n in board.notes.values() if n.cluster == cluster.id)
    return replace(cmd, activity=board.activity, title=cluster.title, notes=notes,
                   dots=board.totals().get(cluster.id, 0))


# -- decide ---------------------------------------------------------------------------------------

def _card(state: Synthesis, card_id: str) -> Card:
    card = state.cards.get(card_id)
    if card is None:
        raise Refused(Code.UNKNOWN_TARGET, f"no card {card_id}")
    return card


def _theme(state: Synthesis, theme_id: str) -> Theme:
    theme = state.themes.get(theme_id)
    if theme is None:
        raise Refused(Code.UNKNOWN_TARGET, f"no theme {theme_id}")
    return theme


def _cards_of(state: Synthesis, theme_id: str) -> list[str]:
    return [k.id for k in state.cards.values() if k.theme == theme_id]


def _check_content(cmd: SendCard) -> None:
    """The server filled these in, but a card is still checked like anything else that is logged."""
    if not isinstance(cmd.title, str) or len(cmd.title) > TITLE_MAX:
        raise _bad("title", f"must be a string of at most {TITLE_MAX} characters")
    if not isinstance(cmd.notes, tuple) or len(cmd.notes) > MAX_CARD_NOTES:
        raise _bad("notes", f"must be at most {MAX_CARD_NOTES} notes")
    for i, note in enumerate(cmd.notes):
        if not isinstance(note, str) or len(note) > NOTE_MAX:
            raise _bad(f"notes[{i}]", f"must be a string of at most {NOTE_MAX} characters")
    if type(cmd.dots) is not int or not 0 <= cmd.dots <= MAX_CARD_DOTS:
        raise _bad("dots", f"must be a whole number from 0 to {MAX_CARD_DOTS}")


def _send(state: Synthesis, cmd: SendCard, tables: Mapping[str, str]) -> Event:
    if cmd.table not in tables:
        raise Refused(Code.UNKNOWN_TARGET, f"no table {cmd.table}")
    _check_content(cmd)
    if cmd.card in state.cards:
        raise Refused(Code.DUPLICATE_ID, f"card id {cmd.card} is taken")
    source = (cmd.table, cmd.activity, cmd.cluster)
    for k in state.cards.values():
        if (k.table, k.activity, k.cluster) == source:
            raise Refused(Code.DUPLICATE_ID, f"cluster {cmd.cluster} of table {cmd.table} is card {k.id} already")
    if len(state.cards) >= MAX_CARDS:
        raise Refused(Code.OVER_BUDGET, f"the board holds at most {MAX_CARDS} cards")
    if sum(len(k.notes) for k in state.cards.values()) + len(cmd.notes) > MAX_BOARD_NOTES:
        raise Refused(Code.OVER_BUDGET, f"the board holds at most {MAX_BOARD_NOTES} notes")
    alike = _alike(_words(cmd.title, cmd.notes), cmd.table, list(state.cards.values()))
    return Event("card.send", {"card": cmd.card, "table": cmd.table, "activity": cmd.activity,
                               "cluster": cmd.cluster, "title": cmd.title, "notes": list(cmd.notes),
                               "dots": cmd.dots, "duplicates": [[k, score] for k, score in alike]})


def decide(state: Synthesis, actor: Actor, cmd: Command, op: str, tables: Mapping[str, str]) -> list[Event]:
    """The board events `actor`'s `cmd` (sent as `op`) makes happen, or Refused. `tables` is the
    hall's table id -> name, so a card can only come from a table of the assembly.
    """
    rule = RULES.get(op)
    if rule is None:
        raise Refused(Code.UNKNOWN_OP, f"no op {op} on the synthesis board")
    if actor.role not in rule.roles:
        raise Refused(Code.FORBIDDEN, f"a {actor.role} may not {op}")
    if isinstance(cmd, SendCard):
        if rule.own_only and actor.seated and actor.table != cmd.table:
            raise Refused(Code.FORBIDDEN, "a host may send only their own table's clusters")
        return [_send(state, cmd, tables)]
    if isinstance(cmd, AddTheme):
        if cmd.theme in state.themes:
            raise Refused(Code.DUPLICATE_ID, f"theme id {cmd.theme} is taken")
        if len(state.themes) >= MAX_THEMES:
            raise Refused(Code.OVER_BUDGET, f"the board holds at most {MAX_THEMES} themes")
        return [Event("theme.add", {"theme": cmd.theme, "title": cmd.title})]
    if isinstance(cmd, RenameTheme):
        _theme(state, cmd.theme)
        return [Event("theme.rename", {"theme": cmd.theme, "title": cmd.title})]
    if isinstance(cmd, MoveCard):
        _card(state, cmd.card)
        if cmd.theme is not None:
            _theme(state, cmd.theme)
        return [Event("card.move", {"card": cmd.card, "theme": cmd.theme})]
    if isinstance(cmd, MergeThemes):
        if cmd.theme == cmd.into:
            raise Refused(Code.INVALID_ARGS, "into: a theme cannot be merged into itself")
        _theme(state, cmd.theme)
        _theme(state, cmd.into)
        return [Event("theme.merge", {"theme": cmd.theme, "into": cmd.into, "cards": _cards_of(state, cmd.theme)})]
    if isinstance(cmd, RemoveTheme):
        _theme(state, cmd.theme)
        return [Event("theme.remove", {"theme": cmd.theme, "cards": _cards_of(state, cmd.theme)})]
    if isinstance(cmd, WithdrawCard):
        _card(state, cmd.card)
        return [Event("card.withdraw", {"card": cmd.card})]
    raise Refused(Code.UNKNOWN_OP, f"{op} is not a synthesis board command")


# -- evolve ---------------------------------------------------------------------------------------
# theme.merge and theme.remove list the cards they move ("cards") for the devices and the record;
# the fold moves every card of the theme, which is the same list by construction.

def _regroup(s: Synthesis, theme: str, into: str | None) -> None:
    for card in s.cards.values():
        if card.theme == theme:
            card.theme = into


def _card_send(s: Synthesis, d: Mapping[str, Any]) -> None:
    s.cards[d["card"]] = Card(d["card"], d["table"], d["activity"], d["cluster"], d["title"], list(d["notes"]),
                              d["dots"], None, {k: score for k, score in d["duplicates"]})


def _theme_add(s: Synthesis, d: Mapping[str, Any]) -> None:
    s.themes[d["theme"]] = Theme(d["theme"], d["title"])


def _theme_rename(s: Synthesis, d: Mapping[str, Any]) -> None:
    s.themes[d["theme"]].title = d["title"]


def _card_move(s: Synthesis, d: Mapping[str, Any]) -> None:
    s.cards[d["card"]].theme = d["theme"]


def _theme_merge(s: Synthesis, d: Mapping[str, Any]) -> None:
    _regroup(s, d["theme"], d["into"])
    del s.themes[d["theme"]]


def _theme_remove(s: Synthesis, d: Mapping[str, Any]) -> None:
    _regroup(s, d["theme"], None)
    del s.themes[d["theme"]]


def _card_withdraw(s: Synthesis, d: Mapping[str, Any]) -> None:
    del s.cards[d["card"]]
    for card in s.cards.values():
        card.duplicates.pop(d["card"], None)


EVOLVERS: dict[str, Callable[[Synthesis, Mapping[str, Any]], None]] = {
    "card.send": _card_send,
    "theme.add": _theme_add,
    "theme.rename": _theme_rename,
    "card.move": _card_move,
    "theme.merge": _theme_merge,
    "theme.remove": _theme_remove,
    "card.withdraw": _card_withdraw,
}


def evolve(state: Synthesis, event: Event) -> None:
    """Fold `event` into `state`, in place."""
    fold = EVOLVERS.get(event.op)
    if fold is None:
        raise ValueError(f"event {event.op} cannot apply to the synthesis board")
    fold(state, event.data)


# -- likely duplicates ----------------------------------------------------------------------------

def _words(title: str, notes: Iterable[str]) -> str:
    return utils.default_process(" ".join([title, *notes]))


def _alike(words: str, table: str, earlier: list[Card]) -> list[tuple[str, int]]:
    """(card id, score) of the `earlier` cards of other tables that read like `words`: rapidfuzz's
    token_set_ratio of the lower-cased title and notes, at least DUPLICATE_THRESHOLD. The most alike
    come first, ties in the order sent; at most MAX_CARD_DUPLICATES.
    """
    others = [k for k in earlier if k.table != table]
    if not words or not others:
        return []
    found = process.extract(words, [_words(k.title, k.notes) for k in others], scorer=fuzz.token_set_ratio,
                            processor=None, score_cutoff=DUPLICATE_THRESHOLD, limit=None)
    ranked = sorted((-round(score), j) for _, score, j in found)
    return [(others[j].id, -score) for score, j in ranked[:MAX_CARD_DUPLICATES]]


def _pairs(board: list[Card], alike: Callable[[int, Card], Iterable[tuple[str, int]]]) -> list[list[str | int]]:
    place = {k.id: i for i, k in enumerate(board)}
    found = [(-score, place[other], j) for j, card in enumerate(board) for other, score in alike(j, card)]
    return [[board[i].id, board[j].id, -score] for score, i, j in sorted(found)]


def likely_duplicates(cards: Iterable[Card]) -> list[list[str | int]]:
    """[card a, card b, score] for each pair of cards from different tables whose title and notes
    read alike (rapidfuzz's token_set_ratio, lower-cased, at least DUPLICATE_THRESHOLD of 100),
    scored afresh. Card a was sent before card b; the most alike pairs come first, ties in the order
    sent. Quadratic in the cards: `view` reads the matches stored when each card was sent instead.
    """
    board = list(cards)
    return _pairs(board, lambda j, card: _alike(_words(card.title, card.notes), card.table, board[:j]))


def stored_duplicates(state: Synthesis) -> list[list[str | int]]:
    """The same list as `likely_duplicates(state.cards.values())`, from the matches found at each send."""
    return _pairs(list(state.cards.values()), lambda _, card: card.duplicates.items())


# -- views and snapshots --------------------------------------------------------------------------

def _card_view(card: Card) -> dict[str, Any]:
    return {"card": card.id, "table": card.table, "activity": card.activity, "cluster": card.cluster,
            "title": card.title, "notes": list(card.notes), "dots": card.dots, "theme": card.theme}


def view(state: Synthesis) -> dict[str, Any]:
    """The board as every device may see it: notes are anonymous texts already, so it is the same
    for all. Each theme lists its cards, their dots and the distinct tables that fed it.
    """
    grouped: dict[str | None, list[Card]] = {t: [] for t in state.themes}
    grouped[None] = []
    for card in state.cards.values():
        grouped[card.theme].append(card)
    themes = [{"theme": t.id, "title": t.title, "cards": [k.id for k in grouped[t.id]],
               "tables": list(dict.fromkeys(k.table for k in grouped[t.id])),
               "dots": sum(k.dots for k in grouped[t.id])}
              for t in state.themes.values()]
    return {"cards": [_card_view(k) for k in state.cards.values()], "themes": themes,
            "unsorted": [k.id for k in grouped[None]], "duplicates": stored_duplicates(state)}


def dump(state: Synthesis) -> dict[str, Any]:
    """The board as plain data, for a snapshot."""
    return {"cards": [[k.id, k.table, k.activity, k.cluster, k.title, list(k.notes), k.dots, k.theme,
                       [[other, score] for other, score in k.duplicates.items()]] for k in state.cards.values()],
            "themes": [[t.id, t.title] for t in state.themes.values()]}


def load(data: Mapping[str, Any]) -> Synthesis:
    """The board a `dump` was made of."""
    cards = [Card(k[0], k[1], k[2], k[3], k[4], list(k[5]), k[6], k[7], {o: score for o, score in k[8]})
             for k in data["cards"]]
    return Synthesis({k.id: k for k in cards}, {t[0]: Theme(t[0], t[1]) for t in data["themes"]})
