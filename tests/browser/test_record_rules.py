"""Every adoption rule, end to end, in real Chromium: six members checked in vote on a slate of
five recommendations (one per rule: simple majority, two-thirds, 80 %, consent, gradients of
agreement), paper ballots join one of them, and the report page shows for each the verdict and
the figures that `rooms.adoption` computes from exactly the ballots cast. The display shows the
vote live while it is open.

With SAMLING_DOCS_SCREENSHOTS=1 the display during the vote goes to docs/screenshots/display-adoption.png and
the report's recommendations to docs/screenshots/report-votes.png.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from browser.conftest import LAPTOP, SCREENSHOTS, new_page, screenshot, watch
from playwright.async_api import Browser, expect
from support.client import Device, join
from support.processes import REPO_ROOT

from rooms import adoption

DOCS = REPO_ROOT / "docs" / "screenshots"

# rule args, the title, the six members' choices (index into adoption.options; None: no vote), a
# reason for an objection/veto by index, paper ballots, the verdict in Danish
VOTES: list[dict[str, Any]] = [
    {"rule": {"rule": "majority"}, "title": "Natbus i weekenden", "choices": [0, 0, 0, 1, 2, 2]},
    {"rule": {"rule": "two_thirds"}, "title": "Gratis bus for unge", "choices": [0, 0, 1, 1, 0, 2]},
    {"rule": {"rule": "threshold", "threshold": 80}, "title": "Lys på cykelstierne", "choices": [0, 0, 0, 0, 1, 2],
     "paper": {"counts": [2, 0, 0], "paper_voters": 2}},
    {"rule": {"rule": "consent"}, "title": "Bilfri bymidte", "choices": [0, 0, 0, 0, 2, 1],
     "reasons": {5: "Butikkerne mister kunder"}},
    {"rule": {"rule": "gradients"}, "title": "Flere bænke i parken", "choices": [0, 1, 2, 3, 0, 7]},
]


def danish_percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}".replace(".", ",") + " %"


async def test_each_rule_decides_and_the_report_shows_the_figures_of_the_ballots_cast(
        browser: Browser, hall: dict[str, Any]) -> None:
    """The report's verdict and for/against/abstain/turnout per recommendation equal
    `adoption.outcome` of the ballots cast (paper included) under its rule."""
    server, assembly = hall["server"], hall["assembly"]
    fac = await Device.connect(server.ws_url, assembly["facilitator_token"])
    members = []
    for i in range(6):
        joined = await join(server.url, assembly["tables"][i % 2]["code"])
        members.append(await Device.connect(server.ws_url, joined["token"]))
    await fac.ok("day.open", {"day": "d1", "label": "Søndag"}, room="hall")
    for m in members:
        await m.ok("day.checkin", {}, room="hall")
    for n, vote in enumerate(VOTES):
        await fac.ok("recommendation.add", {"recommendation": f"r{n}", "title": vote["title"],
                                            "text": f"{vote['title']}: kommunen gør det fra næste år."}, room="hall")
        await fac.ok("poll.open", {"poll": f"p{n}", "kind": "adoption", "recommendation": f"r{n}", "slate": "s1",
                                   **vote["rule"]}, room="hall")

    _, display = await new_page(browser, LAPTOP)
    watch(display)
    await display.goto(f"{server.url}/display#token={assembly['display_token']}")
    for n, vote in enumerate(VOTES):
        for i, (m, choice) in enumerate(zip(members, vote["choices"], strict=True)):
            args: dict[str, Any] = {"poll": f"p{n}", "choice": choice}
            if i in vote.get("reasons", {}):
                args["reason"] = vote["reasons"][i]
            await m.ok("vote.cast", args, room="hall")
        if "paper" in vote:
            await fac.ok("poll.paper", {"poll": f"p{n}", **vote["paper"]}, room="hall")
    await expect(display.locator("body")).to_contain_text(VOTES[-1]["title"])  # the slate's latest vote
    await expect(display.locator("body")).to_contain_text("6 af 6 til stede har stemt")
    await screenshot(display, "display-adoption")
    if os.environ.get("SAMLING_DOCS_SCREENSHOTS"):
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SCREENSHOTS / "display-adoption.png", DOCS / "display-adoption.png")

    for n in range(len(VOTES)):
        await fac.ok("poll.close", {"poll": f"p{n}"}, room="hall")
    finals = set()
    while len(finals) < len(VOTES):
        f = await fac.next(lambda f: f.get("op") == "poll.tally" and f["data"].get("final"), timeout=10)
        finals.add(f["data"]["poll"])

    _, page = await new_page(browser, LAPTOP)
    watch(page)
    await page.goto(f"{server.url}/facilitator/report?assembly={assembly['assembly']}"
                    f"#token={assembly['facilitator_token']}")
    await expect(page.locator("#report")).to_be_visible()
    adopted_seen = []
    for vote in VOTES:
        rule = adoption.parse_rule(vote["rule"])
        counts = [0] * len(adoption.options(rule))
        for choice in vote["choices"]:
            counts[choice] += 1
        paper = vote.get("paper", {}).get("counts")
        result = adoption.outcome(rule, counts, len(members), paper)
        rec = page.locator(".report-rec").filter(has=page.locator("h3", has_text=vote["title"]))
        verdict = rec.locator(".report-verdict")
        await expect(verdict).to_have_class(f"report-verdict {'adopted' if result.adopted else 'rejected'}")
        await expect(verdict).to_contain_text("Vedtaget" if result.adopted else "Ikke vedtaget")
        dd = rec.locator(".report-support dd")
        await expect(dd.nth(0)).to_have_text(f"{result.for_} ({danish_percent(result.for_percent)})")
        await expect(dd.nth(1)).to_have_text(f"{result.against} ({danish_percent(result.against_percent)})")
        await expect(dd.nth(2)).to_have_text(f"{result.abstain} ({danish_percent(result.abstain_percent)})")
        await expect(dd.nth(3)).to_have_text(
            f"{result.cast} af {result.present} til stede ({danish_percent(result.turnout_percent)})")
        for reason in vote.get("reasons", {}).values():
            await expect(rec).to_contain_text(reason)
        adopted_seen.append(result.adopted)
    assert adopted_seen == [True, False, True, False, True]  # the rules really decided differently
    await screenshot(page, "report-rules")
    if os.environ.get("SAMLING_DOCS_SCREENSHOTS"):  # the recommendations part of the report, for the README
        await page.locator(".report-rec").nth(3).scroll_into_view_if_needed()
        await page.locator(".report-rec").first.scroll_into_view_if_needed()
        await page.screenshot(path=str(DOCS / "report-votes.png"), full_page=False)
    assert page.errors == [] and display.errors == []  # type: ignore[attr-defined]
