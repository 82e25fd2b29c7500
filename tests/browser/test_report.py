"""The print-ready report in real Chromium: a small assembly runs over the protocol (two tables'
groups in one theme, a recommendation adopted under two-thirds by 3 digital votes and 3 paper
ballots), then the facilitator's link opens /facilitator/report, in Danish, the default.

With SAMLING_DOCS_SCREENSHOTS=1 its picture for the README goes to docs/screenshots/report.png.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from browser.conftest import LAPTOP, SCREENSHOTS, new_page, screenshot, serious_problems, watch
from playwright.async_api import Browser, expect
from support.client import Device, join
from support.processes import REPO_ROOT
from support.record import table_at_results

DOCS = REPO_ROOT / "docs" / "screenshots"


async def seat(server: Any, table: dict[str, Any], host: bool = False) -> Device:
    joined = await join(server.url, table["host_code"] if host else table["code"], "Mette Hansen")
    return await Device.connect(server.ws_url, joined["token"])


async def run_assembly(server: Any, assembly: dict[str, Any]) -> None:
    one, two = assembly["tables"]
    fac = await Device.connect(server.ws_url, assembly["facilitator_token"])
    await fac.ok("activity.start", {"activity": "a1", "prompt": "Hvad skal byen gøre?"}, room="hall")
    host1, host2 = await seat(server, one, host=True), await seat(server, two, host=True)
    await table_at_results(fac, host1, "Flere busser", ["Natbus i weekenden", "Billigere månedskort"], 3)
    await table_at_results(fac, host2, "Sikre cykelstier", ["Cykelsti langs åen", "Lys på stierne"], 2)
    await fac.ok("card.send", {"card": "c1", "table": one["id"], "cluster": "k1"}, room="hall")
    await fac.ok("card.send", {"card": "c2", "table": two["id"], "cluster": "k1"}, room="hall")
    await fac.ok("theme.add", {"theme": "th1", "title": "Transport"}, room="hall")
    for card in ("c1", "c2"):
        await fac.ok("card.move", {"card": card, "theme": "th1"}, room="hall")
    await fac.ok("day.open", {"day": "d1", "label": "Lørdag 14. november"}, room="hall")
    members = [await seat(server, assembly["tables"][i % 2]) for i in range(3)]
    for m in members:
        await m.ok("day.checkin", {}, room="hall")
    await host1.ok("recommendation.add", {
        "recommendation": "r1", "title": "Bedre kollektiv trafik", "theme": "th1",
        "text": "Kommunen indfører natbus i weekenden og et billigere månedskort.\n\n"
                "Cykelstierne langs åen får lys."}, room="hall")
    await fac.ok("poll.open", {"poll": "p1", "kind": "adoption", "recommendation": "r1", "rule": "two_thirds"},
                 room="hall")
    for m, choice in zip(members, (0, 0, 1), strict=True):
        await m.ok("vote.cast", {"poll": "p1", "choice": choice}, room="hall")
    await fac.ok("poll.paper", {"poll": "p1", "counts": [2, 0, 1], "paper_voters": 3}, room="hall")
    await fac.ok("poll.close", {"poll": "p1"}, room="hall")
    await fac.next(lambda f: f.get("op") == "poll.tally" and f["data"].get("final"), timeout=5)


async def test_the_report_shows_the_adopted_recommendation_with_its_support(browser: Browser,
                                                                           hall: dict[str, Any]) -> None:
    """The facilitator's link opens the report in Danish: the title page with the day and 3
    present, the theme with both tables, the recommendation marked Vedtaget with 80,0 % for,
    20,0 % against, 16,7 % abstaining and 100,0 % turnout, and the trail; no name anywhere."""
    server, assembly = hall["server"], hall["assembly"]
    await run_assembly(server, assembly)
    _, page = await new_page(browser, LAPTOP)
    watch(page)
    await page.goto(f"{server.url}/facilitator/report?assembly={assembly['assembly']}"
                    f"#token={assembly['facilitator_token']}")
    report = page.locator("#report")
    await expect(report).to_be_visible()
    assert "token=" not in page.url  # the token left the address bar, so it is not printed
    await expect(page.locator("#report-name")).to_have_text("Browsersamling")
    await expect(page.locator("#report-days tbody tr")).to_have_count(1)
    await expect(page.locator("#report-days tbody td").nth(2)).to_have_text("3")
    theme = page.locator(".report-theme")
    await expect(theme.locator("h3")).to_have_text("Transport")
    await expect(theme).to_contain_text("Bord 1, Bord 2")
    rec = page.locator(".report-rec")
    await expect(rec.locator("h3")).to_have_text("Bedre kollektiv trafik")
    await expect(rec.locator(".report-verdict")).to_contain_text("Vedtaget")
    await expect(rec.locator(".report-verdict")).to_have_class("report-verdict adopted")
    support = rec.locator(".report-support dd")
    await expect(support).to_have_text(["4 (80,0 %)", "1 (20,0 %)", "1 (16,7 %)", "6 af 6 til stede (100,0 %)",
                                        "To tredjedeles flertal"])
    await expect(rec.locator(".report-rec-text p")).to_have_count(2)
    await expect(rec).to_contain_text("Mindretalsudtalelser")
    trail = page.locator("#report-trail tbody tr")
    await expect(trail).to_have_count(2)
    await expect(trail.nth(0)).to_contain_text("Natbus i weekenden")
    await expect(trail.nth(0)).to_contain_text("Vedtaget (80,0 % for)")
    await expect(page.get_by_role("button", name="Udskriv / gem som PDF")).to_be_visible()
    assert "Mette" not in await page.content()
    assert await serious_problems(page) == []

    # The button prints; in print the tools are gone and the title page stands alone.
    await page.evaluate("window.print = () => { document.body.dataset.printed = 'yes'; }")
    await page.get_by_role("button", name="Udskriv / gem som PDF").click()
    await expect(page.locator("body")).to_have_attribute("data-printed", "yes")
    await page.emulate_media(media="print")
    await expect(page.locator(".report-tools")).to_be_hidden()
    await screenshot(page, "report-print")
    await page.emulate_media(media="screen")
    assert page.errors == [] and page.dialogs == []  # type: ignore[attr-defined]

    await screenshot(page, "report")
    if os.environ.get("SAMLING_DOCS_SCREENSHOTS"):  # refresh the README's picture on purpose only
        DOCS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / "report-viewport.png"
        await page.screenshot(path=str(path), full_page=False)
        shutil.copyfile(path, DOCS / "report.png")


async def test_the_report_without_the_facilitators_link_says_so(browser: Browser, hall: dict[str, Any]) -> None:
    """Opened without a token, or with one that is not this assembly's facilitator's, the page
    says what to do instead, in Danish, and shows no report."""
    server, assembly = hall["server"], hall["assembly"]
    _, page = await new_page(browser, LAPTOP)
    watch(page)
    await page.goto(f"{server.url}/facilitator/report")
    await expect(page.locator("#report-error")).to_contain_text("facilitatorens link")
    display = assembly["display_token"]
    await page.goto(f"{server.url}/facilitator/report?assembly={assembly['assembly']}#token={display}")
    await expect(page.locator("#report-error")).to_contain_text("giver ikke adgang")
    await expect(page.locator("#report")).to_be_hidden()
