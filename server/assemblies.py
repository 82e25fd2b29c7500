"""Creating an assembly: its tables, their join codes, and the tokens of the facilitator and
the display. Used by the command line and, later, the dashboard's setup page.

Join codes are 6 characters from an alphabet without look-alikes (no 0/O, 1/I), unique among
the assemblies of the store: the store refuses a taken code and we draw again.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from rooms import Role
from rooms.room import HALL, table_room

from .codec import Record, encode_record
from .store.base import Outcome, Store
from .tokens import Claims, Tokens

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
MAX_TABLES = 500


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(raw: object) -> str | None:
    """What a person typed, forgiving case, spaces and dashes; None if it cannot be a code."""
    if not isinstance(raw, str) or len(raw) > 40:
        return None
    code = "".join(ch for ch in raw.upper() if not ch.isspace() and ch != "-")
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        return None
    return code


def new_id(prefix: str = "") -> str:
    return prefix + secrets.token_hex(6)


async def create_assembly(store: Store, tokens: Tokens, name: str, tables: int, base_url: str,
                          table_names: list[str] | None = None) -> dict[str, Any]:
    """Create and keep an assembly; answer the organiser's sheet (the CLI's --json shape)."""
    if not 1 <= tables <= MAX_TABLES:
        raise ValueError(f"an assembly has 1-{MAX_TABLES} tables")
    name = name.strip()
    if not 1 <= len(name) <= 120:
        raise ValueError("the name must be 1-120 characters")
    assembly = new_id("a")
    table_list = [{"id": str(i + 1), "name": (table_names or [])[i] if i < len(table_names or []) else f"Bord {i + 1}"}
                  for i in range(tables)]
    fac = Claims(assembly, new_id("f"), Role.FACILITATOR, None)
    display = Claims(assembly, new_id("d"), Role.DISPLAY, None)
    record = {"id": assembly, "name": name, "created_at": int(time.time() * 1000), "tables": table_list}
    for _ in range(20):
        codes = {new_code(): {"assembly": assembly, "table": t["id"], "role": str(Role.MEMBER)} for t in table_list}
        hosts = {new_code(): {"assembly": assembly, "table": t["id"], "role": str(Role.HOST)} for t in table_list}
        if len(codes) + len(hosts) == 2 * tables and not set(codes) & set(hosts):
            if await store.create_assembly(assembly, record, codes | hosts):
                break
    else:
        raise RuntimeError("could not draw unique join codes: too many open assemblies?")
    now = int(time.time() * 1000)
    await _open(store, f"{assembly}/{HALL}", "assembly.open",
                {"assembly": assembly, "name": name, "tables": table_list}, now)
    for t in table_list:
        data = {"table": t["id"], "name": t["name"]}
        await _open(store, f"{assembly}/{table_room(t['id'])}", "table.open", data, now)
    code_of = {v["table"]: k for k, v in codes.items()}
    host_of = {v["table"]: k for k, v in hosts.items()}
    fac_token, display_token = tokens.issue(fac), tokens.issue(display)
    return {
        "assembly": assembly, "name": name,
        "facilitator_token": fac_token, "facilitator_url": f"{base_url}/facilitator#token={fac_token}",
        "display_token": display_token, "display_url": f"{base_url}/display#token={display_token}",
        "tables": [{"id": t["id"], "name": t["name"], "code": code_of[t["id"]],
                    "join_url": f"{base_url}/j/{code_of[t['id']]}", "host_code": host_of[t["id"]]}
                   for t in table_list],
    }


async def _open(store: Store, key: str, op: str, data: dict[str, Any], now: int) -> None:
    blob = encode_record(Record(1, op, data, None, None, now))
    result = await store.append(key, 0, [blob], key=f"open|{key}")
    if result.outcome not in (Outcome.OK, Outcome.DUPLICATE):
        raise RuntimeError(f"room {key} already has a log")
