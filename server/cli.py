"""The `samling` command line (also `python -m server`).

    samling serve [--host H] [--port P] [--db PATH | --redis URL]
    samling assembly create NAME --tables N [--db PATH | --redis URL] [--json]
    samling demo [--host H] [--port P] [--db PATH]
    samling backup ASSEMBLY --out FILE [--with-secret] [--db PATH | --redis URL]
    samling restore FILE [--as NEW_ID] [--new-codes] [--db PATH | --redis URL]
    samling purge ASSEMBLY [--yes] [--db PATH | --redis URL]

Every command has --help. Settings also come from REDIS_URL, SAMLING_DB, SAMLING_SECRET and
SAMLING_PUBLIC_URL; options on the command line win.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .settings import Settings, from_env

if TYPE_CHECKING:
    from .store.base import Store

DESCRIPTION = "Samling: live facilitation for citizens' assemblies (tables, notes, dots, plenary votes)."


def _store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="PATH", help="the embedded store's SQLite file (default: $SAMLING_DB or samling.db)")
    p.add_argument("--redis", metavar="URL",
                   help="use Redis at URL instead of --db (default: $REDIS_URL), e.g. redis://localhost:6379/0")


def _serve_options(p: argparse.ArgumentParser, port: int = 8000) -> None:
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 to reach it over the hall's WiFi)")
    p.add_argument("--port", type=int, default=port, help=f"port to listen on (default {port})")
    p.add_argument("--public-url", metavar="URL",
                   help="the address devices use to reach this server, for printed links (default http://HOST:PORT)")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="samling", description=DESCRIPTION)
    sub = top.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = sub.add_parser("serve", help="run the server", description="Run the Samling server (uvicorn).")
    _serve_options(serve)
    _store_options(serve)

    assembly = sub.add_parser("assembly", help="manage assemblies", description="Manage assemblies.")
    asub = assembly.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = asub.add_parser("create", help="create an assembly with its tables",
                             description="Create an assembly; print the facilitator and display links and each "
                                         "table's join code and link.")
    create.add_argument("name", help="the assembly's name, e.g. \"Næstved borgersamling\"")
    create.add_argument("--tables", type=int, required=True, metavar="N", help="how many tables (1-500)")
    create.add_argument("--json", action="store_true", help="print one JSON object (for scripts and load tests)")
    create.add_argument("--public-url", metavar="URL", help="the base of the printed links (default http://localhost:8000)")
    _store_options(create)

    demo = sub.add_parser("demo", help="create a demo assembly with 3 tables and serve it",
                          description="Create a demo assembly (3 tables) on the embedded store, print its links, "
                                      "and serve it.")
    _serve_options(demo)
    demo.add_argument("--db", metavar="PATH", default="samling-demo.db", help="SQLite file (default samling-demo.db)")
    _record_parsers(sub)
    return top


def _record_parsers(sub: Any) -> None:
    """backup, restore and purge: the assembly's record (docs/record.md)."""
    backup = sub.add_parser(
        "backup", help="write one file holding everything of an assembly",
        description="Write one file holding everything of an assembly: its tables and join codes, every room's "
                    "log, snapshots and exactly-once keys, the ballot boxes of its polls, its members and removed "
                    "devices. Keep it to move the assembly to another server or store (`samling restore`), or as "
                    "a copy to go back to. The file is checked with a SHA-256 on restore, so a damaged copy is "
                    "refused. It can be taken while serving (each room as it stands when it is read). It holds "
                    "device ids and ballots: keep it as private as the store.",
        epilog="Without --with-secret the file does not hold the signing secret, so the tokens issued before "
               "(members' tablets, the facilitator's and the display's links) will not work after a restore onto "
               "another server: devices join again with their table's code, and restore prints new links. With "
               "it, whoever has the file can sign tokens for every assembly of this store.")
    backup.add_argument("assembly", help="the assembly's id (as `assembly create` printed it)")
    backup.add_argument("--out", metavar="FILE", required=True, help="where to write the backup (replaced whole)")
    backup.add_argument("--with-secret", action="store_true",
                        help="also keep the signing secret, so the tokens issued before work after a restore")
    _store_options(backup)

    restore = sub.add_parser(
        "restore", help="recreate an assembly from a backup file",
        description="Recreate an assembly from a `samling backup` file, on either store (a backup of SQLite "
                    "restores onto Redis and the other way round): a server on it serves the same hall and tables, "
                    "with the same events, ballots and tallies. Only into an empty place: refused if the store has "
                    "the assembly's id or any of its join codes already. Prints the facilitator and display links.")
    restore.add_argument("file", help="the backup file")
    restore.add_argument("--as", dest="as_id", metavar="NEW_ID",
                         help="restore under another id (1-64 letters, digits, - or _), e.g. beside the original "
                              "with --new-codes")
    restore.add_argument("--new-codes", action="store_true",
                         help="draw new join and host codes instead of the backup's (printed cards stop working)")
    restore.add_argument("--public-url", metavar="URL", help="the base of the printed links (default http://localhost:8000)")
    _store_options(restore)

    purge = sub.add_parser(
        "purge", help="remove members' names after the assembly, keeping the anonymous record",
        description="After the assembly: remove members' names and which device sits at which table, while the "
                    "anonymous record stays: notes, clusters, dots, votes and tallies. Asks first unless --yes. "
                    "Running it again changes nothing.",
        epilog="This Samling never stores the name a member gives at join (it stays on that tablet); device ids "
               "stay, as the record's rules (one author, one voter) need them. See docs/record.md.")
    purge.add_argument("assembly", help="the assembly's id")
    purge.add_argument("--yes", action="store_true", help="do not ask (for scripts)")
    _store_options(purge)


def _settings(a: argparse.Namespace) -> Settings:
    return from_env(host=getattr(a, "host", None), port=getattr(a, "port", None), db=getattr(a, "db", None),
                    redis=getattr(a, "redis", None), public_url=getattr(a, "public_url", None))


async def _create(settings: Settings, name: str, tables: int) -> dict[str, Any]:
    from .app import signing_secret
    from .assemblies import create_assembly
    from .store.base import open_store
    from .tokens import Tokens

    store = open_store(settings.db, settings.redis)
    await store.start()
    try:
        tokens = Tokens(await signing_secret(store, settings))
        return await create_assembly(store, tokens, name, tables, settings.base_url)
    finally:
        await store.close()


async def _opened(settings: Settings, existing: bool = True) -> Store:
    """The store the settings name, started; BackupError (one line) if it cannot be reached, or
    (`existing`) if it is a SQLite file that is not there: reading one would make an empty one."""
    from .backup import BackupError
    from .store.base import open_store

    if existing and not settings.redis and not Path(settings.db).exists():
        raise BackupError(f"there is no store at {settings.db} (give --db PATH, or --redis URL)")
    store = open_store(settings.db, settings.redis)
    try:
        await store.start()
    except Exception as exc:
        await store.close()
        raise BackupError(f"cannot open the store ({settings.redis or settings.db}): {exc}") from None
    return store


def _progress(what: str) -> Callable[[int, int], None]:
    """Rooms done / in all on stderr: one line rewritten on a terminal, else every tenth."""
    def show(done: int, total: int) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\r{what}: rooms {done}/{total}" + ("\n" if done == total else ""))
        elif done == total or done % max(1, total // 10) == 0:
            sys.stderr.write(f"{what}: rooms {done}/{total}\n")
        sys.stderr.flush()
    return show


async def _backup(settings: Settings, assembly: str, out: str, with_secret: bool) -> None:
    from .app import signing_secret
    from .backup import backup, write_file

    store = await _opened(settings)
    try:
        secret = await signing_secret(store, settings) if with_secret else None
        data = await backup(store, assembly, secret, _progress("backup"))
    finally:
        await store.close()
    write_file(out, data)
    print(f"Backed up assembly {assembly} to {out} ({len(data)} bytes"
          f"{', with the signing secret' if with_secret else ''}).")


async def _restore(settings: Settings, path: str, as_id: str | None, new_codes: bool) -> dict[str, Any]:
    from .app import signing_secret
    from .backup import BackupError, restore, sheet_of
    from .tokens import Tokens

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror}") from None
    store = await _opened(settings, existing=False)
    try:
        done = await restore(store, data, as_id, _progress("restore"), settings.secret, new_codes)
        tokens = Tokens(await signing_secret(store, settings))
    finally:
        await store.close()
    for warning in done.warnings:
        print(f"samling: note: {warning}", file=sys.stderr)
    return sheet_of(done.record, tokens, settings.base_url)


async def _purge(settings: Settings, assembly: str, yes: bool) -> bool:
    from .backup import BackupError, purge

    store = await _opened(settings)
    try:
        record = await store.assembly(assembly)
        if record is None:
            raise BackupError(f"no assembly {assembly!r} in this store")
        if not yes:
            sys.stderr.write(f"Purge assembly {assembly} ({record['name']})? Members' names and who sits where go "
                             "for good; the anonymous record stays. Type yes to go on: ")
            sys.stderr.flush()
            if sys.stdin.readline().strip().lower() != "yes":
                return False
        for line in await purge(store, assembly):
            print(f"  {line}")
    finally:
        await store.close()
    return True


def print_sheet(sheet: dict[str, Any], out: Any = sys.stdout) -> None:
    w = out.write
    w(f"\nAssembly: {sheet['name']} ({sheet['assembly']})\n\n")
    w(f"  Facilitator: {sheet['facilitator_url']}\n")
    w(f"  Display:     {sheet['display_url']}\n\n")
    w("  Table         Code     Host code  Join link\n")
    for t in sheet["tables"]:
        w(f"  {t['name']:<13} {t['code']:<8} {t['host_code']:<10} {t['join_url']}\n")
    w("\n  Keep the facilitator link private: it controls the whole hall.\n\n")
    out.flush()


def serve(settings: Settings) -> None:
    import uvicorn

    from .app import create_app

    # proxy_headers=False: uvicorn never trusts X-Forwarded-For itself. The app does, from the
    # proxies in SAMLING_TRUSTED_PROXIES only (server/app.py, TrustedProxies), so the Procfile's
    # plain uvicorn and `samling serve` agree on who the client is.
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port,
        ws="server.wire:SamlingWebSocketProtocol", ws_max_size=settings.max_frame, ws_per_message_deflate=False,
        ws_ping_interval=settings.ws_ping, ws_ping_timeout=settings.ws_ping, timeout_graceful_shutdown=5,
        proxy_headers=False, server_header=False, log_level="info",
    )


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings(a)
    if a.command == "serve":
        serve(settings)
    elif a.command == "assembly":
        try:
            sheet = asyncio.run(_create(settings, a.name, a.tables))
        except ValueError as exc:
            print(f"samling: {exc}", file=sys.stderr)
            return 2
        if a.json:
            print(json.dumps(sheet, ensure_ascii=False))
        else:
            print_sheet(sheet)
    elif a.command in ("backup", "restore", "purge"):
        return _record(a, settings)
    elif a.command == "demo":
        sheet = asyncio.run(_create(settings, "Demo borgersamling", 3))
        print_sheet(sheet)
        print(f"  Serving on {settings.base_url} (Ctrl+C stops; data in {settings.db})\n", flush=True)
        serve(settings)
    return 0


def _record(a: argparse.Namespace, settings: Settings) -> int:
    """backup, restore and purge; a refusal is one line on stderr and exit 1."""
    from .backup import BackupError

    try:
        if a.command == "backup":
            asyncio.run(_backup(settings, a.assembly, a.out, a.with_secret))
        elif a.command == "restore":
            sheet = asyncio.run(_restore(settings, a.file, a.as_id, a.new_codes))
            print(f"Restored assembly {sheet['assembly']}.")
            print_sheet(sheet)
        elif not asyncio.run(_purge(settings, a.assembly, a.yes)):
            print("samling: purge cancelled: nothing was changed", file=sys.stderr)
            return 1
    except (BackupError, OSError) as exc:
        print(f"samling: {exc}", file=sys.stderr)
        return 1
    return 0
