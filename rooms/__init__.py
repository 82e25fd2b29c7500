"""Samling's pure domain: the rooms of an assembly, their rules, commands and events.

No I/O lives here (no clock, no randomness, no network, no storage): time and ids come in as
arguments, so every rule can be tested by calling a function, and a room's log replays to
exactly its state. The server in `server/` is the only thing that talks to the world.
"""

from . import commands, hall, table
from .actors import SYSTEM, Actor, Role
from .errors import Code, Refused
from .events import Event

__all__ = ["SYSTEM", "Actor", "Code", "Event", "Refused", "Role", "commands", "hall", "table"]
