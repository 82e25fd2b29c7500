"""Real Chromium (Debian's, driven by Playwright) against a real Samling server process.

`playwright install` cannot download browsers here, so the tests launch /usr/bin/chromium with
the flags that work in this sandbox. Screenshots of each face go to test-artifacts/screenshots/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, BrowserContext, Locator, Page, async_playwright
from support.processes import REPO_ROOT, create_assembly

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
TABLET = {"width": 768, "height": 1024}
LAPTOP = {"width": 1280, "height": 800}


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium per test."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium", pytrace=False)
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        await b.close()


@pytest.fixture
def hall(servers: Any, tmp_db: Path) -> dict[str, Any]:
    """A running server (embedded store) with a fresh 2-table assembly: {"server", "assembly"}."""
    assembly = create_assembly("Browsersamling", 2, db=str(tmp_db))
    return {"server": servers.start(db=tmp_db), "assembly": assembly}


async def new_page(browser: Browser, viewport: dict[str, int] = TABLET, **kwargs: Any) -> tuple[BrowserContext, Page]:
    """A fresh browser profile (its own localStorage) with one page; page errors fail the test."""
    context = await browser.new_context(viewport=viewport, has_touch=True, **kwargs)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors  # type: ignore[attr-defined]
    return context, page


async def serious_problems(page: Page) -> list[tuple[str, list[Any]]]:
    """What axe finds serious or critical (contrast, names, roles): (rule id, first targets)."""
    results = await Axe().run(page)
    return [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")]


def watch_console(page: Page) -> None:
    """A Content-Security-Policy violation (an inline style, say) is a page error too."""
    page.on("console", lambda m: page.errors.append(m.text)  # type: ignore[attr-defined]
            if m.type == "error" and "Content Security Policy" in m.text else None)


def watch(page: Page) -> None:
    """Keep a page's dialogs (an alert would mean injected script ran) and its welcome frames, and count
    a Content-Security-Policy violation as a page error."""
    dialogs: list[str] = []
    welcomes: list[dict[str, Any]] = []
    page.dialogs = dialogs  # type: ignore[attr-defined]
    page.welcomes = welcomes  # type: ignore[attr-defined]

    async def dialog(d: Any) -> None:
        dialogs.append(d.message)
        await d.dismiss()

    def frame(payload: str | bytes) -> None:
        if isinstance(payload, bytes):
            msg = msgpack.unpackb(payload, raw=False, strict_map_key=False)
            if isinstance(msg, dict) and msg.get("t") == "welcome":
                welcomes.append(msg)

    page.on("dialog", dialog)
    page.on("websocket", lambda ws: ws.on("framereceived", frame))
    watch_console(page)


def notes(page: Page, text: str | None = None) -> Locator:
    """The tablet's notes in the phase on screen (optionally those with `text`)."""
    found = page.locator(".phase-view:not([hidden]) .note")
    return found.filter(has_text=text) if text is not None else found


def group(page: Page, title: str) -> Locator:
    """A cluster on the tablet's cluster view, by its title."""
    return page.locator(".target.group").filter(has=page.locator(".target-title", has_text=title))


def target(page: Page, title: str) -> Locator:
    """Something to place dots on, in the tablet's vote view, by its title."""
    return page.locator(".vote-target").filter(has=page.locator(".target-name", has_text=title))


async def drag(page: Page, source: Locator, dest: Locator) -> None:
    """A finger-like drag in small steps (SortableJS's fallback drag follows pointer moves)."""
    await source.scroll_into_view_if_needed()
    a = await source.bounding_box()
    b = await dest.bounding_box()
    assert a is not None and b is not None
    await page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    await page.mouse.down()
    await page.mouse.move(a["x"] + a["width"] / 2 + 10, a["y"] + a["height"] / 2 + 10, steps=4)
    await page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=20)
    await page.wait_for_timeout(150)
    await page.mouse.up()


async def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
