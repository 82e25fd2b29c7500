// The display's parts of the record: the hall's themes as they form (large tiles, the unsorted
// cards small at the side), and an adoption vote (the recommendation, live turnout of those
// present, bars unless hidden; after the close the verdict, big). Never a name: only counts.
import { t } from "../i18n.js";
import { bar, h, num, pollBars } from "../dashboard/common.js";
import { optionLabel, percentText, reasonText } from "../tablet/adoption.js";
import { recommendationOf } from "../tablet/record-state.js";

const TILES = 12;
const UNSORTED = 8;

/** Whether the hall's board has anything to show: a theme or a card. */
export function hasBoard(hall) {
  const s = hall.synthesis;
  return !!s && (s.themes.length > 0 || s.cards.length > 0);
}

function tableNames(hall, ids) {
  const names = new Map((hall.tables || []).map((x) => [x.id, x.name]));
  return ids.map((id) => names.get(id) || t("Table {id}", { id })).join(", ");
}

/** The hall's themes as tiles: title, cards, the tables that fed it, total dots. */
export function drawThemes(hall) {
  const s = hall.synthesis;
  const cards = new Map(s.cards.map((k) => [k.card, k]));
  const themes = s.themes.slice(0, TILES);
  const unsorted = s.unsorted.map((id) => cards.get(id)).filter(Boolean);
  const tiles = themes.length
    ? h("ul", { class: "themes", "data-count": themes.length,
      "data-density": themes.length <= 4 ? "few" : themes.length <= 9 ? "some" : "many" },
      themes.map((th) => h("li", { class: "theme" },
        h("p", { class: "theme-title" }, th.title || t("Untitled theme")),
        h("p", { class: "theme-facts" },
          h("span", { class: "theme-cards" }, th.cards.length === 1 ? t("1 card") : t("{n} cards", { n: num(th.cards.length) })),
          h("span", { class: "theme-dots" }, th.dots === 1 ? t("1 dot") : t("{n} dots", { n: num(th.dots) }))),
        th.tables.length ? h("p", { class: "theme-tables" }, tableNames(hall, th.tables)) : null)))
    : h("p", { class: "stage-note themes-empty" }, t("The tables' groups arrive here. The facilitator gathers them into themes."));
  const side = unsorted.length
    ? h("aside", { class: "unsorted" },
      h("p", { class: "unsorted-title" }, t("Not yet in a theme")),
      h("ul", { class: "unsorted-list" }, unsorted.slice(0, UNSORTED).map((k) => h("li", { class: "unsorted-card" },
        h("span", { class: "unsorted-name" }, k.title || t("Untitled group")),
        h("span", { class: "unsorted-table" }, tableNames(hall, [k.table]))))),
      unsorted.length > UNSORTED
        ? h("p", { class: "more" }, t("and {n} more", { n: num(unsorted.length - UNSORTED) })) : null)
    : null;
  return h("div", { class: "disp-themes", "data-side": side ? "yes" : "no" },
    h("p", { class: "kicker" }, t("The hall's themes")),
    h("div", { class: "themes-layout" }, tiles, side),
    s.themes.length > TILES ? h("p", { class: "more" }, t("and {n} more", { n: num(s.themes.length - TILES) })) : null);
}

function presentTurnout(poll) {
  if (!poll.present) return poll.voters ? t("{voters} have voted", { voters: num(poll.voters) }) : t("No votes yet");
  return t("{voters} of {present} present have voted", { voters: num(poll.voters || 0), present: num(poll.present) });
}

function firstLines(text) {
  const s = (text || "").trim();
  return s.length > 280 ? `${s.slice(0, 277).trimEnd()}…` : s;
}

/** An adoption vote: [state, element] as drawPoll gives. */
export function drawAdoption(hall, poll) {
  const rec = recommendationOf(hall, poll);
  const title = rec?.title || poll.question;
  const hiddenNow = poll.hidden && poll.open;
  const state = !poll.open ? "final" : hiddenNow ? "hidden" : "open";
  const size = poll.options.length > 6 ? "many" : poll.options.length > 4 ? "some" : "few";
  const parts = [
    h("p", { class: "kicker" }, !poll.open ? t("Final result") : t("Vote on your tablet")),
    h("h1", { class: "question", "data-length": title.length <= 60 ? "short" : title.length <= 140 ? "medium" : "long" }, title),
  ];
  if (!poll.open) {
    parts.push(verdict(poll));
  } else {
    if (rec?.text) parts.push(h("p", { class: "rec-lines" }, firstLines(rec.text)));
    if (hiddenNow) {
      parts.push(h("div", { class: "turnout-big" },
        h("p", { class: "turnout-text" }, presentTurnout(poll)),
        bar(poll.present ? poll.voters / poll.present : 0),
        h("p", { class: "turnout-hint" }, t("Results are shown when the poll closes."))));
    } else {
      parts.push(pollBars({ ...poll, options: poll.options.map(optionLabel) }));
      parts.push(h("p", { class: "turnout" }, presentTurnout(poll)));
    }
  }
  return [state, h("div", { class: "disp-poll disp-adoption", "data-state": state, "data-size": size }, parts)];
}

function verdict(poll) {
  const r = poll.result;
  if (!r) return h("p", { class: "verdict counting" }, t("The votes are being counted…"));
  const rule = poll.rule?.rule;
  const figures = [
    [t("For"), percentText(r.for_percent), r.for],
    [t("Against"), percentText(r.against_percent), r.against],
  ];
  return h("div", { class: "verdict-block" },
    h("p", { class: "verdict", "data-adopted": r.adopted ? "yes" : "no" }, r.adopted ? t("ADOPTED") : t("NOT ADOPTED")),
    reasonText(r.reason) ? h("p", { class: "verdict-reason" }, reasonText(r.reason)) : null,
    h("ul", { class: "verdict-figures" },
      figures.map(([label, pct, n]) => h("li", { class: "verdict-figure" },
        h("span", { class: "vf-pct" }, pct),
        h("span", { class: "vf-label" }, label),
        h("span", { class: "vf-count" }, n === 1 ? t("1 vote") : t("{n} votes", { n: num(n) })))),
      h("li", { class: "verdict-figure apart" },
        h("span", { class: "vf-pct" }, num(r.abstain)),
        h("span", { class: "vf-label" }, t("Abstaining")),
        h("span", { class: "vf-count" }, t("{pct} of the votes", { pct: percentText(r.abstain_percent) }))),
      rule === "consent" || rule === "gradients"
        ? h("li", { class: "verdict-figure apart" },
          h("span", { class: "vf-pct" }, num(r.objections)),
          h("span", { class: "vf-label" }, rule === "consent" ? t("Objections") : t("Vetoes")))
        : null),
    h("p", { class: "turnout" }, t("Turnout: {pct} ({cast} of {present} present voted)",
      { pct: percentText(r.turnout_percent), cast: num(r.cast), present: num(r.present) })));
}
