"""Every page, in a realistic state, at a tablet's size (768 x 1024) and a laptop's (1280 x 800):
axe-core finds nothing serious or critical, every control is big enough for a finger, and text that
looks like markup stays text.

The target-size rule (WCAG 2.5.5, the 44 x 44 CSS px of the enhanced level): every visible
`button`, `a[href]`, `input`, `select`, `textarea`, `summary` and `[role=button]` measures at least
44 x 44. Measured is what a finger hits: a checkbox or radio inside its `<label>` is measured by the
label. Left out are:
- an inline link in running text (a link displayed `inline` whose block holds other words too),
  which the rule exempts because the line height of the sentence bounds it;
- what is not on the page at all: hidden (`display: none`, `[hidden]`, zero size), clipped to a
  pixel for screen readers only (`.visually-hidden`, an idle toast), or parked outside the page
  (the skip link until it has focus).

Pages are in Danish, the default, as the hall uses them.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from axe_playwright_python.async_playwright import Axe
from browser.conftest import LAPTOP, TABLET, new_page, screenshot
from playwright.async_api import Browser, BrowserContext, Page, expect
from support.client import Device
from support.processes import TEST_SECRET

from server.tokens import Tokens

XSS = "<img src=x onerror=alert(1)>"
SIZES = {"tablet": TABLET, "laptop": LAPTOP}
MIN = 44

SMALL_TARGETS = """(MIN) => {
  const shown = (el) => {
    if (el.closest('[hidden]')) return false;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') return false;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) return false;
    if (r.bottom + scrollY <= 0 || r.right + scrollX <= 0) return false;  // parked off the page
    for (let a = el; a; a = a.parentElement) {  // clipped to a pixel, for screen readers only
      const s = getComputedStyle(a);
      if ((s.clipPath === 'inset(50%)' || s.clip === 'rect(0px, 0px, 0px, 0px)')
          && a.getBoundingClientRect().width <= 1) return false;
    }
    return true;
  };
  const inlineInText = (el) => {
    if (el.tagName !== 'A' || getComputedStyle(el).display !== 'inline') return false;
    let block = el.parentElement;
    while (block && getComputedStyle(block).display.startsWith('inline')) block = block.parentElement;
    return !!block && block.textContent.trim().length > el.textContent.trim().length;
  };
  const name = (el) => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}`
    + `${el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : ''}`
    + ` "${(el.textContent || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 30)}"`;
  const out = [];
  for (const el of document.querySelectorAll(
      'button, a[href], input:not([type=hidden]), select, textarea, summary, [role=button]')) {
    if (!shown(el) || inlineInText(el)) continue;
    let hit = el;
    if (el.matches('input[type=checkbox], input[type=radio]') && el.closest('label')) hit = el.closest('label');
    const r = hit.getBoundingClientRect();
    if (r.width < MIN - 0.5 || r.height < MIN - 0.5) {
      out.push(`${name(el)}: ${Math.round(r.width)}x${Math.round(r.height)}`);
    }
  }
  return out;
}"""


async def problems(page: Page) -> list[str]:
    """axe's serious and critical violations, and the controls under 44 x 44, in words."""
    found: list[str] = []
    results = await Axe().run(page)
    for v in results.response["violations"]:
        if v["impact"] in ("serious", "critical"):
            targets = [n["target"] for n in v["nodes"]][:4]
            found.append(f"axe {v['impact']} {v['id']}: {v['help']} at {targets}")
    found += [f"small target {s}" for s in await page.evaluate(SMALL_TARGETS, MIN)]
    return found


async def check_both_sizes(page: Page, name: str, report: dict[str, list[str]]) -> None:
    """Check the page at both sizes (it stays in the state it is in) and note what is wrong."""
    for size, viewport in SIZES.items():
        await page.set_viewport_size(viewport)
        await page.wait_for_timeout(150)  # a layout change may move things around (media queries)
        found = await problems(page)
        if found:
            report[f"{name} @ {size}"] = found
            await screenshot(page, f"a11y-{name}-{size}")


def watch(page: Page) -> None:
    """Keep the page's dialogs: an alert would mean injected script ran."""
    dialogs: list[str] = []
    page.dialogs = dialogs  # type: ignore[attr-defined]

    async def dialog(d: Any) -> None:
        dialogs.append(d.message)
        await d.dismiss()

    page.on("dialog", dialog)


async def open_page(browser: Browser, url: str, viewport: dict[str, int] = TABLET) -> tuple[BrowserContext, Page]:
    context, page = await new_page(browser, viewport)
    watch(page)
    await page.goto(url)
    return context, page


async def join(browser: Browser, base: str, code: str) -> tuple[BrowserContext, Page]:
    context, page = await open_page(browser, f"{base}/j/{code}")
    await page.locator("#join-button").click()
    await page.wait_for_url(f"{base}/table")
    await expect(page.locator("#conn")).to_have_attribute("data-status", "online")
    return context, page


async def add_note(page: Page, text: str) -> None:
    await page.locator("#new-note").fill(text)
    await page.locator("#new-note").press("Enter")
    await expect(page.locator(".board-notes .note", has_text=text)).to_have_count(1)


def report_text(report: dict[str, list[str]]) -> str:
    return "\n".join(f"{where}:\n  " + "\n  ".join(found) for where, found in report.items())


async def test_every_page_is_accessible_at_both_sizes(browser: Browser, hall: dict[str, Any]) -> None:
    server, assembly = hall["server"], hall["assembly"]
    base = server.url
    report: dict[str, list[str]] = {}
    pages: list[Page] = []

    # -- the pages without a seat or a token in play
    _, home = await open_page(browser, f"{base}/")
    await expect(home.locator("#home-title")).to_be_visible()
    await check_both_sizes(home, "home", report)
    _, join_page = await open_page(browser, f"{base}/join")
    await expect(join_page.locator("#code")).to_be_focused()
    await check_both_sizes(join_page, "join", report)
    await join_page.locator("#code").fill("AAAAAA")
    await join_page.locator("#join-button").click()
    await expect(join_page.locator("#join-error")).not_to_be_empty()
    await check_both_sizes(join_page, "join-wrong-code", report)
    _, setup = await open_page(browser, f"{base}/new#token={Tokens(TEST_SECRET).organiser()}")
    await expect(setup.locator("#setup-form")).to_be_visible()
    await check_both_sizes(setup, "new", report)
    await setup.locator("#setup-name").fill("Borgersamling om byens grønne områder")
    await setup.locator("#setup-tables").fill("3")
    await setup.locator("#setup-submit").click()
    await expect(setup.locator("#setup-done")).to_be_visible()
    await check_both_sizes(setup, "new-done", report)
    pages += [home, join_page, setup]

    # -- an activity under way: the dashboard and the display follow it, a tablet writes notes
    _, dash = await open_page(browser, f"{base}/facilitator#token={assembly['facilitator_token']}", LAPTOP)
    await expect(dash.locator("#conn")).to_have_attribute("data-status", "online")
    _, display = await open_page(browser, f"{base}/display#token={assembly['display_token']}", LAPTOP)
    await expect(display.locator("#stage")).to_have_attribute("data-mode", "prompt")
    _, tablet = await join(browser, base, assembly["tables"][0]["code"])
    pages += [dash, display, tablet]
    boss = await Device.connect(server.ws_url, assembly["facilitator_token"])
    await boss.ok("activity.start", {"activity": "a1", "prompt": "Hvad skal der ske med byens grønne områder?",
                                     "dots": 3}, room="hall")
    await boss.ok("timer.start", {"seconds": 600}, room="hall")
    await expect(tablet.locator(".phase-view.brainstorm")).to_be_visible()
    for text in ("Flere træer langs vejene", "Bænke ved søen", "Legeplads ved skolen"):
        await add_note(tablet, text)
    await check_both_sizes(tablet, "table-brainstorm", report)
    await expect(display.locator("#timer")).to_be_visible()
    await check_both_sizes(display, "display-prompt", report)
    await expect(dash.locator(".table-card[data-table='1'] [data-stat=notes] b")).to_have_text("3")
    await check_both_sizes(dash, "dashboard", report)
    await dash.locator(".table-card[data-table='1']").click()
    await expect(dash.locator("#table-dialog .note")).to_have_count(3)
    await check_both_sizes(dash, "dashboard-table", report)
    await dash.locator("#td-close").click()

    # -- cluster and vote at the table
    await boss.ok("phase.set", {"phase": "cluster"}, room="hall")
    await expect(tablet.locator(".phase-view.cluster")).to_be_visible()
    await tablet.locator("#new-group").fill("Grønt")
    await tablet.locator("#new-group").press("Enter")
    await tablet.locator(".loose .note", has_text="Flere træer").click()
    await tablet.locator(".target.group .target-title").click()
    await expect(tablet.locator(".target.group .note")).to_have_count(1)
    await check_both_sizes(tablet, "table-cluster", report)
    await boss.ok("phase.set", {"phase": "vote"}, room="hall")
    await expect(tablet.locator(".phase-view.vote")).to_be_visible()
    await tablet.locator(".vote-target .give-dot").first.click()
    await expect(tablet.locator(".dots-left-number")).to_have_text("2")
    await check_both_sizes(tablet, "table-vote", report)

    # -- a plenary poll: the card on the tablet, the bars on the display and the dashboard
    await boss.ok("poll.open", {"poll": "p1", "question": "Skal kommunen plante flere træer?", "kind": "choice",
                                "options": ["Ja", "Nej", "Ved ikke"]}, room="hall")
    await expect(tablet.locator("#poll")).to_be_visible()
    await tablet.locator("#poll .answer").first.click()
    await expect(tablet.locator("#poll .poll-status")).to_have_class(re.compile(r"\bdone\b"))
    await check_both_sizes(tablet, "table-poll", report)
    await expect(display.locator(".bar-count").first).to_have_text("1")
    await check_both_sizes(display, "display-poll", report)
    await expect(dash.locator(".poll-live")).to_have_count(1)
    await check_both_sizes(dash, "dashboard-poll", report)

    # -- the poll closed, the table's results, spotlighted on the display
    await boss.ok("poll.close", {"poll": "p1"}, room="hall")
    await expect(tablet.locator("#poll")).to_be_hidden()
    await boss.ok("phase.set", {"phase": "results"}, room="hall")
    await boss.ok("spotlight", {"table": "1"}, room="hall")
    await expect(tablet.locator(".results > .result")).to_have_count(3)
    await check_both_sizes(tablet, "table-results", report)
    await expect(display.locator(".ranked-row")).to_have_count(3)
    await check_both_sizes(display, "display-spotlight", report)

    # -- the printable sheet
    sheet = await dash.context.new_page()
    watch(sheet)
    errors: list[str] = []
    sheet.on("pageerror", lambda e: errors.append(str(e)))
    await sheet.goto(f"{base}/facilitator/sheet?assembly={assembly['assembly']}#token={assembly['facilitator_token']}")
    await expect(sheet.locator(".sheet-card")).to_have_count(2)
    await check_both_sizes(sheet, "sheet", report)

    assert report == {}, "accessibility problems:\n" + report_text(report)
    for page in pages:
        assert page.errors == [], (page.url, page.errors)  # type: ignore[attr-defined]
    assert errors == []


async def test_a_note_with_markup_stays_text(browser: Browser, hall: dict[str, Any]) -> None:
    """A note `<img src=x onerror=alert(1)>` is shown as those characters on the tablets, on the
    dashboard's view of the table, and on the display's spotlight: no img element, no alert."""
    server, assembly = hall["server"], hall["assembly"]
    base = server.url
    _, dash = await open_page(browser, f"{base}/facilitator#token={assembly['facilitator_token']}", LAPTOP)
    await expect(dash.locator("#conn")).to_have_attribute("data-status", "online")
    _, display = await open_page(browser, f"{base}/display#token={assembly['display_token']}", LAPTOP)
    _, writer = await join(browser, base, assembly["tables"][0]["code"])
    _, reader = await join(browser, base, assembly["tables"][0]["code"])
    boss = await Device.connect(server.ws_url, assembly["facilitator_token"])
    await boss.ok("activity.start", {"activity": "a1", "prompt": "Idéer"}, room="hall")

    await add_note(writer, XSS)
    await add_note(writer, "Bænke ved søen")
    for page in (writer, reader):
        note = page.locator(".board-notes .note", has_text=XSS)
        await expect(note.locator(".note-text")).to_have_text(XSS)
        assert await page.locator("#view img").count() == 0

    await dash.locator(".table-card[data-table='1']").click()
    view = dash.locator("#td-board")
    await expect(view.locator(".note", has_text=XSS)).to_have_text(XSS)
    assert await view.locator("img").count() == 0
    await dash.locator("#td-spotlight").click()
    await expect(display.locator("#stage")).to_have_attribute("data-mode", "spotlight")
    await expect(display.locator(".ranked-title").first).to_have_text(XSS)
    assert await display.locator("#stage img").count() == 0

    # ... and the same once it is in a group, and ranked by dots
    await boss.ok("phase.set", {"phase": "cluster"}, room="hall")
    await writer.locator(".loose .note", has_text=XSS).click()
    await writer.locator("#new-group").fill(XSS)
    await writer.locator("#new-group").press("Enter")
    await writer.locator(".target.group .target-title").click()
    await expect(reader.locator(".target.group .target-title")).to_contain_text(XSS)
    await expect(reader.locator(".target.group .note")).to_have_text(XSS)
    await boss.ok("phase.set", {"phase": "results"}, room="hall")
    await dash.locator("#td-spotlight").click()  # again, with the results
    await expect(display.locator(".ranked-title")).to_have_text([XSS, "Bænke ved søen"])
    await expect(dash.locator("#td-board .td-results li").first).to_contain_text(XSS)
    await expect(reader.locator(".results .result-title").first).to_have_text(XSS)
    await asyncio.sleep(0.3)  # time for an onerror that should never run
    for page in (writer, reader, dash, display):
        assert await page.locator("main img").count() == 0, page.url
        assert page.dialogs == [], (page.url, page.dialogs)  # type: ignore[attr-defined]
        assert page.errors == [], (page.url, page.errors)  # type: ignore[attr-defined]
