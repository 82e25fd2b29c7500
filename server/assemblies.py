"""Creating an assembly: its tables, their join codes, and the tokens of the facilitator and
the display. Used by the command line and by the organiser's setup page (/new, through
POST /api/assemblies); `sheet` gives the printable sheet of one kept.

Join codes are 6 characters from an alphabet without look-alikes (no 0/O, 1/I), unique among
the assemblies of the store: the store refuses a taken code and we draw again.
"""

from __future__ import annotations

import io
import secrets
import time
from functools import lru_cache
from typing import Any

import segno

from rooms import Role
from rooms.room import HALL, table_room

from .codec import Record, encode_record
from .store.base import Outcome, Store
from .tokens import Claims, Tokens

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
MAX_TABLES = 500
NAME_MAX = 120
TABLE_NAME_MAX = 40


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
    """Create and keep an assembly; answer the organiser's sheet (the CLI's --json shape).

    The kept record holds each table's member and host code (for the printable sheet) and the
    display's device id (so the sheet can give the same display link again). The hall's
    `assembly.open` event, which every member sees, carries only the tables' ids and names.
    """
    if not 1 <= tables <= MAX_TABLES:
        raise ValueError(f"an assembly has 1-{MAX_TABLES} tables")
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise ValueError(f"the name must be 1-{NAME_MAX} characters")
    names = table_names or []
    assembly = new_id("a")
    table_list = [{"id": str(i + 1), "name": names[i] if i < len(names) else f"Bord {i + 1}"} for i in range(tables)]
    fac = Claims(assembly, new_id("f"), Role.FACILITATOR, None)
    display = Claims(assembly, new_id("d"), Role.DISPLAY, None)
    for _ in range(20):
        codes = {new_code(): {"assembly": assembly, "table": t["id"], "role": str(Role.MEMBER)} for t in table_list}
        hosts = {new_code(): {"assembly": assembly, "table": t["id"], "role": str(Role.HOST)} for t in table_list}
        if len(codes) + len(hosts) == 2 * tables and not set(codes) & set(hosts):
            code_of = {v["table"]: k for k, v in codes.items()}
            host_of = {v["table"]: k for k, v in hosts.items()}
            record = {"id": assembly, "name": name, "created_at": int(time.time() * 1000), "display": display.device,
                      "tables": [{**t, "code": code_of[t["id"]], "host_code": host_of[t["id"]]} for t in table_list]}
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
    fac_token, display_token = tokens.issue(fac), tokens.issue(display)
    return {
        "assembly": assembly, "name": name,
        "facilitator_token": fac_token, "facilitator_url": f"{base_url}/facilitator#token={fac_token}",
        "display_token": display_token, "display_url": f"{base_url}/display#token={display_token}",
        "tables": [{"id": t["id"], "name": t["name"], "code": code_of[t["id"]],
                    "join_url": f"{base_url}/j/{code_of[t['id']]}", "host_code": host_of[t["id"]]}
                   for t in table_list],
    }


def codes_of(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The join codes of a kept assembly record, as `Store.create_assembly` keeps them."""
    codes: dict[str, dict[str, Any]] = {}
    for t in record["tables"]:
        for field, role in (("code", Role.MEMBER), ("host_code", Role.HOST)):
            if t.get(field):
                codes[t[field]] = {"assembly": record["id"], "table": t["id"], "role": str(role)}
    return codes


def new_assembly_args(payload: object) -> tuple[str, int, list[str] | None]:
    """The name, table count and table names of a POST /api/assemblies body; ValueError naming
    the field that is wrong."""
    if not isinstance(payload, dict):
        raise ValueError('send a JSON object: {"name": "Næstved borgersamling", "tables": 12}')
    name = payload.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= NAME_MAX:
        raise ValueError(f"name: a text of 1-{NAME_MAX} characters")
    tables = payload.get("tables")
    if isinstance(tables, bool) or not isinstance(tables, int) or not 1 <= tables <= MAX_TABLES:
        raise ValueError(f"tables: a whole number from 1 to {MAX_TABLES}")
    raw = payload.get("table_names")
    if raw is None:
        return name.strip(), tables, None
    if not isinstance(raw, list) or len(raw) > tables:
        raise ValueError("table_names: a list of at most one name per table")
    names = []
    for i, item in enumerate(raw):
        if not isinstance(item, str) or not 1 <= len(item.strip()) <= TABLE_NAME_MAX:
            raise ValueError(f"table_names[{i}]: a text of 1-{TABLE_NAME_MAX} characters")
        names.append(item.strip())
    return name.strip(), tables, names


@lru_cache(maxsize=4096)
def qr_svg(url: str) -> str:
    """A QR code of `url` as a standalone SVG (with its namespace, so it also works as an <img>
    data: URI), sized by its viewBox, black on white with the standard quiet zone."""
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", xmldecl=False, svgns=True, nl=False, omitsize=True,
                                    border=4, dark="#000", light="#fff")
    return out.getvalue().decode()


def sheet(record: dict[str, Any], tokens: Tokens, base_url: str) -> dict[str, Any]:
    """The printable sheet of a kept assembly: the display link and, per table, its codes, join
    link and QR code. (Drawing 500 QR codes takes seconds: call it off the event loop.)"""
    assembly = str(record["id"])
    display = Claims(assembly, str(record.get("display") or new_id("d")), Role.DISPLAY, None)
    tables = []
    for t in record["tables"]:
        code = t.get("code")
        join_url = f"{base_url}/j/{code}" if code else None
        tables.append({"id": t["id"], "name": t["name"], "code": code, "host_code": t.get("host_code"),
                       "join_url": join_url, "qr_svg": qr_svg(join_url) if join_url else None})
    return {"assembly": assembly, "name": record["name"],
            "display_url": f"{base_url}/display#token={tokens.issue(display)}", "tables": tables}


async def _open(store: Store, key: str, op: str, data: dict[str, Any], now: int) -> None:
    blob = encode_record(Record(1, op, data, None, None, now))
    result = await store.append(key, 0, [blob], key=f"open|{key}")
    if result.outcome not in (Outcome.OK, Outcome.DUPLICATE):
        raise RuntimeError(f"room {key} already has a log")
