"""The assembly's record for its report: every table's boards, the hall's synthesis board, the
recommendations with every version, every poll's tally and every adoption vote's result, and
the days with how many were present. Three forms of the same record: JSON (`assembly_export`),
a zip of CSV files (`csv_zip`) and Markdown (`markdown`); the report page renders the JSON.

Built from the rooms' state, as the facilitator sees it: notes without authors, dot totals
without who placed them, polls as tallies only, recommendations by role and table, days as
numbers. No ballot, no name and no device id ever leaves here.

An adoption vote's minority statements are the reasons of the objections (consent) or vetoes
(gradients) standing at its close: kept with their ballots in the ballot box, read out sorted by
the final tally (`result.minority_statements`), so they carry no device, no table and no order of
casting.
"""

from __future__ import annotations

import csv
import io
import re
import time
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rooms import attendance as att
from rooms import recommendations as recs
from rooms import synthesis as syn
from rooms.hall import ADOPTION, HallState
from rooms.room import HALL, table_room
from rooms.table import board_view

from .hub import Hub

Record = dict[str, Any]
Gettext = Callable[[str], str]


async def assembly_export(hub: Hub, assembly: str) -> Record | None:
    """The whole record of `assembly` as JSON-ready data, or None for an unknown assembly."""
    record = await hub.assembly(assembly)
    if record is None:
        return None
    hall: HallState = (await hub.live(assembly, HALL)).model.hall
    tables = []
    for t in record["tables"]:
        state = (await hub.live(assembly, table_room(t["id"]))).model.table
        boards = list(state.past.values()) + ([state.board] if state.board is not None else [])
        activities = []
        for board in boards:
            view = board_view(board, None, state.phase, full=True)
            for note in view["notes"]:
                note.pop("mine", None)
            activities.append(view)
        tables.append({"id": t["id"], "name": t["name"], "phase": str(state.phase), "activities": activities})
    names = {t["id"]: t["name"] for t in record["tables"]}
    paper = _paper_ballots(hall)
    by_poll: dict[str, list[Record]] = {}
    for entry in paper:
        by_poll.setdefault(entry["poll"], []).append(entry)
    polls = [_poll(p.view(), by_poll.get(p.id, [])) for p in hall.polls.values()]
    recommendations = _recommendations(hall, polls)
    synthesis = _synthesis(hall, names)
    return {
        "assembly": assembly, "name": record["name"], "created_at": record.get("created_at"),
        "exported_at": int(time.time() * 1000), "members": await hub.store.members(assembly),
        "activities": list(hall.activities.values()), "tables": tables,
        "polls": polls,
        "synthesis": synthesis,
        "recommendations": recommendations,
        "days": att.view(hall.attendance)["days"],
        "paper_ballots": paper,
        "trail": _trail(synthesis, recommendations, polls),
    }


# -- the hall's record ----------------------------------------------------------------------------

def _paper_ballots(hall: HallState) -> list[Record]:
    """Every paper entry in order, corrections included (the audit), without who typed it in.
    `current` is false for an entry a later one for the same poll replaced."""
    entries = att.audit(hall.attendance)
    last = {e["poll"]: i for i, e in enumerate(entries)}
    return [{"poll": e["poll"], "counts": e["counts"], "paper_voters": e["paper_voters"], "at": e["at"],
             "current": last[e["poll"]] == i} for i, e in enumerate(entries)]


def _poll(view: Record, paper: list[Record]) -> Record:
    """A poll as the hall shows it; an adoption vote adds its `paper` entries and its minority
    statements (empty until its final tally)."""
    if view["kind"] != ADOPTION:
        return view
    statements = list((view.get("result") or {}).get("minority_statements") or [])
    return {**view, "paper": paper, "minority_statements": statements}


def _recommendations(hall: HallState, polls: list[Record]) -> list[Record]:
    """Each recommendation with every version (by role and table, never by device), the adoption
    votes on it in order, and the last closed one's result (`final_vote`, `result`)."""
    out = []
    for rec in recs.view(hall.recommendations)["recommendations"]:
        votes = [p for p in polls if p["kind"] == ADOPTION and p.get("recommendation") == rec["recommendation"]]
        closed = [p for p in votes if not p["open"] and p.get("result") is not None]
        final = closed[-1] if closed else None
        out.append({**rec, "votes": [p["poll"] for p in votes],
                    "final_vote": None if final is None else final["poll"],
                    "result": None if final is None else final["result"]})
    return out


def _synthesis(hall: HallState, names: Mapping[str, str]) -> Record:
    """The board: cards with their provenance (table and its name, activity, cluster), themes
    with their cards and the tables that fed them, the unsorted cards."""
    view = syn.view(hall.synthesis)
    cards = [{**k, "table_name": names.get(k["table"], k["table"])} for k in view["cards"]]
    themes = [{**t, "table_names": [names.get(x, x) for x in t["tables"]]} for t in view["themes"]]
    return {"cards": cards, "themes": themes, "unsorted": view["unsorted"], "duplicates": view["duplicates"]}


def _vote_summary(poll: Record) -> Record:
    result = poll.get("result") or {}
    return {"poll": poll["poll"], "open": poll["open"], "rule": poll.get("rule"),
            **{k: result.get(k) for k in ("adopted", "reason", "for_percent", "against_percent",
                                          "abstain_percent", "turnout_percent")}}


def _trail(synthesis: Record, recommendations: list[Record], polls: list[Record]) -> list[Record]:
    """From the notes to the votes, theme by theme: each theme's cards (a table's cluster with its
    note texts and dots), the recommendations grown from it, and the votes on each. Cards not in
    a theme and recommendations of no (or a removed) theme come last, under `theme: None`."""
    by_poll = {p["poll"]: p for p in polls}
    themes = {t["theme"]: t for t in synthesis["themes"]}
    cards = {k["card"]: k for k in synthesis["cards"]}

    def card(k: Record) -> Record:
        return {x: k[x] for x in ("card", "table", "table_name", "activity", "cluster", "title", "notes", "dots")}

    def rec(r: Record) -> Record:
        return {"recommendation": r["recommendation"], "title": r["title"], "withdrawn": r["withdrawn"],
                "adopted": r["adopted"] is not None, "votes": [_vote_summary(by_poll[p]) for p in r["votes"]]}

    trail = [{"theme": t["theme"], "title": t["title"], "table_names": t["table_names"],
              "cards": [card(cards[k]) for k in t["cards"]],
              "recommendations": [rec(r) for r in recommendations if r["theme"] == t["theme"]]}
             for t in synthesis["themes"]]
    loose = {"theme": None, "title": None, "table_names": [],
             "cards": [card(cards[k]) for k in synthesis["unsorted"]],
             "recommendations": [rec(r) for r in recommendations if r["theme"] not in themes]}
    if loose["cards"] or loose["recommendations"]:
        trail.append(loose)
    return trail


# -- CSV ------------------------------------------------------------------------------------------

def iso(ms: int | None) -> str:
    """ms since the epoch as ISO 8601 in UTC ("2026-11-28T12:42:00Z"); "" for none."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """UTF-8 with a byte order mark, so Excel reads æ, ø and å right; CRLF line ends."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _notes_rows(data: Record) -> Iterable[list[Any]]:
    for t in data["tables"]:
        for a in t["activities"]:
            titles = {k["cluster"]: k["title"] for k in a["clusters"]}
            totals = a.get("totals", {})
            for n in a["notes"]:
                k = n["cluster"]
                yield [t["id"], t["name"], a["activity"], n["note"], n["text"], k, titles.get(k, "") if k else "",
                       totals.get(k, 0) if k else "", totals.get(n["note"], 0)]


def _clusters_rows(data: Record) -> Iterable[list[Any]]:
    for t in data["tables"]:
        for a in t["activities"]:
            totals = a.get("totals", {})
            rank = {r["target"]: i + 1 for i, r in enumerate(a.get("results", []))}
            for k in a["clusters"]:
                notes = [n["text"] for n in a["notes"] if n["cluster"] == k["cluster"]]
                yield [t["id"], t["name"], a["activity"], k["cluster"], k["title"], len(notes),
                       totals.get(k["cluster"], 0), rank.get(k["cluster"], "")]


def _options_counts(options: Sequence[str], counts: Sequence[int] | None) -> str:
    if counts is None:
        return ""
    return "; ".join(f"{o}: {n}" for o, n in zip(options, counts, strict=False))


def csv_files(data: Record) -> dict[str, bytes]:
    """The record as one CSV file per kind, by file name."""
    themes = {t["theme"]: t for t in data["synthesis"]["themes"]}
    polls = data["polls"]
    by_id = {p["poll"]: p for p in polls}
    adoption = [p for p in polls if p["kind"] == ADOPTION]
    rec_titles = {r["recommendation"]: r["title"] for r in data["recommendations"]}
    return {
        "notes.csv": _csv(["table", "table_name", "activity", "note", "text", "cluster", "cluster_title",
                           "cluster_dots", "note_dots"], _notes_rows(data)),
        "clusters.csv": _csv(["table", "table_name", "activity", "cluster", "title", "notes", "dots", "rank"],
                             _clusters_rows(data)),
        "cards.csv": _csv(
            ["card", "table", "table_name", "activity", "cluster", "title", "notes", "dots", "theme", "theme_title"],
            ([k["card"], k["table"], k["table_name"], k["activity"], k["cluster"], k["title"], " | ".join(k["notes"]),
              k["dots"], k["theme"], themes[k["theme"]]["title"] if k["theme"] in themes else ""]
             for k in data["synthesis"]["cards"])),
        "themes.csv": _csv(
            ["theme", "title", "cards", "card_titles", "tables", "dots"],
            ([t["theme"], t["title"], len(t["cards"]),
              " | ".join(k["title"] for k in data["synthesis"]["cards"] if k["theme"] == t["theme"]),
              "; ".join(t["table_names"]), t["dots"]] for t in data["synthesis"]["themes"])),
        "recommendations.csv": _csv(
            ["recommendation", "title", "text", "theme", "theme_title", "table", "versions", "changed_at",
             "changed_by_role", "changed_by_table", "withdrawn", "adopted", "final_vote"],
            ([r["recommendation"], r["title"], r["text"], r["theme"],
              themes[r["theme"]]["title"] if r["theme"] in themes else "", r["table"], len(r["versions"]),
              iso(r["versions"][-1]["at"]), r["versions"][-1]["by"]["role"], r["versions"][-1]["by"]["table"],
              r["withdrawn"], r["adopted"] is not None, r["final_vote"]] for r in data["recommendations"])),
        "recommendation_versions.csv": _csv(
            ["recommendation", "version", "title", "text", "at", "by_role", "by_table"],
            ([r["recommendation"], i + 1, v["title"], v["text"], iso(v["at"]), v["by"]["role"], v["by"]["table"]]
             for r in data["recommendations"] for i, v in enumerate(r["versions"]))),
        "polls.csv": _csv(
            ["poll", "question", "kind", "options", "open", "hidden", "voters", "present", "counts",
             "recommendation"],
            ([p["poll"], p["question"], p["kind"], " | ".join(p["options"]), p["open"], p["hidden"], p["voters"],
              p["present"], _options_counts(p["options"], p["counts"]), p.get("recommendation")] for p in polls)),
        "votes.csv": _csv(
            ["poll", "recommendation", "title", "rule", "threshold", "quorum", "quorum_percent", "open", "for",
             "against", "abstain", "objections", "cast", "present", "turnout_percent", "for_percent",
             "against_percent", "abstain_percent", "quorum_met", "adopted", "reason", "paper_voters"],
            (_vote_row(p, rec_titles) for p in adoption)),
        "days.csv": _csv(["day", "label", "opened_at", "closed_at", "present"],
                         ([d["day"], d["label"], iso(d["opened_at"]), iso(d["closed_at"]), d["present"]]
                          for d in data["days"])),
        "paper_ballots.csv": _csv(
            ["poll", "question", "counts", "paper_voters", "at", "current"],
            ([e["poll"], by_id[e["poll"]]["question"] if e["poll"] in by_id else "",
              _options_counts(by_id[e["poll"]]["options"] if e["poll"] in by_id else [], e["counts"]),
              e["paper_voters"], iso(e["at"]), e["current"]] for e in data["paper_ballots"])),
    }


def _vote_row(p: Record, titles: Mapping[str, str]) -> list[Any]:
    rule = p.get("rule") or {}
    r = p.get("result") or {}
    paper = next((e for e in reversed(p.get("paper", [])) if e["current"]), None)
    return [p["poll"], p.get("recommendation"), titles.get(p.get("recommendation") or "", p["question"]),
            rule.get("rule"), rule.get("threshold"), rule.get("quorum"), rule.get("quorum_percent"), p["open"],
            *(r.get(k) for k in ("for", "against", "abstain", "objections", "cast", "present", "turnout_percent",
                                 "for_percent", "against_percent", "abstain_percent", "quorum_met", "adopted",
                                 "reason")),
            0 if paper is None else paper["paper_voters"]]


def csv_zip(data: Record) -> bytes:
    """The CSV files in one zip, in the order `csv_files` lists them."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, content in csv_files(data).items():
            z.writestr(name, content)
    return out.getvalue()


# -- Markdown -------------------------------------------------------------------------------------

_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|#"})


def md(text: Any) -> str:
    """Text written by people, safe inside a Markdown line or table cell: its markup characters
    escaped, its line breaks made spaces."""
    return " ".join(str(text).translate(_MD_SPECIAL).split())


def _md_block(text: str) -> str:
    """A text of several paragraphs (a recommendation), escaped line by line; a line that would
    start a list or a quote does not."""
    lines = []
    for line in text.splitlines():
        line = line.strip().translate(_MD_SPECIAL)
        if line[:1] in ("-", "+", "="):
            line = "\\" + line
        lines.append(re.sub(r"^(\d+)([.)])", r"\1\\\2", line))
    return "\n".join(lines)


def _pct(value: float | None, lang: str) -> str:
    if value is None:
        return "–"
    text = f"{value:.1f}"
    return (text.replace(".", ",") if lang == "da" else text) + " %"


def _date(ms: int | None) -> str:
    return "" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def rule_name(_: Gettext, rule: Mapping[str, Any] | None) -> str:
    """An adoption rule in words, with its threshold and quorum."""
    if not rule:
        return ""
    names = {"majority": _("Simple majority"), "two_thirds": _("Two-thirds majority"),
             "threshold": _("Threshold"), "consent": _("Consent (no objections)"),
             "gradients": _("Gradients of agreement")}
    text = names.get(rule.get("rule", ""), str(rule.get("rule")))
    if rule.get("threshold") is not None:
        text += f" ({rule['threshold']} %)"
    if rule.get("quorum") is not None:
        text += ", " + _("quorum: {n} ballots").format(n=rule["quorum"])
    if rule.get("quorum_percent") is not None:
        text += ", " + _("quorum: {n} % turnout").format(n=rule["quorum_percent"])
    return text


def reason_name(_: Gettext, reason: str | None) -> str:
    names = {"no_quorum": _("the quorum was not met"), "no_votes": _("no votes were cast"),
             "all_abstained": _("everyone abstained"), "majority_for": _("a majority for"),
             "majority_against": _("a majority against"), "tie": _("a tie"),
             "threshold_met": _("the threshold was met"), "below_threshold": _("below the threshold"),
             "consent": _("no one objected"), "objection": _("an objection"), "veto": _("a veto")}
    return names.get(reason or "", reason or "")


def role_name(_: Gettext, by: Mapping[str, Any], tables: Mapping[str, str]) -> str:
    if by.get("role") == "facilitator":
        return _("the facilitator")
    table = by.get("table")
    return tables.get(table, str(table)) if table is not None else str(by.get("role"))


def _row(*cells: Any) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def markdown(data: Record, _: Gettext, lang: str = "da") -> str:
    """The report as Markdown, in the language of `_` (the catalogue's gettext)."""
    tables = {t["id"]: t["name"] for t in data["tables"]}
    polls = {p["poll"]: p for p in data["polls"]}
    out = ["# " + md(data["name"]), "", _("Report of the citizens' assembly"), "",
           _("Exported {when}").format(when=_date(data["exported_at"])), ""]
    out += _md_days(data, _)
    out += _md_themes(data, _)
    out += ["## " + _("Recommendations"), ""]
    if not data["recommendations"]:
        out += [_("No recommendations."), ""]
    for r in data["recommendations"]:
        out += _md_recommendation(r, polls, tables, _, lang)
    others = [p for p in data["polls"] if p["kind"] != ADOPTION]
    if others:
        out += ["## " + _("Other polls"), ""]
        for p in others:
            out += ["### " + md(p["question"]), ""]
            counts = p["counts"] or [None] * len(p["options"])
            out += [f"- {md(o)}: {'–' if n is None else n}" for o, n in zip(p["options"], counts, strict=False)]
            out += ["", _("Votes: {voters} of {present} present").format(voters=p["voters"], present=p["present"]), ""]
    out += _md_trail(data, _, lang)
    return "\n".join(out).rstrip() + "\n"


def _md_days(data: Record, _: Gettext) -> list[str]:
    if not data["days"]:
        return []
    out = ["## " + _("Days"), "", _row(_("Day"), _("Date"), _("Members present")), "| --- | --- | ---: |"]
    out += [_row(md(d["label"]), _date(d["opened_at"]), d["present"]) for d in data["days"]]
    return [*out, ""]


def _md_themes(data: Record, _: Gettext) -> list[str]:
    out = ["## " + _("Themes"), ""]
    cards = {k["card"]: k for k in data["synthesis"]["cards"]}
    if not data["synthesis"]["themes"]:
        out += [_("No themes."), ""]
    for t in data["synthesis"]["themes"]:
        out += ["### " + (md(t["title"]) or _("(untitled theme)")), "",
                _("Tables: {tables}").format(tables=", ".join(md(x) for x in t["table_names"]) or "–"), ""]
        out += [f"- {md(cards[k]['title'])} ({md(cards[k]['table_name'])})" for k in t["cards"]]
        out.append("")
    return out


def _md_recommendation(r: Record, polls: Mapping[str, Record], tables: Mapping[str, str], _: Gettext,
                       lang: str) -> list[str]:
    out = ["### " + md(r["title"]), "", _md_block(r["text"]), ""]
    last = r["versions"][-1]
    out.append(_("Version {n}, {when}, by {who}.").format(n=len(r["versions"]), when=_date(last["at"]),
                                                          who=role_name(_, last["by"], tables)))
    out.append("")
    if r["withdrawn"]:
        out += ["**" + _("Withdrawn") + "**", ""]
    if r["final_vote"] is None:
        out += [_("Not voted on."), ""]
        return out
    poll = polls[r["final_vote"]]
    res = r["result"]
    verdict = _("Adopted") if res["adopted"] else _("Not adopted")
    turnout = _("{cast} of {present} present").format(cast=res["cast"], present=res["present"])
    out += [f"**{verdict}** ({reason_name(_, res['reason'])})", "",
            f"- {_rule_label(_)}: {rule_name(_, poll.get('rule'))}",
            f"- {_for(_)}: {res['for']} ({_pct(res['for_percent'], lang)})",
            f"- {_against(_)}: {res['against']} ({_pct(res['against_percent'], lang)})",
            f"- {_abstaining(_)}: {res['abstain']} ({_pct(res['abstain_percent'], lang)})",
            f"- {_turnout(_)}: {turnout} ({_pct(res['turnout_percent'], lang)})", "",
            "#### " + _("Minority statements"), ""]
    for statement in poll.get("minority_statements") or []:
        out += ["> " + md(statement), ""]
    if not poll.get("minority_statements"):
        out += [_("None."), ""]
    return out


# Labels used inside f-strings above: Babel does not extract _() calls written inside an f-string.
def _rule_label(_: Gettext) -> str:
    return _("Rule")


def _for(_: Gettext) -> str:
    return _("For")


def _against(_: Gettext) -> str:
    return _("Against")


def _abstaining(_: Gettext) -> str:
    return _("Abstaining")


def _turnout(_: Gettext) -> str:
    return _("Turnout")


def _md_trail(data: Record, _: Gettext, lang: str) -> list[str]:
    out = ["## " + _("From notes to votes"), "",
           _row(_("Table"), _("Group"), _("Notes"), _("Dots"), _("Theme"), _("Recommendation"), _("Adoption vote")),
           "| --- | --- | --- | ---: | --- | --- | --- |"]
    for step in data["trail"]:
        theme = md(step["title"]) if step["theme"] is not None else _("(no theme)")
        recs_text = "; ".join(md(r["title"]) for r in step["recommendations"]) or "–"
        votes = "; ".join(_md_vote(v, _, lang) for r in step["recommendations"] for v in r["votes"]) or "–"
        for k in step["cards"] or [None]:
            if k is None:
                out.append(_row("–", "–", "–", "–", theme, recs_text, votes))
            else:
                notes = "; ".join(md(n) for n in k["notes"]) or "–"
                out.append(_row(md(k["table_name"]), md(k["title"]), notes, k["dots"], theme, recs_text, votes))
    return [*out, ""]


def _md_vote(v: Record, _: Gettext, lang: str) -> str:
    if v["open"] or v["adopted"] is None:
        return _("open")
    verdict = _("Adopted") if v["adopted"] else _("Not adopted")
    share = _("{percent} for").format(percent=_pct(v["for_percent"], lang))
    return f"{verdict} ({share})"
