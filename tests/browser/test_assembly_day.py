"""An assembly day in real Chromium: one whole activity with every face open at the same time.

Two tablets at table 1 (A and B) and one at table 2 (C), each its own browser profile and each
joined through the QR link /j/<code> as a citizen would; the facilitator's dashboard, driven only
by clicks on its buttons; and the plenary display. Nothing here talks to the socket directly.

The pages are in Danish, the default, so the screenshots it leaves in docs/screenshots/ show what a
Danish hall sees. Selectors are ids, classes and data attributes, never words; the words the test
does check come from the pages' own catalogue (/i18n/da.json, English where a string is not
translated yet), so the test keeps passing while the translations are filled in.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from typing import Any

import httpx
from browser.conftest import LAPTOP, SCREENSHOTS, TABLET, drag, group, new_page, notes, screenshot, target, watch
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect
from support.processes import REPO_ROOT

DOCS = REPO_ROOT / "docs" / "screenshots"
PROMPT = "Hvad skal der ske med byens grønne områder?"
QUESTION = "Skal kommunen plante 1.000 nye træer i år?"
SLOW = 15000  # ms: a reconnect after going offline waits out the client's backoff


class Words:
    """The scripts' catalogue for one language: t("{n} dots", n=3) as the page itself would say it."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = table

    def __call__(self, message: str, **values: Any) -> str:
        text = self.table.get(message) or message
        return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m[1], m[0])), text)

    def pattern(self, message: str, **parts: str) -> re.Pattern[str]:
        """The message as a regex: literal text, with each named value replaced by a regex part."""
        text = self.table.get(message) or message
        pieces = re.split(r"(\{\w+\})", text)
        return re.compile("^" + "".join(parts.get(p[1:-1], re.escape(p)) if p.startswith("{") else re.escape(p)
                                        for p in pieces) + "$")


async def open_page(browser: Browser, url: str, viewport: dict[str, int]) -> tuple[BrowserContext, Page]:
    context, page = await new_page(browser, viewport)
    watch(page)
    await page.goto(url)
    return context, page


async def scan_and_join(browser: Browser, base: str, code: str) -> tuple[BrowserContext, Page]:
    """A fresh tablet that opens the table's QR link /j/<code>, taps Join and lands at the table."""
    context, page = await open_page(browser, f"{base}/j/{code}", TABLET)
    await expect(page.locator("#code")).to_have_value(code)
    await page.locator("#join-button").click()
    await page.wait_for_url(f"{base}/table")
    await expect(page.locator("#app")).to_be_visible()
    await expect(page.locator("#conn")).to_have_attribute("data-status", "online")
    return context, page


async def shot(page: Page, name: str, *, docs: bool = False) -> None:
    """A full-page screenshot in test-artifacts/screenshots/; with SAMLING_DOCS_SCREENSHOTS=1 also one
    the size of the viewport in docs/screenshots/ for the README."""
    await screenshot(page, f"day-{name}")
    if docs and os.environ.get("SAMLING_DOCS_SCREENSHOTS"):  # refresh the README's pictures on purpose only
        DOCS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"day-{name}-viewport.png"
        await page.screenshot(path=str(path), full_page=False)
        shutil.copyfile(path, DOCS / f"{name}.png")


def card(dash: Page, table: str) -> Locator:
    return dash.locator(f".table-card[data-table='{table}']")


def stat(dash: Page, table: str, what: str) -> Locator:
    return card(dash, table).locator(f"[data-stat={what}] b")


async def add_note(page: Page, text: str) -> None:
    await page.locator("#new-note").fill(text)
    await page.locator("#new-note").press("Enter")
    await expect(page.locator("#new-note")).to_have_value("")


async def dismiss_messages(dash: Page) -> None:
    """Close the dashboard's confirmations, as a facilitator would, so a screenshot shows the page."""
    buttons = dash.locator(".message button")
    while await buttons.count():
        await buttons.first.click()


async def test_a_whole_activity(browser: Browser, hall: dict[str, Any]) -> None:
    server, assembly = hall["server"], hall["assembly"]
    base = server.url
    async with httpx.AsyncClient() as http:
        t = Words((await http.get(f"{base}/i18n/da.json")).raise_for_status().json())
    one, two = assembly["tables"][0], assembly["tables"][1]

    # -- the hall opens: the dashboard on the facilitator's laptop, the display on the projector,
    #    and three tablets that scan their table's QR code
    ctx_dash, dash = await open_page(browser, f"{base}/facilitator#token={assembly['facilitator_token']}", LAPTOP)
    await expect(dash.locator("#conn")).to_have_attribute("data-status", "online")
    _, display = await open_page(browser, f"{base}/display#token={assembly['display_token']}", LAPTOP)
    await expect(display.locator("#stage")).to_have_attribute("data-mode", "prompt")
    _, a = await scan_and_join(browser, base, one["code"])
    _, b = await scan_and_join(browser, base, one["code"])
    ctx_c, c = await scan_and_join(browser, base, two["code"])
    tablets = (a, b, c)
    assert await dash.locator("html").get_attribute("lang") == "da"
    for page in tablets:
        await expect(page.locator(".phase-view.idle")).to_be_visible()
        await expect(page.locator("#table-name")).to_have_text(one["name"] if page is not c else two["name"])

    # -- the facilitator starts an activity (3 dots each); its prompt reaches every tablet and the display
    form = dash.locator("#activity-form")
    await expect(form).to_be_visible()
    await form.locator("textarea[name=prompt]").fill(PROMPT)
    await form.locator("input[name=dots]").fill("3")
    await form.locator("[type=submit]").click()
    await expect(dash.locator("#activity-now")).to_have_text(PROMPT)
    for page in tablets:
        await expect(page.locator("#prompt")).to_have_text(PROMPT)
        await expect(page.locator("#phase")).to_have_attribute("data-phase", "brainstorm")
        await expect(page.locator("#phase")).to_have_text(t("Step {n} of 4: {step}", n=1, step=t("Write ideas")))
    await expect(display.locator(".prompt")).to_have_text(PROMPT)
    await expect(display.locator(".kicker")).to_have_text(t("Brainstorm"))

    # -- brainstorm: A's notes appear on B (same table) and never on C (another table)
    await add_note(a, "Flere træer langs vejene")
    await add_note(a, "Bænke ved søen")
    await add_note(b, "Legeplads ved skolen")
    await add_note(b, "Cykelsti til stranden")
    for page in (a, b):
        await expect(notes(page)).to_have_count(4)
    await expect(notes(b, "Flere træer langs vejene")).to_have_count(1)
    await expect(notes(b, "Flere træer langs vejene").locator(".badge")).to_have_count(0)  # no author shown
    await expect(notes(a, "Flere træer langs vejene").locator(".badge")).to_have_text(t("Your note"))
    await expect(stat(dash, "1", "notes")).to_have_text("4")
    await expect(stat(dash, "2", "notes")).to_have_text("0")
    await expect(notes(c)).to_have_count(0)
    await expect(c.locator(".phase-view.brainstorm .empty")).to_be_visible()
    await shot(a, "tablet-brainstorm", docs=True)

    # -- cluster: the facilitator moves every table; B makes a group and moves notes into it (a tap on
    #    the note and a tap on the group, then a drag); A sees each move
    await dash.locator("#phase-buttons [data-phase=cluster]").click()
    await expect(dash.locator("#phase-buttons [data-phase=cluster]")).to_have_attribute("aria-pressed", "true")
    for page in tablets:
        await expect(page.locator(".phase-view.cluster")).to_be_visible()
    await expect(card(dash, "2").locator(".phase-badge")).to_have_attribute("data-phase", "cluster")
    await b.locator("#new-group").fill("Grønt")
    await b.locator("#new-group").press("Enter")
    await expect(group(a, "Grønt")).to_have_count(1)
    await b.locator(".loose .note", has_text="Bænke ved søen").click()
    await group(b, "Grønt").locator(".target-title").click()
    await expect(group(a, "Grønt").locator(".note", has_text="Bænke ved søen")).to_have_count(1)
    await drag(b, b.locator(".loose .note", has_text="Flere træer"), group(b, "Grønt").locator(".drop"))
    await expect(group(a, "Grønt").locator(".note", has_text="Flere træer langs vejene")).to_have_count(1)
    for page in (a, b):
        await expect(group(page, "Grønt").locator(".note")).to_have_count(2)
        await expect(page.locator(".loose .note")).to_have_count(2)
    await expect(stat(dash, "1", "clusters")).to_have_text("1")
    await shot(a, "tablet-cluster", docs=True)

    # -- a 5-minute timer: the same countdown on the tablets and on the display
    await dash.locator(".timer-presets [data-minutes='5']").click()
    counting = r"(5:00|4:[0-5]\d)"
    await expect(dash.locator("#timer-left")).to_have_text(re.compile(f"^{counting}$"))
    for page in tablets:
        await expect(page.locator("#timer")).to_have_text(t.pattern("{time} left", time=counting))
    await expect(display.locator("#timer")).to_have_text(re.compile(f"^{counting}$"))

    # -- vote: dots obey the budget of 3 and are counted down; a 4th is refused with a message
    await dash.locator("#phase-buttons [data-phase=vote]").click()
    for page in tablets:
        await expect(page.locator(".phase-view.vote")).to_be_visible()
    left = a.locator(".dots-left-number")
    await expect(left).to_have_text("3")
    await expect(a.locator(".vote-target")).to_have_count(3)  # the group and the two loose notes
    for name, n in (("Grønt", "2"), ("Grønt", "1"), ("Legeplads ved skolen", "0")):
        await target(a, name).locator(".give-dot").click()
        await expect(left).to_have_text(n)
    await target(a, "Cykelsti til stranden").locator(".give-dot").click()  # the 4th dot
    problem = a.locator("#problem")
    await expect(problem).to_have_class(re.compile(r"\bshown\b"))  # a toast, not only for screen readers
    await expect(problem.locator(".problem-text")).to_have_text(
        t("You have used all your dots. Remove a dot somewhere if you want to move it."))
    await expect(left).to_have_text("0")
    await expect(target(a, "Cykelsti til stranden").locator(".my-dots")).to_have_text(t("Your dots: {n}", n=0))
    await expect(target(a, "Grønt").locator(".my-dots")).to_have_text(t("Your dots: {n}", n=2))
    await expect(stat(dash, "1", "dots")).to_have_text("3")  # the server holds 3, not 4
    await problem.locator("button").click()
    await expect(problem).not_to_have_class(re.compile(r"\bshown\b"))
    await expect(problem).to_be_empty()
    for name in ("Cykelsti til stranden", "Cykelsti til stranden", "Grønt"):
        await target(b, name).locator(".give-dot").click()
    await expect(b.locator(".dots-left-number")).to_have_text("0")
    await expect(stat(dash, "1", "dots")).to_have_text("6")
    await expect(a.locator(".total")).to_have_count(0)  # totals stay hidden while voting
    await shot(a, "tablet-vote", docs=True)

    # -- A reloads: the same device (the same token, the same welcome.you.device), its dots and notes
    token = await a.evaluate("localStorage.getItem('samling.token.member')")
    device = a.welcomes[-1]["you"]["device"]  # type: ignore[attr-defined]
    seen = len(a.welcomes)  # type: ignore[attr-defined]
    await a.reload()
    await expect(a.locator(".phase-view.vote")).to_be_visible()
    await expect(a.locator("#conn")).to_have_attribute("data-status", "online")
    assert len(a.welcomes) > seen  # type: ignore[attr-defined]
    assert a.welcomes[-1]["you"]["device"] == device  # type: ignore[attr-defined]
    assert await a.evaluate("localStorage.getItem('samling.token.member')") == token
    await expect(a.locator(".dots-left-number")).to_have_text("0")
    await expect(target(a, "Grønt").locator(".my-dots")).to_have_text(t("Your dots: {n}", n=2))
    await expect(target(a, "Legeplads ved skolen").locator(".my-dots")).to_have_text(t("Your dots: {n}", n=1))
    await expect(target(a, "Grønt").locator(".target-note")).to_have_text(
        ["Flere træer langs vejene", "Bænke ved søen"])  # in the order they were written

    # -- table 2 gets more time to write (the dashboard moves that table alone back to brainstorm);
    #    C goes offline, writes two notes that wait, comes back: each note arrives exactly once
    await dash.locator("#phase-target").select_option("2")
    await dash.locator("#phase-buttons [data-phase=brainstorm]").click()
    await expect(c.locator(".phase-view.brainstorm")).to_be_visible()
    await expect(card(dash, "2").locator(".phase-badge")).to_have_attribute("data-phase", "brainstorm")
    await expect(card(dash, "1").locator(".phase-badge")).to_have_attribute("data-phase", "vote")
    await dash.locator("#phase-target").select_option("")
    await ctx_c.set_offline(True)
    await expect(c.locator("#conn")).not_to_have_attribute("data-status", "online")
    await add_note(c, "Skrevet uden net")
    await add_note(c, "Også uden net")
    await expect(c.locator(".note.pending")).to_have_count(2)
    await expect(c.locator(".note.pending .badge.waiting")).to_have_text([t("Waiting to be sent")] * 2)
    await expect(c.locator("#conn-text")).to_contain_text(t("{n} changes waiting", n=2))
    await asyncio.sleep(0.5)
    await expect(stat(dash, "2", "notes")).to_have_text("0")
    await ctx_c.set_offline(False)
    await expect(c.locator("#conn")).to_have_attribute("data-status", "online", timeout=SLOW)
    await expect(c.locator(".note.pending")).to_have_count(0, timeout=SLOW)
    await expect(stat(dash, "2", "notes")).to_have_text("2")
    await asyncio.sleep(1)  # no late copy
    await expect(stat(dash, "2", "notes")).to_have_text("2")
    await expect(notes(c)).to_have_count(2)
    await card(dash, "2").click()
    dialog = dash.locator("#table-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("#td-board .note")).to_have_count(2)
    for text in ("Skrevet uden net", "Også uden net"):
        await expect(dialog.locator("#td-board .note", has_text=text)).to_have_count(1)
    await dialog.locator("#td-close").click()
    await expect(dialog).to_be_hidden()

    # -- table 1 to results, and on the display: its groups and notes ranked, with their dots
    await card(dash, "1").click()
    await expect(dialog.locator("#td-title")).to_have_text(one["name"])
    await dialog.locator("#td-phases [data-phase=results]").click()
    await expect(dialog.locator(".td-results li")).to_have_count(3)
    await dialog.locator("#td-spotlight").click()
    await expect(display.locator("#stage")).to_have_attribute("data-mode", "spotlight")
    await expect(display.locator(".spot-table")).to_have_text(one["name"])
    rows = display.locator(".ranked-row")
    await expect(rows.locator(".ranked-title")).to_have_text(["Grønt", "Cykelsti til stranden",
                                                              "Legeplads ved skolen"])
    await expect(rows.locator(".ranked-dots")).to_have_text([t("{n} dots", n=3), t("{n} dots", n=2), t("1 dot")])
    for page in (a, b):
        await expect(page.locator(".results > .result .result-title")).to_have_text(
            ["Grønt", "Cykelsti til stranden", "Legeplads ved skolen"])
    await expect(c.locator(".phase-view.brainstorm")).to_be_visible()  # table 2 is not moved
    await dialog.locator("#td-close").click()
    await expect(dialog).to_be_hidden()
    await expect(display.locator("#timer")).to_have_text(re.compile(r"^[34]:\d\d$"))  # in the corner
    await shot(display, "display-spotlight", docs=True)

    # -- a plenary poll from the dashboard; three tablets vote (B changes its mind once)
    poll_form = dash.locator("#poll-form")
    await poll_form.locator("textarea[name=question]").fill(QUESTION)
    await poll_form.locator("#option-add").click()
    for i, option in enumerate(["Ja", "Nej", "Ved ikke"]):
        await poll_form.locator(f"input[data-index='{i}']").fill(option)
    await poll_form.locator("[type=submit]").click()
    live = dash.locator(".poll-live")
    await expect(live).to_have_count(1)
    await expect(live.locator(".poll-q")).to_have_text(QUESTION)
    await expect(display.locator("#stage")).to_have_attribute("data-mode", "poll")
    await expect(display.locator(".question")).to_have_text(QUESTION)
    for page in tablets:
        await expect(page.locator("#poll")).to_be_visible()
        await expect(page.locator("#poll-question")).to_have_text(QUESTION)
        await expect(page.locator("#poll .answer .answer-label")).to_have_text(["Ja", "Nej", "Ved ikke"])

    async def vote(page: Page, choice: int) -> None:
        answer = page.locator("#poll .answer").nth(choice)
        await answer.click()
        await expect(answer).to_have_attribute("aria-pressed", "true")
        await expect(page.locator("#poll .poll-status")).to_have_text(
            t("Your vote is registered. You can change it until the poll closes."))

    await vote(a, 0)
    await vote(b, 1)
    await vote(c, 1)
    await expect(display.locator(".bar-count")).to_have_text(["1", "2", "0"])
    await vote(b, 0)  # B changes its vote
    await expect(b.locator("#poll .answer").nth(1)).to_have_attribute("aria-pressed", "false")
    bars = display.locator(".disp-poll .bar-row")
    await expect(bars.locator(".bar-label")).to_have_text(["Ja", "Nej", "Ved ikke"])
    await expect(bars.locator(".bar-count")).to_have_text(["2", "1", "0"])
    await expect(bars.locator(".bar-pct")).to_have_text([re.compile(r"^67\s?%$"), re.compile(r"^33\s?%$"),
                                                         re.compile(r"^0\s?%$")])
    await expect(display.locator(".turnout")).to_have_text(t("{voters} of {present} have voted", voters=3, present=3))
    await expect(live.locator(".bar-count")).to_have_text(["2", "1", "0"])
    await shot(b, "tablet-poll", docs=True)
    await shot(display, "display-poll", docs=True)
    await dismiss_messages(dash)
    await dash.evaluate("window.scrollTo(0, 0)")
    await shot(dash, "dashboard", docs=True)

    # -- the facilitator closes the poll: the final result stays on the display
    await live.locator(".btn-danger").click()
    await expect(live).to_have_count(0)
    final = display.locator(".disp-poll[data-state=final]")
    await expect(final).to_be_visible()
    await expect(display.locator(".kicker")).to_have_text(t("Final result"))
    for page in tablets:
        await expect(page.locator("#poll")).to_be_hidden()
    await asyncio.sleep(1)
    await expect(display.locator("#stage")).to_have_attribute("data-mode", "poll")
    await expect(final.locator(".bar-count")).to_have_text(["2", "1", "0"])
    await expect(final.locator(".bar-pct")).to_have_text([re.compile(r"^67\s?%$"), re.compile(r"^33\s?%$"),
                                                          re.compile(r"^0\s?%$")])
    await expect(dash.locator(".poll-past .bar-count")).to_have_text(["2", "1", "0"])
    await shot(display, "display-poll-final")

    # -- the printable sheet of QR cards, from the dashboard's link (with the facilitator's stored token)
    sheet_errors: list[str] = []
    ctx_dash.on("page", lambda p: p.on("pageerror", lambda e: sheet_errors.append(str(e))))
    async with ctx_dash.expect_page() as opened:
        await dash.locator("#sheet-link").click()
    sheet = await opened.value
    sheet.errors = sheet_errors  # type: ignore[attr-defined]
    watch(sheet)
    await expect(sheet.locator(".sheet-card")).to_have_count(2)
    await expect(sheet.locator(".sheet-card .sheet-code")).to_have_text([one["code"], two["code"]])
    await expect(sheet.locator(".sheet-card img.sheet-qr")).to_have_count(2)
    await expect(sheet.locator("#sheet-error")).to_be_hidden()
    assert f"assembly={assembly['assembly']}" in sheet.url
    await sheet.evaluate("document.getElementById('sheet-cards').scrollIntoView()")  # the cards in the picture
    await shot(sheet, "sheet", docs=True)

    for page in (*tablets, dash, display, sheet):
        assert page.errors == [], (page.url, page.errors)  # type: ignore[attr-defined]
        assert page.dialogs == [], (page.url, page.dialogs)  # type: ignore[attr-defined]
