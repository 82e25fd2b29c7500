// Recommendations on the dashboard: write one (title, text, a theme of the hall board if it grew
// from one), edit it (each edit is a new version, all kept), withdraw it; see who wrote it and its
// version history; and choose one or several to put to an adoption vote (adoption.js).
import { t } from "../i18n.js";
import { h, newId, num, rebuild, setText } from "./common.js";
import { byText, reasonText, when } from "./record.js";

const TITLE_MAX = 120;
const TEXT_MAX = 5000;

export class Recommendations {
  /** ctx: {record, act(label, promise), send(op, args), note(text), info(text), name(table id), onVote(ids)} */
  constructor(ctx) {
    this.ctx = ctx;
    this.form = document.getElementById("rec-form");
    this.list = document.getElementById("rec-list");
    this.summary = document.getElementById("recs-summary");
    this.slateBar = document.getElementById("slate-bar");
    this.slateText = document.getElementById("slate-text");
    this.picked = new Set();   // recommendations chosen for a slate
    this.editing = null;       // the recommendation being edited
    this.draft = null;         // {title, text} of that edit
    this.withdrawing = null;   // the recommendation whose "Withdraw" was pressed once
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.add();
    });
    document.getElementById("slate-open").addEventListener("click", () => {
      const ids = this.votable().filter((r) => this.picked.has(r.recommendation)).map((r) => r.recommendation);
      if (ids.length) this.ctx.onVote(ids);
    });
    document.getElementById("slate-clear").addEventListener("click", () => {
      this.picked.clear();
      this.render();
    });
  }

  get items() {
    return this.ctx.record.data.recommendations;
  }

  votable() {
    return this.items.filter((r) => state(r) === "open");
  }

  /** After the votes of a slate opened: nothing is chosen any more. */
  clearPicked() {
    this.picked.clear();
    this.render();
  }

  add() {
    const f = this.form.elements;
    const title = f.title.value.trim();
    const text = f.text.value.trim();
    if (!title || !text) {
      this.ctx.note(t("A recommendation needs a title and a text."));
      (title ? f.text : f.title).focus();
      return;
    }
    const args = { recommendation: newId("r"), title: title.slice(0, TITLE_MAX), text: text.slice(0, TEXT_MAX) };
    if (f.theme.value) args.theme = f.theme.value;
    const submit = this.form.querySelector("[type=submit]");
    submit.disabled = true;
    this.ctx.act(t("Could not save the recommendation"), this.ctx.send("recommendation.add", args)).then((ok) => {
      submit.disabled = false;
      if (!ok) return;
      f.title.value = "";
      f.text.value = "";
      f.theme.value = "";
      document.getElementById("rec-new").open = false;
      this.ctx.info(t("The recommendation “{title}” is saved.", { title: args.title }));
    });
  }

  startEdit(r) {
    this.editing = r.recommendation;
    this.draft = { title: r.title, text: r.text };
    this.withdrawing = null;
    this.render();
  }

  saveEdit(r) {
    const title = this.draft.title.trim().slice(0, TITLE_MAX);
    const text = this.draft.text.trim().slice(0, TEXT_MAX);
    if (!title || !text) {
      this.ctx.note(t("A recommendation needs a title and a text."));
      return;
    }
    if (title === r.title && text === r.text) {
      this.editing = null;
      this.render();
      return;
    }
    this.ctx.act(t("Could not save the new version"), this.ctx.send("recommendation.edit",
      { recommendation: r.recommendation, title, text })).then((ok) => {
      if (!ok) return;
      this.editing = null;
      this.render();
    });
  }

  withdraw(r) {
    this.withdrawing = null;
    this.picked.delete(r.recommendation);
    this.ctx.act(t("Could not withdraw the recommendation"),
      this.ctx.send("recommendation.withdraw", { recommendation: r.recommendation }));
    this.render();
  }

  set(field, value) {
    this[field] = value;
    this.render();
  }

  toggle(id, on) {
    if (on) this.picked.add(id);
    else this.picked.delete(id);
    this.render();
  }

  render() {
    const items = this.items;
    const open = new Set(this.votable().map((r) => r.recommendation));
    for (const id of this.picked) if (!open.has(id)) this.picked.delete(id);
    if (this.editing && !open.has(this.editing)) this.editing = null;

    const adopted = items.filter((r) => r.adopted).length;
    setText(this.summary, items.length ? [
      items.length === 1 ? t("1 recommendation") : t("{n} recommendations", { n: num(items.length) }),
      adopted ? t("{n} adopted", { n: num(adopted) }) : null,
    ].filter(Boolean).join(" · ") : "");

    // The theme choice of the form follows the hall board.
    const select = this.form.elements.theme;
    const themes = this.ctx.record.data.themes;
    const wanted = ["", ...themes.map((x) => x.theme)];
    const labels = [t("No theme"), ...themes.map((x) => x.title || t("Untitled theme"))];
    if ([...select.options].map((o) => `${o.value}\t${o.textContent}`).join("\n")
      !== wanted.map((v, i) => `${v}\t${labels[i]}`).join("\n")) {
      const chosen = select.value;
      select.replaceChildren(...wanted.map((v, i) => h("option", { value: v }, labels[i])));
      select.value = wanted.includes(chosen) ? chosen : "";
    }

    const n = this.picked.size;
    this.slateBar.hidden = n === 0;
    setText(this.slateText, n === 1 ? t("1 recommendation chosen") : t("{n} recommendations chosen", { n: num(n) }));

    const polls = this.ctx.record.data.polls;
    const names = this.ctx.names();
    const key = JSON.stringify([items, names, [...this.picked], this.editing, this.withdrawing,
      Object.entries(polls).filter(([, p]) => p.recommendation).map(([id, p]) => [id, p.recommendation, p.result && p.result.adopted])]);
    rebuild(this.list, key, () => (items.length
      ? [...items].reverse().map((r) => this.item(r))
      : h("li", { class: "empty" }, t("No recommendations yet."))));
  }

  /** The last closed vote on a recommendation that did not adopt it, if any: its result. */
  lastFailed(r) {
    let found = null;
    for (const p of Object.values(this.ctx.record.data.polls)) {
      if (p.recommendation === r.recommendation && p.result && !p.result.adopted) found = p.result;
    }
    return found;
  }

  item(r) {
    const id = r.recommendation;
    const st = state(r);
    const versions = r.versions || [];
    const first = versions[0];
    const last = versions[versions.length - 1];
    const name = (x) => this.ctx.name(x);
    const theme = r.theme && this.ctx.record.theme(r.theme);
    const meta = [t("Written by {who}", { who: byText(first && first.by, name) })];
    meta.push(versions.length === 1 ? t("1 version") : t("{n} versions", { n: num(versions.length) }));
    if (last && last.at) meta.push(t("last changed {when}", { when: when(last.at) }));
    if (theme) meta.push(t("Theme: {theme}", { theme: theme.title || t("Untitled theme") }));
    const failed = st === "open" ? this.lastFailed(r) : null;
    const head = h("div", { class: "rec-head" },
      st === "open"
        ? h("label", { class: "check rec-pick" },
          h("input", { type: "checkbox", checked: this.picked.has(id), "data-fkey": `pick:${id}`,
            "aria-label": t("Choose “{title}” for a vote together with others", { title: r.title }),
            onchange: (e) => this.toggle(id, e.target.checked) }))
        : null,
      h("h3", { class: "rec-title" }, r.title),
      h("span", { class: "badge rec-state", "data-state": failed ? "failed" : st },
        failed ? t("Not adopted") : stateText(st)));

    const parts = [head];
    if (failed) parts.push(h("p", { class: "rec-failed" }, t("Put to a vote and not adopted: {why}", { why: reasonText(failed.reason) })));
    if (this.editing === id) {
      parts.push(this.editForm(r));
    } else {
      parts.push(h("p", { class: "rec-text" }, r.text));
    }
    parts.push(h("p", { class: "rec-meta" }, meta.join(" · ")));
    if (r.withdrawn) {
      parts.push(h("p", { class: "rec-meta" }, t("Withdrawn by {who}, {when}", {
        who: byText(r.withdrawn_by, name), when: when(r.withdrawn_at) })));
    }
    parts.push(h("details", { class: "rec-history" },
      h("summary", { "data-fkey": `history:${id}` }, t("Version history ({n})", { n: num(versions.length) })),
      h("ol", { class: "rec-versions" }, versions.map((v, i) => h("li", { class: "rec-version" },
        h("p", { class: "rec-version-meta" }, t("Version {n}, {when}, by {who}", {
          n: num(i + 1), when: when(v.at), who: byText(v.by, name) })),
        h("p", { class: "rec-version-title" }, v.title),
        h("p", { class: "rec-version-text" }, v.text))))));
    if (st === "open" && this.editing !== id) parts.push(this.actions(r));
    return h("li", { class: "rec", "data-recommendation": id, "data-state": st }, parts);
  }

  editForm(r) {
    const title = h("input", { type: "text", name: "title", maxlength: TITLE_MAX, value: this.draft.title,
      "data-fkey": `edit-title:${r.recommendation}`, oninput: (e) => { this.draft.title = e.target.value; } });
    const text = h("textarea", { name: "text", maxlength: TEXT_MAX, rows: 5, "data-fkey": `edit-text:${r.recommendation}`,
      oninput: (e) => { this.draft.text = e.target.value; } }, this.draft.text);
    return h("form", { class: "form rec-edit", novalidate: true,
      onsubmit: (e) => { e.preventDefault(); this.saveEdit(r); } },
    h("label", { class: "field" }, t("Title"), title),
    h("label", { class: "field" }, t("Text"), text),
    h("p", { class: "form-note" }, t("Saving keeps the earlier text as a version in the history.")),
    h("div", { class: "field-row" },
      h("button", { type: "submit", class: "btn btn-primary" }, t("Save as a new version")),
      h("button", { type: "button", class: "btn", onclick: () => this.set("editing", null) }, t("Cancel"))));
  }

  actions(r) {
    const id = r.recommendation;
    if (this.withdrawing === id) {
      return h("div", { class: "rec-actions rec-confirm" },
        h("span", {}, t("Withdraw this recommendation? It stays in the record as withdrawn.")),
        h("button", { type: "button", class: "btn btn-danger small", "data-fkey": `withdraw-yes:${id}`,
          onclick: () => this.withdraw(r) }, t("Yes, withdraw")),
        h("button", { type: "button", class: "btn small", onclick: () => this.set("withdrawing", null) }, t("Cancel")));
    }
    return h("div", { class: "rec-actions" },
      h("button", { type: "button", class: "btn btn-primary rec-vote", "data-fkey": `vote:${id}`,
        onclick: () => this.ctx.onVote([id]) }, t("Open adoption vote")),
      h("button", { type: "button", class: "btn rec-edit-button", "data-fkey": `edit:${id}`,
        onclick: () => this.startEdit(r) }, t("Edit")),
      h("button", { type: "button", class: "btn rec-withdraw", "data-fkey": `withdraw:${id}`,
        onclick: () => this.set("withdrawing", id) }, t("Withdraw")));
  }
}

/** open (may change and be voted on), locked (in a vote now), adopted, withdrawn. */
export function state(r) {
  if (r.withdrawn) return "withdrawn";
  if (r.adopted) return "adopted";
  if (r.locked) return "locked";
  return "open";
}

export function stateText(st) {
  switch (st) {
    case "withdrawn": return t("Withdrawn");
    case "adopted": return "✓ " + t("Adopted");
    case "locked": return "● " + t("In a vote now: locked");
    default: return t("Not voted on yet");
  }
}
