// The print-ready report (/facilitator/report): the assembly's record (export.json) as pages to
// print or save as PDF. A title page with the days and how many were present; the hall's themes
// with the tables that fed them; each recommendation with its final text, its support and the
// verdict under its rule, and the minority statements; and the trail from notes to votes.
//
// The facilitator's token comes from #token=... (kept in localStorage under
// `samling.token.facilitator` and removed from the address bar, so it is not printed in the
// footer) or from localStorage, as on the sheet; the assembly from ?assembly=, #assembly= or
// localStorage. Everything the members wrote goes in as text (textContent), never as markup.
import { loadAsFacilitator } from "./credentials.js";
import { lang, loadCatalog, t } from "./i18n.js";

const LOCALE = lang === "da" ? "da-DK" : "en-GB";
const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

function fail(message) {
  $("report-status").hidden = true;
  $("report-error").textContent = message;
  $("report-error").hidden = false;
}

// -- numbers, dates and names -------------------------------------------------------------------

const ONE_DECIMAL = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const DAY = new Intl.DateTimeFormat(LOCALE, { dateStyle: "long" });
const MOMENT = new Intl.DateTimeFormat(LOCALE, { dateStyle: "long", timeStyle: "short" });

function percent(value) {
  return value == null ? "–" : `${ONE_DECIMAL.format(value)} %`;
}

function date(ms) {
  return ms == null ? "" : DAY.format(new Date(ms));
}

function moment(ms) {
  return ms == null ? "" : MOMENT.format(new Date(ms));
}

function ruleName(rule) {
  if (!rule) return "";
  const names = {
    majority: t("Simple majority"),
    two_thirds: t("Two-thirds majority"),
    threshold: t("Threshold"),
    consent: t("Consent (no objections)"),
    gradients: t("Gradients of agreement"),
  };
  let text = names[rule.rule] || rule.rule;
  if (rule.threshold != null) text += ` (${rule.threshold} %)`;
  if (rule.quorum != null) text += ", " + t("quorum: {n} ballots", { n: rule.quorum });
  if (rule.quorum_percent != null) text += ", " + t("quorum: {n} % turnout", { n: rule.quorum_percent });
  return text;
}

function reasonName(reason) {
  const names = {
    no_quorum: t("the quorum was not met"),
    no_votes: t("no votes were cast"),
    all_abstained: t("everyone abstained"),
    majority_for: t("a majority for"),
    majority_against: t("a majority against"),
    tie: t("a tie"),
    threshold_met: t("the threshold was met"),
    below_threshold: t("below the threshold"),
    consent: t("no one objected"),
    objection: t("an objection"),
    veto: t("a veto"),
  };
  return names[reason] || reason || "";
}

function who(by, tables) {
  if (by.role === "facilitator") return t("the facilitator");
  return by.table != null ? tables.get(by.table) || by.table : by.role;
}

function verdict(result) {
  return result.adopted ? t("Adopted") : t("Not adopted");
}

// -- the parts ----------------------------------------------------------------------------------

function titlePage(data) {
  document.title = [t("Report"), data.name, "Samling"].join(" · ");
  $("report-name").textContent = data.name;
  $("report-exported").textContent = t("Exported {when}", { when: moment(data.exported_at) });
  const rows = data.days.map((day) => {
    const tr = el("tr");
    tr.append(el("td", null, day.label), el("td", null, date(day.opened_at)), el("td", "num", String(day.present)));
    return tr;
  });
  $("report-days").tBodies[0].replaceChildren(...rows);
  $("report-days").hidden = rows.length === 0;
  $("report-no-days").hidden = rows.length > 0;
}

function themes(data) {
  const cards = new Map(data.synthesis.cards.map((card) => [card.card, card]));
  const sections = data.synthesis.themes.map((theme) => {
    const section = el("section", "report-theme");
    section.append(el("h3", null, theme.title || t("(untitled theme)")));
    section.append(el("p", "muted", t("Tables: {tables}", { tables: theme.table_names.join(", ") || "–" })));
    const list = el("ul");
    for (const id of theme.cards) {
      const card = cards.get(id);
      list.append(el("li", null, `${card.title} (${card.table_name})`));
    }
    section.append(list);
    return section;
  });
  $("report-themes").replaceChildren(...sections);
  $("report-no-themes").hidden = sections.length > 0;
}

function support(result, rule) {
  const list = el("dl", "report-support");
  const row = (term, value) => list.append(el("dt", null, term), el("dd", null, value));
  row(t("For"), `${result.for} (${percent(result.for_percent)})`);
  row(t("Against"), `${result.against} (${percent(result.against_percent)})`);
  row(t("Abstaining"), `${result.abstain} (${percent(result.abstain_percent)})`);
  const turnout = t("{cast} of {present} present", { cast: result.cast, present: result.present });
  row(t("Turnout"), `${turnout} (${percent(result.turnout_percent)})`);
  row(t("Rule"), ruleName(rule));
  return list;
}

function recommendation(rec, polls, tables) {
  const article = el("article", "report-rec");
  article.append(el("h3", null, rec.title));
  const poll = rec.final_vote ? polls.get(rec.final_vote) : null;
  if (poll && rec.result) {
    const badge = el("p", `report-verdict ${rec.result.adopted ? "adopted" : "rejected"}`, verdict(rec.result));
    badge.append(el("span", "report-reason", ` (${reasonName(rec.result.reason)})`));
    article.append(badge);
  } else {
    article.append(el("p", "report-verdict", t("Not voted on.")));
  }
  if (rec.withdrawn) article.append(el("p", "notice warn", t("Withdrawn")));
  const text = el("div", "report-rec-text");
  for (const paragraph of rec.text.split(/\n\s*\n/)) text.append(el("p", null, paragraph));
  article.append(text);
  if (poll && rec.result) {
    article.append(support(rec.result, poll.rule));
    article.append(el("h4", null, t("Minority statements")));
    const statements = poll.minority_statements || [];
    if (statements.length) {
      const list = el("ul", "report-minority");
      for (const statement of statements) list.append(el("li", null, statement));
      article.append(list);
    } else {
      article.append(el("p", "muted", t("None.")));
    }
  }
  const last = rec.versions[rec.versions.length - 1];
  article.append(el("p", "hint", t("Version {n}, {when}, by {who}.",
    { n: rec.versions.length, when: moment(last.at), who: who(last.by, tables) })));
  return article;
}

function recommendations(data, polls, tables) {
  const items = data.recommendations.map((rec) => recommendation(rec, polls, tables));
  $("report-recs").replaceChildren(...items);
  $("report-no-recs").hidden = items.length > 0;
}

function otherPolls(data) {
  const others = data.polls.filter((poll) => poll.kind !== "adoption");
  const items = others.map((poll) => {
    const section = el("section", "report-poll");
    section.append(el("h3", null, poll.question));
    const list = el("ul");
    poll.options.forEach((option, i) => {
      const n = poll.counts ? poll.counts[i] : null;
      list.append(el("li", null, `${option}: ${n == null ? "–" : n}`));
    });
    section.append(list, el("p", "muted", t("Votes: {voters} of {present} present",
      { voters: poll.voters, present: poll.present })));
    return section;
  });
  $("report-polls").replaceChildren(...items);
  $("report-polls-section").hidden = items.length === 0;
}

function voteText(vote) {
  if (vote.open || vote.adopted == null) return t("open");
  const share = t("{percent} for", { percent: percent(vote.for_percent) });
  return `${verdict(vote)} (${share})`;
}

function cell(className, text) {
  return el("td", className, text);
}

function listCell(items, className) {
  const td = el("td", className);
  if (!items.length) {
    td.textContent = "–";
    return td;
  }
  const list = el("ul", "report-cell-list");
  for (const item of items) list.append(el("li", null, item));
  td.append(list);
  return td;
}

function trail(data) {
  const rows = [];
  for (const step of data.trail) {
    const cards = step.cards.length ? step.cards : [null];
    const recs = step.recommendations;
    cards.forEach((card, i) => {
      const tr = el("tr");
      if (card) {
        tr.append(cell(null, card.table_name), cell(null, card.title), listCell(card.notes, "report-notes"),
          cell("num", String(card.dots)));
      } else {
        tr.append(cell(null, "–"), cell(null, "–"), cell(null, "–"), cell("num", "–"));
      }
      if (i === 0) {  // the theme and what came of it, once for all of its cards
        const theme = cell("report-trail-theme", step.theme == null ? t("(no theme)") : step.title);
        const recCell = listCell(recs.map((rec) => rec.title));
        const voteCell = listCell(recs.flatMap((rec) => rec.votes.map(voteText)));
        for (const td of [theme, recCell, voteCell]) td.rowSpan = cards.length;
        tr.append(theme, recCell, voteCell);
      }
      rows.push(tr);
    });
  }
  $("report-trail").tBodies[0].replaceChildren(...rows);
}

function render(data) {
  const polls = new Map(data.polls.map((poll) => [poll.poll, poll]));
  const tables = new Map(data.tables.map((table) => [table.id, table.name]));
  titlePage(data);
  themes(data);
  recommendations(data, polls, tables);
  otherPolls(data);
  trail(data);
  $("report-status").textContent = t("The report is ready.");
  $("report-actions").hidden = false;
  $("report").hidden = false;
}

async function main() {
  await loadCatalog();
  $("report-print").addEventListener("click", () => window.print());
  const data = await loadAsFacilitator("export.json", {
    noLink: t("This page needs the facilitator's link. Open the report from the dashboard."),
    forbidden: t("This link does not give access to this assembly's report. Use the facilitator's link."),
  }, fail);
  if (data) render(data);
}

main();
