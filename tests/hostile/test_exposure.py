"""What the server gives away: tokens never land in its log or in a URL it accepts, and every page
and API answer carries the security headers (a CSP without inline script, no framing, nosniff, no
referrer)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import msgpack
import websockets
from support.client import Device, join
from support.processes import REPO_ROOT, TEST_SECRET

from server.tokens import Tokens

Hall = Any  # tests/hostile/conftest.py


async def test_no_token_is_ever_written_to_the_log(hall: Callable[..., Hall], clean_log: Callable[[Any], None]) -> None:
    """A whole session (join, hello, resume, commands, refusals, the export and the sheet with the
    Bearer token, a wrong token) leaves none of the tokens in the server's log."""
    h = hall()
    fac = await Device.connect(h.server.ws_url, h.assembly["facilitator_token"])
    display = await Device.connect(h.server.ws_url, h.assembly["display_token"])
    joined = await join(h.server.url, h.codes[0], "Mette")
    host = await join(h.server.url, h.host_codes[1])
    member = await Device.connect(h.server.ws_url, joined["token"])
    await fac.ok("activity.start", {"activity": "a1"}, room="hall")
    await member.ok("note.add", {"note": "n1", "text": "idé"})
    assert (await member.cmd("timer.stop", {}, room="hall"))["code"] == "forbidden"  # a logged refusal
    await member.close()
    again = await Device.connect(h.server.ws_url, joined["token"], since=member.since())
    assert again.welcome["rooms"]["table:1"]["seq"] >= 1
    await Device.connect(h.server.ws_url, host["token"])
    forged = joined["token"][:-4] + "AAAA"
    refused = await Device.connect(h.server.ws_url, forged, require_welcome=False)
    assert refused.welcome is not None and refused.welcome["code"] == "not_authenticated"
    bearer = {"Authorization": f"Bearer {h.assembly['facilitator_token']}"}
    async with httpx.AsyncClient(base_url=h.server.url, trust_env=False) as http:
        assembly = h.assembly["assembly"]
        assert (await http.get(f"/api/assemblies/{assembly}/export.json", headers=bearer)).status_code == 200
        assert (await http.get(f"/api/assemblies/{assembly}/sheet", headers=bearer)).status_code == 200
        assert (await http.get(f"/api/assemblies/{assembly}/export.json",
                               headers={"Authorization": f"Bearer {joined['token']}"})).status_code == 403
    await display.close()
    log = h.server.log_text()
    assert "/api/join" in log and "refused forbidden" in log  # the log does record the session
    for name, token in [("member", joined["token"]), ("host", host["token"]), ("forged", forged),
                        ("facilitator", h.assembly["facilitator_token"]), ("display", h.assembly["display_token"])]:
        assert token not in log, f"the {name} token is in the log"
        assert token.split(".")[-1] not in log, f"the {name} token's signature is in the log"
    clean_log(h.server)


async def test_no_route_takes_a_token_from_the_url(hall: Callable[..., Hall]) -> None:
    """Tokens travel in a Bearer header or in hello, never in a query string, which proxies and
    logs keep: ?token= opens nothing."""
    h = hall(SAMLING_HELLO_TIMEOUT="1")
    fac, assembly = h.assembly["facilitator_token"], h.assembly["assembly"]
    organiser = Tokens(TEST_SECRET).organiser()
    async with httpx.AsyncClient(base_url=h.server.url, trust_env=False) as http:
        for path in (f"/api/assemblies/{assembly}/export.json?token={fac}",
                     f"/api/assemblies/{assembly}/sheet?token={fac}",
                     f"/api/assemblies/{assembly}/export.json?access_token={fac}&bearer={fac}"):
            assert (await http.get(path)).status_code == 403, path
        made = await http.post(f"/api/assemblies?token={organiser}", json={"name": "X", "tables": 1})
        assert made.status_code == 403
    async with websockets.connect(f"{h.server.ws_url}?token={fac}", compression=None, proxy=None) as ws:
        await ws.send(msgpack.packb({"t": "cmd", "id": "c1", "room": "hall", "op": "timer.stop", "args": {}}))
        assert msgpack.unpackb(await ws.recv())["code"] == "not_authenticated"
        try:
            await ws.recv()
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 4002


def test_the_pages_keep_tokens_out_of_urls() -> None:
    """The scripts send tokens only in hello and Bearer headers: none builds a URL with a token in
    its query; a tablet gets its token from POST /api/join and keeps it in localStorage; every
    script that takes a token from a link's #fragment wipes it from the address bar."""
    scripts = sorted((REPO_ROOT / "static" / "js").rglob("*.js"))
    assert scripts
    from_fragment = []
    for script in scripts:
        text = script.read_text()
        assert not re.search(r"[?&](access_)?token=", text), script
        assert not re.search(r"location\.search[^;]*token|searchParams\.get\(.token", text), script
        if "location.hash" in text and "token" in text:
            from_fragment.append(script.name)
            assert "history.replaceState" in text, f"{script} leaves the token in the address bar"
    assert {"common.js", "setup.js"} <= set(from_fragment)
    join = (REPO_ROOT / "static" / "js" / "join.js").read_text()
    assert "/api/join" in join and "localStorage.setItem(TOKEN_KEY, answer.token)" in join


PAGES = ["/", "/join", "/j/K7QX2M", "/table", "/facilitator", "/facilitator/sheet", "/display", "/new",
         "/healthz", "/i18n/da.json", "/static/css/samling.css", "/static/js/connection.js", "/no/such/page",
         "/api/assemblies/a0/export.json", "/static/../server/app.py"]


def assert_secure(answer: httpx.Response) -> None:
    where = f"{answer.request.method} {answer.request.url.path} ({answer.status_code})"
    csp = answer.headers.get("content-security-policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    script = directives.get("script-src", directives.get("default-src"))
    assert script and "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, where
    assert "'unsafe-inline'" not in csp, where
    assert directives.get("frame-ancestors") == ["'none'"] or answer.headers.get("x-frame-options") == "DENY", where
    assert answer.headers.get("x-frame-options") == "DENY", where
    assert answer.headers.get("x-content-type-options") == "nosniff", where
    assert answer.headers.get("referrer-policy") in ("no-referrer", "same-origin", "strict-origin"), where


async def test_every_page_and_api_answer_carries_the_security_headers(hall: Callable[..., Hall]) -> None:
    h = hall()
    async with httpx.AsyncClient(base_url=h.server.url, trust_env=False) as http:
        for path in PAGES:
            assert_secure(await http.get(path))
        for body in ({"code": h.codes[0]}, {"code": "ZZZZZ9"}, {"code": 1}):
            assert_secure(await http.post("/api/join", json=body))
        assert_secure(await http.post("/api/join", content=b"not json"))
        assert_secure(await http.post("/api/join", content=b"x" * 5000))
        assert_secure(await http.post("/api/assemblies", json={}))
        assert_secure(await http.get("/static/js/connection.js", headers={"Range": "bytes=0-10"}))
        assert_secure(await http.head("/"))
        assert_secure(await http.request("OPTIONS", "/api/join"))


def test_the_pages_have_no_inline_script() -> None:
    """The CSP forbids inline script; the templates must not need any (no <script> with a body,
    no on* handlers, no javascript: links)."""
    templates = sorted(Path(REPO_ROOT / "server" / "templates").rglob("*.html"))
    assert templates
    for template in templates:
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template
        assert not re.search(r"\son[a-z]+\s*=", text), template
        assert "javascript:" not in text, template
