"""The `samling` command line (also `python -m server`).

    samling serve [--host H] [--port P] [--db PATH | --redis URL]
    samling assembly create NAME --tables N [--db PATH | --redis URL] [--json]
    samling demo [--host H] [--port P] [--db PATH]

Every command has --help. Settings also come from REDIS_URL, SAMLING_DB, SAMLING_SECRET and
SAMLING_PUBLIC_URL; options on the command line win.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from typing import Any

from .settings import Settings, from_env

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
    return top


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
    elif a.command == "demo":
        sheet = asyncio.run(_create(settings, "Demo borgersamling", 3))
        print_sheet(sheet)
        print(f"  Serving on {settings.base_url} (Ctrl+C stops; data in {settings.db})\n", flush=True)
        serve(settings)
    return 0
