"""The application: one composition root that opens the store, makes the hub and serves the
HTTP API and the socket.

`create_app()` is what uvicorn runs (`uvicorn --factory server.app:create_app`); settings come
from the environment unless given. `/healthz` answers 200 only once the store is open and the
signing secret is known, so a process manager can wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from rooms import Role
from rooms.room import table_room

from . import collector, i18n, pages, socket
from .assemblies import codes_of, create_assembly, new_assembly_args, normalise_code, sheet
from .connection import RateLimit
from .export import assembly_export, csv_zip, markdown
from .hub import Hub
from .limits import AddressLimits, client_address
from .logs import quiet_socket_lines
from .settings import Settings, from_env
from .store.base import Store, open_store
from .tokens import Claims, Tokens, device_label

log = logging.getLogger("samling")

JOIN_BODY_MAX = 2048
CREATE_BODY_MAX = 64 * 1024  # 500 table names of 40 characters, with room to spare
NAME_MAX = 40


@dataclass
class Samling:
    settings: Settings
    store: Store
    tokens: Tokens
    hub: Hub
    started: float
    join_limits: dict[str, RateLimit]
    addresses: AddressLimits


async def restore_registry(store: Store, hub: Hub, settings: Settings, tokens: Tokens) -> None:
    """Put back what a store that lost everything needs before any device can come back: the
    signing secret (so every token stays valid) and each assembly this process knows, with its
    join codes."""
    if not settings.secret:
        await store.setting("secret", tokens.secret)
    for assembly, record in list(hub.assemblies.items()):
        if await store.assembly(assembly) is None:
            await store.create_assembly(assembly, record, codes_of(record))


async def signing_secret(store: Store, settings: Settings) -> str:
    """SAMLING_SECRET if set, else the one kept in the store (made on first run), so every
    process on one store accepts the others' tokens."""
    if settings.secret:
        return settings.secret
    return await store.setting("secret", secrets.token_urlsafe(32))


def error(status: int, code: str, msg: str) -> JSONResponse:
    return JSONResponse({"error": code, "msg": msg}, status_code=status)


async def json_body(request: Request, limit: int, example: str) -> Any:
    """The request's JSON, or the error answer to send instead (too large: 413; not JSON: 400)."""
    body = await request.body()
    if len(body) > limit:
        return error(413, "invalid_args", "the request is too large")
    try:
        return json.loads(body)
    except ValueError:
        return error(400, "invalid_args", f"send JSON: {example}")


async def healthz(request: Request) -> Response:
    samling: Samling | None = getattr(request.app.state, "samling", None)
    if samling is None:
        return error(503, "starting", "not ready yet")
    return JSONResponse({"ok": True, "store": samling.store.name, "rooms": len(samling.hub.rooms),
                         **samling.hub.stats, "sockets": samling.addresses.total,
                         "writes": samling.hub.corks.writes, "frames_written": samling.hub.corks.frames,
                         "gc": collector.stats(),
                         "refused": dict(samling.addresses.refused), "tasks": len(asyncio.all_tasks())})


def _join_limit(samling: Samling, address: str) -> RateLimit:
    limits = samling.join_limits
    if len(limits) > 10000:  # forget the oldest addresses rather than grow without bound
        for key in list(limits)[:5000]:
            del limits[key]
    return limits.setdefault(address, RateLimit(rate=0.5, burst=10))


async def join(request: Request) -> Response:
    """A device joins a table with its code: it gets the token it keeps for the whole assembly."""
    samling: Samling = request.app.state.samling
    payload = await json_body(request, JOIN_BODY_MAX, '{"code": "K7QX2M", "name": "Mette"}')
    if isinstance(payload, Response):
        return payload
    if not isinstance(payload, dict):
        return error(400, "invalid_args", "send a JSON object")
    name = payload.get("name")
    if name is not None and (not isinstance(name, str) or len(name.strip()) > NAME_MAX):
        return error(400, "invalid_args", f"name: at most {NAME_MAX} characters")
    address = client_address(request.scope)
    limit = _join_limit(samling, address)
    if not limit.ready():
        return error(429, "rate_limited", "too many wrong codes: wait a little")
    code = normalise_code(payload.get("code"))
    found = None if code is None else await samling.store.lookup_code(code)
    if found is None:
        limit.allow()  # only wrong codes are counted: guessing is throttled, a full hall is not
        return error(404, "unknown_code", "no table has this code")
    claims = Claims(found["assembly"], secrets.token_urlsafe(12), Role(found["role"]), found["table"])
    await samling.store.add_member(claims.assembly, claims.device)
    return JSONResponse({"token": samling.tokens.issue(claims), "assembly": claims.assembly,
                         "room": table_room(found["table"]), "role": str(claims.role), "table": found["table"],
                         "device": claims.device})


def bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


def public_base(request: Request, settings: Settings) -> str:
    """The base of the links a page hands out: SAMLING_PUBLIC_URL if set, else how this request
    reached us (so a laptop's LAN address works without configuration)."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def facilitator_of(request: Request, samling: Samling, assembly: str) -> Claims | None:
    claims = samling.tokens.read(bearer(request))
    if claims is None or claims.role is not Role.FACILITATOR or claims.assembly != assembly:
        return None
    return claims


async def _export(request: Request) -> dict[str, Any] | Response:
    """The assembly's record for its facilitator, or the refusal: 403 before 404, as everywhere."""
    samling: Samling = request.app.state.samling
    assembly = request.path_params["assembly"]
    if facilitator_of(request, samling, assembly) is None:
        return error(403, "forbidden", "the facilitator's token for this assembly is needed")
    data = await assembly_export(samling.hub, assembly)
    if data is None:
        return error(404, "unknown_assembly", "no such assembly")
    return data


def _attachment(assembly: str, ext: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="samling-{assembly}.{ext}"', "Cache-Control": "no-store"}


async def export_json(request: Request) -> Response:
    data = await _export(request)
    if isinstance(data, Response):
        return data
    return JSONResponse(data, headers=_attachment(data["assembly"], "json"))


async def export_zip(request: Request) -> Response:
    """The record as CSV files (UTF-8 with a BOM, for Excel), one per kind, in a zip."""
    data = await _export(request)
    if isinstance(data, Response):
        return data
    body = await asyncio.to_thread(csv_zip, data)
    return Response(body, media_type="application/zip", headers=_attachment(data["assembly"], "zip"))


async def export_md(request: Request) -> Response:
    """The report as Markdown, in the request's language (Danish unless ?lang=en or its cookie)."""
    data = await _export(request)
    if isinstance(data, Response):
        return data
    lang = i18n.language(request)
    text = markdown(data, i18n.gettext_for(lang), lang)
    return Response(text, media_type="text/markdown; charset=utf-8", headers=_attachment(data["assembly"], "md"))


async def revoke_api(request: Request) -> Response:
    """The facilitator removes a device (a tablet that should not be at a table, a leaked display
    link): its sockets close with 4003 within seconds and its token is refused from then on."""
    samling: Samling = request.app.state.samling
    assembly = request.path_params["assembly"]
    claims = facilitator_of(request, samling, assembly)
    if claims is None:
        return error(403, "forbidden", "the facilitator's token for this assembly is needed")
    payload = await json_body(request, JOIN_BODY_MAX, '{"device": "<a device id from the presence list>"}')
    if isinstance(payload, Response):
        return payload
    device = payload.get("device") if isinstance(payload, dict) else None
    if not isinstance(device, str) or not 1 <= len(device) <= 64:
        return error(400, "invalid_args", "device: a device id of 1-64 characters")
    if device == claims.device:
        return error(400, "invalid_args", "device: the facilitator cannot remove the facilitator")
    if await samling.hub.assembly(assembly) is None:
        return error(404, "unknown_assembly", "no such assembly")
    await samling.hub.revoke(assembly, device)
    log.warning("assembly %s: the facilitator removed device %s", assembly, device_label(device))
    return JSONResponse({"device": device, "label": device_label(device), "revoked": True})


async def create_assembly_api(request: Request) -> Response:
    """The organiser creates an assembly from the browser (/new); the answer is the CLI's --json sheet."""
    samling: Samling = request.app.state.samling
    if not samling.tokens.is_organiser(bearer(request)):
        return error(403, "forbidden", "the organiser's token is needed (the link `samling serve` prints)")
    payload = await json_body(request, CREATE_BODY_MAX, '{"name": "Næstved borgersamling", "tables": 12}')
    if isinstance(payload, Response):
        return payload
    try:
        name, tables, names = new_assembly_args(payload)
    except ValueError as exc:
        return error(400, "invalid_args", str(exc))
    made = await create_assembly(samling.store, samling.tokens, name, tables, public_base(request, samling.settings),
                                 names)
    log.info("assembly %s created from the browser (%d tables)", made["assembly"], tables)
    return JSONResponse(made, status_code=201)


async def sheet_api(request: Request) -> Response:
    """The printable sheet: every table's codes, join link and QR code, for the facilitator."""
    samling: Samling = request.app.state.samling
    assembly = request.path_params["assembly"]
    if facilitator_of(request, samling, assembly) is None:
        return error(403, "forbidden", "the facilitator's token for this assembly is needed")
    record = await samling.hub.assembly(assembly)
    if record is None:
        return error(404, "unknown_assembly", "no such assembly")
    data = await asyncio.to_thread(sheet, record, samling.tokens, public_base(request, samling.settings))
    return JSONResponse(data, headers={"Cache-Control": "no-store"})


SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                 b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
                                 b"object-src 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class SecurityHeaders:
    """Every HTTP answer carries a strict CSP (no inline script), no framing, nosniff, and no referrer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


class TrustedProxies:
    """The client behind a configured reverse proxy (SAMLING_TRUSTED_PROXIES): uvicorn's own
    proxy-header middleware, applied here rather than by uvicorn so that every way of running
    Samling (`samling serve`, the Procfile) trusts exactly the configured proxies and no one else.
    A peer not in the list keeps its own address whatever X-Forwarded-For it sends."""

    def __init__(self, app: ASGIApp, trusted: tuple[str, ...]) -> None:
        # uvicorn types ASGI with TypedDicts, Starlette with plain mappings: the same protocol.
        self.app = cast(ASGIApp, ProxyHeadersMiddleware(cast(Any, app), trusted_hosts=list(trusted)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = open_store(settings.db, settings.redis)
        await store.start()
        tokens = Tokens(await signing_secret(store, settings))
        quiet_socket_lines()
        hub = Hub(store, settings)
        await hub.open_epoch()
        hub.on_history_lost = functools.partial(restore_registry, store, hub, settings, tokens)
        hub.start()
        app.state.samling = Samling(settings, store, tokens, hub, time.time(), {}, AddressLimits(settings))
        collector.settle_after_start()
        log.info("samling ready on the %s store", store.name)
        organiser = f"{settings.base_url}/new#token={tokens.organiser()}"
        log.info("organiser link (creates assemblies; keep it private): %s", organiser)
        print(f"\n  Organiser:   {organiser}\n  (opens the page that creates assemblies: keep it private)\n",
              flush=True)
        try:
            yield
        finally:
            del app.state.samling
            await hub.close()
            await store.close()

    routes = [
        Route("/healthz", healthz),
        Route("/api/join", join, methods=["POST"]),
        Route("/api/assemblies", create_assembly_api, methods=["POST"]),
        Route("/api/assemblies/{assembly}/export.json", export_json),
        Route("/api/assemblies/{assembly}/export.zip", export_zip),
        Route("/api/assemblies/{assembly}/export.md", export_md),
        Route("/api/assemblies/{assembly}/revoke", revoke_api, methods=["POST"]),
        Route("/api/assemblies/{assembly}/sheet", sheet_api),
        Route("/", pages.home),
        Route("/join", pages.join_page),
        Route("/j/{code}", pages.join_page),
        Route("/table", pages.table_page),
        Route("/facilitator", pages.facilitator_page),
        Route("/facilitator/sheet", pages.sheet_page),
        Route("/facilitator/report", pages.report_page),
        Route("/new", pages.new_page),
        Route("/display", pages.display_page),
        Route("/i18n/{lang}.json", pages.catalog_json),
        Mount("/static", StaticFiles(directory=pages.STATIC), name="static"),
    ]
    middleware = [Middleware(socket.SocketRoute), Middleware(SecurityHeaders)]  # /ws: see SocketRoute
    if settings.trusted_proxies:
        middleware.insert(0, Middleware(TrustedProxies, trusted=settings.trusted_proxies))
    return Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
