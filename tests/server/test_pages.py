"""The browser's pages and the organiser's HTTP API, against a real server process.

Every page must be safe to serve as it is (strict CSP, no framing, no inline script or style,
nothing from a CDN). The organiser creates assemblies with the token the server prints, and the
facilitator gets the printable sheet (codes, join links, QR codes) with theirs.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.client import join
from support.processes import TEST_SECRET, ServerProcess, create_assembly, free_port

from rooms import Role
from server.codec import decode_record
from server.store.sqlite import SqliteStore
from server.tokens import Claims, Tokens

PAGES = ["/", "/join", "/j/K7QX2M", "/table", "/facilitator", "/facilitator/sheet", "/display", "/new"]
SVG = "{http://www.w3.org/2000/svg}svg"


@pytest.fixture
def server(servers: Any, tmp_db: Path) -> ServerProcess:
    started: ServerProcess = servers.start(db=tmp_db)
    return started


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, trust_env=False, timeout=10) as client:
        yield client


def organiser_token(secret: str = TEST_SECRET) -> str:
    return Tokens(secret).organiser()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def create(http: httpx.Client, body: Any, token: str | None = None) -> httpx.Response:
    headers = bearer(token if token is not None else organiser_token())
    return http.post("/api/assemblies", json=body, headers=headers)


def assert_secure(resp: httpx.Response) -> None:
    csp = resp.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert resp.headers["x-frame-options"] == "DENY"
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["referrer-policy"] == "no-referrer"


# -- pages ------------------------------------------------------------------------------------

def test_every_page_answers_with_the_security_headers(http: httpx.Client) -> None:
    """Each face renders (200, HTML, Danish) with a CSP that forbids inline code, no framing and no referrer."""
    for path in PAGES:
        resp = http.get(path)
        assert resp.status_code == 200, f"{path}: {resp.status_code} {resp.text[:300]}"
        assert resp.headers["content-type"].startswith("text/html"), path
        assert_secure(resp)
        assert '<html lang="da">' in resp.text, path


def test_no_page_has_inline_code_or_loads_from_elsewhere(http: httpx.Client) -> None:
    """The CSP would block inline scripts and styles, so a page must not have any; nothing comes
    from a CDN: every script and style sheet is one of ours, and it exists."""
    for path in PAGES:
        html = http.get(path).text
        for attrs, body in re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S | re.I):
            assert "src=" in attrs and not body.strip(), f"inline script on {path}: {body[:80]!r}"
        assert not re.search(r"<style\b", html, re.I), f"a <style> element on {path}"
        assert not re.search(r"\sstyle\s*=", html, re.I), f"a style= attribute on {path}"
        assert not re.search(r"\son[a-z]+\s*=", html, re.I), f"an inline event handler on {path}"
        for url in re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", html, re.I):
            assert not re.match(r"(?i)(https?:)?//", url), f"{path} loads {url} from another site"
        for url in re.findall(r"""<(?:script|link)\b[^>]*(?:src|href)\s*=\s*["']([^"']*)""", html, re.I):
            if url.startswith("/"):
                assert http.get(url).status_code == 200, f"{path} links {url}, which is missing"


def test_static_files_do_not_reach_for_a_cdn() -> None:
    """No script or style sheet of ours imports anything from another site."""
    root = Path(__file__).resolve().parents[2] / "static"
    for path in [*root.glob("js/**/*.js"), *root.glob("css/**/*.css")]:
        text = path.read_text()
        assert not re.search(r"""(?:import\s[^;]*?from\s*|import\s*\(\s*|@import\s+(?:url\()?)["']?(?:https?:)?//""",
                             text), f"{path} imports from another site"
        assert not re.search(r"""url\(\s*["']?(?:https?:)?//""", text), f"{path} loads a url() from another site"


def test_a_table_link_fills_in_the_normalised_code(http: httpx.Client) -> None:
    """/j/<code> (the QR code on a table's card) opens the join form with the code filled in."""
    for raw in ["k7q-x2m", "K7QX2M", "k7qx2m", "K7Q X2M"]:
        resp = http.get(f"/j/{raw}")
        assert resp.status_code == 200
        assert 'value="K7QX2M"' in resp.text, raw


def test_an_impossible_table_link_leaves_the_code_empty(http: httpx.Client) -> None:
    resp = http.get("/j/<script>")
    assert resp.status_code in (200, 404)
    assert "<script>alert" not in resp.text and 'value="<' not in resp.text


def test_the_language_switch_keeps_the_page_and_its_query(http: httpx.Client) -> None:
    """The switch goes to the same page in the other language, keeping the other query parameters."""
    html = http.get("/facilitator/sheet?assembly=a123").text
    assert 'href="/facilitator/sheet?assembly=a123&amp;lang=en"' in html
    html = http.get("/new?lang=en").text
    assert 'href="/new?lang=da"' in html


# -- the organiser's link ---------------------------------------------------------------------

def test_serve_prints_the_organiser_link(server: ServerProcess, http: httpx.Client) -> None:
    """`samling serve` prints <base>/new#token=<organiser token>, and that token creates assemblies."""
    log = server.log_text()
    found = re.findall(r"(http://\S+)/new#token=(\S+)", log)
    assert found, log[-2000:]
    base, token = found[-1]
    assert base == f"http://localhost:{server.port}"
    assert token == organiser_token()
    assert "Organiser:" in log
    assert create(http, {"name": "Fra loggen", "tables": 1}, token).status_code == 201


def test_demo_prints_the_organiser_link(tmp_path: Path) -> None:
    """`samling demo` prints the organiser's link along with the demo assembly's sheet."""
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SAMLING_")},
           "SAMLING_SECRET": TEST_SECRET, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "server", "demo", "--port", str(port), "--db",
                             str(tmp_path / "d.db")], cwd=Path(__file__).resolve().parents[2], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert proc.poll() is None
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    assert f"http://localhost:{port}/new#token={organiser_token()}" in out
    assert "Facilitator:" in out


def test_the_organiser_token_is_no_device_token() -> None:
    """The organiser token is signed with its own salt: it is not a device token, nor the reverse,
    and another secret's organiser token is refused."""
    tokens = Tokens(TEST_SECRET)
    fac = tokens.issue(Claims("a1", "f1", Role.FACILITATOR, None))
    assert tokens.is_organiser(tokens.organiser())
    assert tokens.read(tokens.organiser()) is None
    assert not tokens.is_organiser(fac)
    assert not tokens.is_organiser(Tokens("another secret").organiser())
    assert not tokens.is_organiser(None) and not tokens.is_organiser("x" * 600) and not tokens.is_organiser("")


# -- POST /api/assemblies ---------------------------------------------------------------------

def test_creating_an_assembly_needs_the_organiser_token(http: httpx.Client, server: ServerProcess) -> None:
    body = {"name": "Næstved", "tables": 2}
    assert http.post("/api/assemblies", json=body).status_code == 403
    made = create(http, body).json()
    for token in ["x", "nonsense", made["facilitator_token"], made["display_token"],
                  Tokens("another secret").organiser()]:
        resp = create(http, body, token)
        assert resp.status_code == 403, token
        assert resp.json()["error"] == "forbidden"
    # the token check comes first: a bad body without the token is still 403
    assert http.post("/api/assemblies", content=b"{", headers=bearer("nonsense")).status_code == 403


BAD_BODIES: list[tuple[Any, str]] = [
    ([], "JSON object"),
    ({"tables": 3}, "name"),
    ({"name": "", "tables": 3}, "name"),
    ({"name": "   ", "tables": 3}, "name"),
    ({"name": "x" * 121, "tables": 3}, "name"),
    ({"name": 5, "tables": 3}, "name"),
    ({"name": "X"}, "tables"),
    ({"name": "X", "tables": 0}, "tables"),
    ({"name": "X", "tables": 501}, "tables"),
    ({"name": "X", "tables": "3"}, "tables"),
    ({"name": "X", "tables": 2.5}, "tables"),
    ({"name": "X", "tables": True}, "tables"),
    ({"name": "X", "tables": 2, "table_names": "Øst"}, "table_names"),
    ({"name": "X", "tables": 2, "table_names": ["A", "B", "C"]}, "table_names"),
    ({"name": "X", "tables": 2, "table_names": ["A", ""]}, "table_names[1]"),
    ({"name": "X", "tables": 2, "table_names": [7]}, "table_names[0]"),
    ({"name": "X", "tables": 2, "table_names": ["x" * 41]}, "table_names[0]"),
]


def test_creating_an_assembly_validates_its_input(http: httpx.Client, tmp_db: Path) -> None:
    """A wrong body is 400 invalid_args with a message naming what is wrong; nothing is created."""
    for body, field in BAD_BODIES:
        resp = create(http, body)
        assert resp.status_code == 400, (body, resp.text)
        assert resp.json()["error"] == "invalid_args", body
        assert field in resp.json()["msg"], (body, resp.json())
    with sqlite3.connect(tmp_db) as db:
        assert db.execute("SELECT count(*) FROM assemblies").fetchone()[0] == 0


def test_creating_an_assembly_refuses_what_is_not_json(http: httpx.Client) -> None:
    resp = http.post("/api/assemblies", content=b"name=X", headers=bearer(organiser_token()))
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_args"
    big = {"name": "X", "tables": 2, "table_names": ["A"], "pad": "x" * 70000}
    assert create(http, big).status_code == 413


async def test_the_organiser_creates_an_assembly_that_members_can_join(server: ServerProcess) -> None:
    """The answer has the CLI's --json shape, with links on the address the request came to; its
    codes work at once, and the given table names are used."""
    async with httpx.AsyncClient(base_url=server.url, trust_env=False, timeout=10) as http:
        resp = await http.post("/api/assemblies", headers=bearer(organiser_token()),
                               json={"name": "  Næstved borgersamling ", "tables": 3, "table_names": [" Øst ", "Vest"]})
    assert resp.status_code == 201, resp.text
    made = resp.json()
    assert {"assembly", "name", "facilitator_token", "facilitator_url", "display_token", "display_url",
            "tables"} <= made.keys()
    assert made["name"] == "Næstved borgersamling"
    assert [t["name"] for t in made["tables"]] == ["Øst", "Vest", "Bord 3"]
    assert made["facilitator_url"] == f"{server.url}/facilitator#token={made['facilitator_token']}"
    assert made["display_url"] == f"{server.url}/display#token={made['display_token']}"
    for t in made["tables"]:
        assert t["join_url"] == f"{server.url}/j/{t['code']}"
    member = await join(server.url, made["tables"][0]["code"])
    host = await join(server.url, made["tables"][1]["host_code"])
    assert (member["role"], member["table"], member["assembly"]) == ("member", "1", made["assembly"])
    assert (host["role"], host["table"]) == ("host", "2")


def test_links_use_the_public_url_when_it_is_set(servers: Any, tmp_db: Path) -> None:
    server = servers.start(db=tmp_db, env={"SAMLING_PUBLIC_URL": "https://samling.example.dk/"})
    with httpx.Client(base_url=server.url, trust_env=False, timeout=10) as http:
        made = create(http, {"name": "Offentlig", "tables": 1}).json()
        sheet = http.get(f"/api/assemblies/{made['assembly']}/sheet", headers=bearer(made["facilitator_token"])).json()
    assert made["tables"][0]["join_url"].startswith("https://samling.example.dk/j/")
    assert made["facilitator_url"].startswith("https://samling.example.dk/facilitator#token=")
    assert sheet["tables"][0]["join_url"] == made["tables"][0]["join_url"]
    assert "https://samling.example.dk/new#token=" in server.log_text()


async def test_the_hall_hears_only_ids_and_names_while_the_store_keeps_the_codes(
        http: httpx.Client, tmp_db: Path) -> None:
    """Members see the hall: its assembly.open names the tables but never their codes. The kept
    record has each table's code and host code, for the sheet."""
    made = create(http, {"name": "Koder", "tables": 2}).json()
    store = SqliteStore(str(tmp_db))
    await store.start()
    try:
        record = await store.assembly(made["assembly"])
        blobs = await store.read(f"{made['assembly']}/hall", 0)
    finally:
        await store.close()
    assert record is not None
    assert [(t["code"], t["host_code"]) for t in record["tables"]] == \
        [(t["code"], t["host_code"]) for t in made["tables"]]
    first = decode_record(blobs[0])
    assert first.op == "assembly.open"
    assert set(first.data) == {"assembly", "name", "tables"}
    assert first.data["tables"] == [{"id": "1", "name": "Bord 1"}, {"id": "2", "name": "Bord 2"}]
    for t in made["tables"]:
        assert t["code"].encode() not in blobs[0] and t["host_code"].encode() not in blobs[0]


# -- GET /api/assemblies/<id>/sheet -------------------------------------------------------------

def test_the_sheet_needs_this_assemblys_facilitator(http: httpx.Client, server: ServerProcess) -> None:
    made = create(http, {"name": "Ark", "tables": 2}).json()
    other = create(http, {"name": "Andet", "tables": 1}).json()
    url = f"/api/assemblies/{made['assembly']}/sheet"
    assert http.get(url).status_code == 403
    member = http.post("/api/join", json={"code": made["tables"][0]["code"]}).json()
    host = http.post("/api/join", json={"code": made["tables"][0]["host_code"]}).json()
    for token in ["nonsense", member["token"], host["token"], made["display_token"], other["facilitator_token"],
                  organiser_token()]:
        resp = http.get(url, headers=bearer(token))
        assert resp.status_code == 403, token
        assert resp.json()["error"] == "forbidden"
    ghost = Tokens(TEST_SECRET).issue(Claims("a000000000000", "f1", Role.FACILITATOR, None))
    resp = http.get("/api/assemblies/a000000000000/sheet", headers=bearer(ghost))
    assert resp.status_code == 404 and resp.json()["error"] == "unknown_assembly"


def test_the_sheet_has_every_table_with_its_codes_and_qr(http: httpx.Client, server: ServerProcess) -> None:
    """One entry per table: its name, member and host code, join link on this server, and an SVG QR code."""
    made = create(http, {"name": "Ark", "tables": 4, "table_names": ["Øst"]}).json()
    resp = http.get(f"/api/assemblies/{made['assembly']}/sheet", headers=bearer(made["facilitator_token"]))
    assert resp.status_code == 200, resp.text
    sheet = resp.json()
    assert set(sheet) == {"assembly", "name", "display_url", "tables"}
    assert (sheet["assembly"], sheet["name"]) == (made["assembly"], "Ark")
    assert sheet["display_url"] == made["display_url"]  # the same display device as at creation
    assert len(sheet["tables"]) == 4
    for t, m in zip(sheet["tables"], made["tables"], strict=True):
        assert set(t) == {"id", "name", "code", "host_code", "join_url", "qr_svg"}
        assert (t["id"], t["name"], t["code"], t["host_code"]) == (m["id"], m["name"], m["code"], m["host_code"])
        assert t["join_url"] == f"{server.url}/j/{t['code']}" == m["join_url"]
        root = ET.fromstring(t["qr_svg"])
        assert root.tag == SVG and root.get("viewBox")
        assert root.findall(".//{http://www.w3.org/2000/svg}path")
    assert len({t["qr_svg"] for t in sheet["tables"]}) == 4  # each its own join link
    assert resp.headers["cache-control"] == "no-store"
    assert_secure(resp)


def test_the_sheet_of_an_assembly_made_by_the_command_line(servers: Any, tmp_db: Path) -> None:
    """`samling assembly create` keeps the codes too, so its assemblies have a sheet as well."""
    made = create_assembly("Fra CLI", 2, db=str(tmp_db))
    server = servers.start(db=tmp_db)
    with httpx.Client(base_url=server.url, trust_env=False, timeout=10) as http:
        resp = http.get(f"/api/assemblies/{made['assembly']}/sheet", headers=bearer(made["facilitator_token"]))
    assert resp.status_code == 200
    assert [t["code"] for t in resp.json()["tables"]] == [t["code"] for t in made["tables"]]


def test_create_and_print_on_either_store(servers: Any, tmp_db: Path, stack_kind: str,
                                          request: pytest.FixtureRequest) -> None:
    """The browser's setup and the sheet work the same on the embedded store and on Redis."""
    redis = request.getfixturevalue("redis_url") if stack_kind == "redis" else None
    server = servers.start(db=tmp_db, redis=redis)
    with httpx.Client(base_url=server.url, trust_env=False, timeout=10) as http:
        made = create(http, {"name": "Begge lagre", "tables": 3, "table_names": ["Øst"]}).json()
        sheet = http.get(f"/api/assemblies/{made['assembly']}/sheet", headers=bearer(made["facilitator_token"]))
        joined = http.post("/api/join", json={"code": made["tables"][2]["host_code"]})
    assert sheet.status_code == 200
    assert [(t["name"], t["code"], t["host_code"]) for t in sheet.json()["tables"]] == \
        [(t["name"], t["code"], t["host_code"]) for t in made["tables"]]
    assert joined.json()["role"] == "host" and joined.json()["table"] == "3"
