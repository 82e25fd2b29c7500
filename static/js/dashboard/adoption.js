// Adoption votes: the form that opens one on a recommendation, or one each on several (a slate,
// sharing one slate id), with the rule chosen (majority, two-thirds, a threshold, consent,
// gradients of agreement), an optional quorum and hidden results; and how the poll panel shows
// such a vote: its options in words, turnout of those present, the result after the close, and
// the paper ballots entered for it.
import { t } from "../i18n.js";
import { h, newId, num, openModal, setText } from "./common.js";
import { optionLabel, percentText, reasonText, ruleText } from "./record.js";

const THRESHOLD_DEFAULT = { threshold: 60, gradients: 75 };

export class Adoption {
  /** ctx: {record, act(label, promise), send(op, args), note(text), info(text), onOpened()} */
  constructor(ctx) {
    this.ctx = ctx;
    this.dialog = document.getElementById("adoption-dialog");
    this.form = document.getElementById("adoption-form");
    this.recs = [];
    document.getElementById("ad-close").addEventListener("click", () => this.dialog.close());
    for (const radio of this.form.querySelectorAll("input[name=rule], input[name=quorum_kind]")) {
      radio.addEventListener("change", () => this.fields(true));
    }
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
  }

  /** Open the form for these recommendation ids (one: a single vote; several: a slate). */
  show(ids) {
    this.recs = ids.filter((id) => this.ctx.record.recommendation(id));
    if (!this.recs.length) return;
    const slate = this.recs.length > 1;
    setText(document.getElementById("ad-title"), slate
      ? t("Open adoption votes on {n} recommendations", { n: num(this.recs.length) })
      : t("Open an adoption vote"));
    setText(document.getElementById("ad-note"), slate
      ? t("Each recommendation gets its own ballot. They open together, as one slate.")
      : t("The recommendation is locked while the vote is open: nobody can change it."));
    document.getElementById("ad-recs").replaceChildren(...this.recs.map((id) =>
      h("li", {}, this.ctx.record.recommendation(id).title)));
    this.fields(false);
    openModal(this.dialog);
  }

  /** Show the threshold and quorum fields the chosen rule and quorum take. */
  fields(changed) {
    const f = this.form.elements;
    const rule = f.rule.value;
    const takes = rule === "threshold" || rule === "gradients";
    document.getElementById("ad-threshold").hidden = !takes;
    if (takes && (changed || !f.threshold.value)) f.threshold.value = String(THRESHOLD_DEFAULT[rule]);
    const quorum = f.quorum_kind.value;
    document.getElementById("ad-quorum").hidden = quorum === "none";
    setText(document.getElementById("ad-quorum-label"), quorum === "percent"
      ? t("Least share of those present who must vote (%)") : t("Least number of ballots (paper included)"));
    f.quorum_value.max = quorum === "percent" ? "100" : "100000";
  }

  submit() {
    const f = this.form.elements;
    const rule = f.rule.value;
    const base = { kind: "adoption", rule, hidden: f.hidden.checked };
    if (rule === "threshold" || rule === "gradients") {
      const threshold = Number(f.threshold.value);
      if (!Number.isInteger(threshold) || threshold < 50 || threshold > 100) {
        this.ctx.note(t("The required share must be a whole number from 50 to 100."));
        f.threshold.focus();
        return;
      }
      base.threshold = threshold;
    }
    const quorum = f.quorum_kind.value;
    if (quorum !== "none") {
      const value = Number(f.quorum_value.value);
      const high = quorum === "percent" ? 100 : 100000;
      if (!Number.isInteger(value) || value < 1 || value > high) {
        this.ctx.note(t("The quorum must be a whole number from 1 to {n}.", { n: num(high) }));
        f.quorum_value.focus();
        return;
      }
      base[quorum === "percent" ? "quorum_percent" : "quorum"] = value;
    }
    if (this.recs.length > 1) base.slate = newId("s");
    const submit = this.form.querySelector("[type=submit]");
    submit.disabled = true;
    Promise.all(this.recs.map((recommendation) => {
      const title = this.ctx.record.recommendation(recommendation)?.title || "";
      return this.ctx.act(t("Could not open the vote on “{title}”", { title }),
        this.ctx.send("poll.open", { ...base, poll: newId("p"), recommendation }));
    })).then((oks) => {
      submit.disabled = false;
      if (!oks.some(Boolean)) return;
      this.dialog.close();
      this.ctx.onOpened();
    });
  }
}

// -- the poll panel's view of an adoption vote

export function isAdoption(poll) {
  return poll.kind === "adoption";
}

/** The poll with its options in words, for the bars. */
export function labelled(poll) {
  return isAdoption(poll) ? { ...poll, options: poll.options.map(optionLabel) } : poll;
}

/** "3 of 30 present have voted". */
export function presentTurnout(poll) {
  if (!poll.present) return poll.voters ? t("{voters} have voted", { voters: num(poll.voters) }) : t("No votes yet");
  return t("{voters} of {present} present have voted", { voters: num(poll.voters || 0), present: num(poll.present) });
}

/** The badges over an adoption vote: its rule and, in a slate, that it is one. */
export function ruleBadges(info) {
  if (!info || !info.rule) return [];
  return [h("span", { class: "badge rule-badge" }, t("Adoption vote"), ": ", ruleText(info.rule)),
    info.slate ? h("span", { class: "badge" }, t("Part of a slate")) : null];
}

/** The final result of an adoption vote: adopted or not, why, and its numbers. */
export function resultView(result) {
  const adopted = !!result.adopted;
  return h("div", { class: "result", "data-adopted": String(adopted) },
    h("p", { class: "result-verdict" }, h("span", { "aria-hidden": "true" }, adopted ? "✓ " : "✗ "),
      h("span", { class: "result-word" }, adopted ? t("Adopted") : t("Not adopted"))),
    h("p", { class: "result-reason" }, reasonText(result.reason)),
    h("ul", { class: "result-numbers" },
      h("li", { "data-part": "for" }, t("For: {p}", { p: percentText(result.for_percent) }),
        " ", h("span", { class: "summary" }, `(${num(result.for)})`)),
      h("li", { "data-part": "against" }, t("Against: {p}", { p: percentText(result.against_percent) }),
        " ", h("span", { class: "summary" }, `(${num(result.against)})`)),
      h("li", { "data-part": "abstain" }, t("Abstained: {p}", { p: percentText(result.abstain_percent) }),
        " ", h("span", { class: "summary" }, `(${num(result.abstain)})`)),
      h("li", { "data-part": "turnout" }, t("Turnout: {cast} of {present} present ({p})", {
        cast: num(result.cast), present: num(result.present), p: percentText(result.turnout_percent) })),
      result.objections ? h("li", { "data-part": "objections" },
        t("Objections or vetoes: {n}", { n: num(result.objections) })) : null),
    h("p", { class: "form-note" }, t("For and against are shares of those who did not abstain.")),
    statements(result.minority_statements));
}

/** The reasons given with objections or vetoes, as anonymous texts (none: nothing). */
function statements(list) {
  if (!Array.isArray(list) || !list.length) return null;
  return h("div", { class: "result-statements" },
    h("p", { class: "result-statements-title" }, t("Minority statements")),
    h("ul", {}, list.map((text) => h("li", {}, String(text)))));
}

// -- paper ballots

/**
 * A small form to enter the paper ballots of an open poll (a count per option and the number of
 * paper ballots handed in), with the last entry shown. Made once per open poll; `update()` redraws
 * the last entry only, so typing is never disturbed.
 */
export function paperForm(poll, ctx) {
  const labels = labelled(poll).options;
  const counts = labels.map((label, i) => h("input", { type: "number", min: 0, max: 10000, step: 1, inputmode: "numeric",
    name: `count-${i}`, "data-option": i, placeholder: "0" }));
  const voters = h("input", { type: "number", min: 0, max: 10000, step: 1, inputmode: "numeric", name: "paper_voters",
    placeholder: "0" });
  const last = h("p", { class: "paper-last form-note" });
  let sent = null; // what this page entered last, for a hidden poll whose counts stay hidden
  const submit = h("button", { type: "submit", class: "btn" }, t("Save paper ballots"));
  const form = h("form", { class: "paper-form", novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    const values = counts.map((input) => (input.value.trim() === "" ? 0 : Number(input.value)));
    if (values.some((v) => !Number.isInteger(v) || v < 0 || v > 10000)) {
      ctx.note(t("Paper counts must be whole numbers from 0 to 10,000."));
      return;
    }
    const sum = values.reduce((a, b) => a + b, 0);
    const total = voters.value.trim() === "" ? sum : Number(voters.value);
    if (!Number.isInteger(total) || total < sum || total > 10000) {
      ctx.note(t("The paper ballots handed in must be at least the counts added up ({n}).", { n: num(sum) }));
      voters.focus();
      return;
    }
    submit.disabled = true;
    ctx.act(t("Could not save the paper ballots"), ctx.send("poll.paper",
      { poll: poll.poll, counts: values, paper_voters: total })).then((ok) => {
      submit.disabled = false;
      if (!ok) return;
      sent = { counts: values, voters: total };
      for (const input of [...counts, voters]) input.value = "";
      update();
      ctx.info(t("The paper ballots are counted in."));
    });
  } },
  h("details", { class: "paper-fold" },
    h("summary", {}, t("Paper ballots")),
    h("p", { class: "form-note" }, t("Enter the counts of the paper ballots. A new entry replaces the last one.")),
    h("div", { class: "paper-fields" },
      labels.map((label, i) => h("label", { class: "field" }, label, counts[i])),
      h("label", { class: "field" }, t("Paper ballots handed in (blank ones too)"), voters)),
    submit),
  last);

  function update() {
    const info = ctx.record.poll(poll.poll);
    const entry = (info && info.paper) || sent;
    const n = info ? info.paperVoters || (info.paper ? info.paper.voters : 0) : 0;
    if (entry) {
      setText(last, t("Last entry: {counts} · {n} paper ballots in all", {
        counts: labels.map((label, i) => `${label} ${num(entry.counts[i] || 0)}`).join(", "),
        n: num(entry.voters) }));
    } else if (n) {
      setText(last, t("Last entry: {n} paper ballots in all", { n: num(n) }));
    } else {
      setText(last, t("No paper ballots entered."));
    }
  }
  update();
  return { el: form, update };
}
