"""Events: what happened in a room, in the past tense, as a room's log stores them.

An event is an `op` (named like the command that caused it, as the wire shows it) and `data`, a
map of plain values (str, int, bool, None, lists, maps), so the log, the wire and a replay all read
the same thing. What each op's data holds is listed in docs/protocol.md. `public()` is what other
devices may see of an event: never a note's author, never who placed a dot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Data = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Event:
    op: str
    data: Data = field(default_factory=dict)


PRIVATE_FIELDS = {"note.add": ("author",), "dot.add": ("member",), "dot.remove": ("member",)}


def public(event: Event, show_totals: bool = True) -> dict[str, Any]:
    """The data of `event` as every device in the room may see it.

    With dot totals hidden (`show_totals` false, while voting), a dot event says only that a dot
    moved, not where: the totals arrive with the change to the results phase.
    """
    hidden = PRIVATE_FIELDS.get(event.op, ())
    data = {k: v for k, v in event.data.items() if k not in hidden}
    if event.op in ("dot.add", "dot.remove") and not show_totals:
        data.pop("target", None)
    return data
