// The hall's synthesis board: the clusters the tables sent, as cards with their provenance (table,
// dots, notes), grouped into the hall's themes. Send a table's clusters from its board; add,
// rename, merge and remove themes; put a card in a theme by dragging it (SortableJS) or, for touch
// and keyboards, by tapping it and then tapping the theme; take a card out, or withdraw it. Cards
// that read alike across tables are flagged on both.
import { t } from "../i18n.js";
import { h, newId, num, rebuild, setText } from "./common.js";

const TITLE_MAX = 80;

export class Synthesis {
  /** ctx: {rooms(), record, act(label, promise), send(op, args), note(text), info(text), name(table id)} */
  constructor(ctx) {
    this.ctx = ctx;
    this.board = document.getElementById("syn-board");
    this.summary = document.getElementById("syn-summary");
    this.selectionBar = document.getElementById("syn-selection");
    this.selectionText = document.getElementById("syn-selection-text");
    this.form = document.getElementById("theme-form");
    this.chosen = null;      // the card chosen by a tap
    this.renaming = null;    // the theme being renamed
    this.merging = null;     // the theme whose "Merge" was pressed
    this.removing = null;    // the theme whose "Remove" was pressed once
    this.withdrawing = null; // the card whose "Withdraw" was pressed once
    this.draft = null;       // the theme's new name as typed so far
    this.dragging = false;
    this.dirty = false;
    this.justDragged = 0;
    this.dragged = null;     // the card dropped last
    this.sortables = [];
    document.getElementById("syn-cancel").addEventListener("click", () => this.choose(null));
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.addTheme();
    });
  }

  get data() {
    return this.ctx.record.data;
  }

  // -- actions

  /** One card.send per named cluster of the table's current activity (it must be at its results). */
  async sendTable(table) {
    if (table == null) return;
    const room = this.ctx.rooms()[`table:${table}`] || {};
    const name = this.ctx.name(table);
    const board = room.board;
    if (!board || room.phase !== "results") {
      this.ctx.note(t("{table} has not reached its results yet. Move the table to Results first.", { table: name }));
      return;
    }
    const named = board.clusters.filter((c) => (c.title || "").trim());
    const fresh = this.unsent(table);
    if (!named.length) {
      this.ctx.note(t("{table} has no named clusters to send.", { table: name }));
      return;
    }
    if (!fresh.length) {
      this.ctx.info(t("The clusters of {table} are on the hall board already.", { table: name }));
      return;
    }
    const label = t("Could not send a cluster of {table}", { table: name });
    const results = await Promise.all(fresh.map((c) => this.ctx.act(label, this.ctx.send("card.send",
      { card: newId("c"), table, cluster: c.cluster, activity: board.activity }))));
    const n = results.filter(Boolean).length;
    if (n) {
      this.ctx.info(n === 1 ? t("1 cluster from {table} is on the hall board.", { table: name })
        : t("{n} clusters from {table} are on the hall board.", { n: num(n), table: name }));
    }
  }

  /** The named clusters of a table at its results that are not on the hall board yet. */
  unsent(table) {
    const room = this.ctx.rooms()[`table:${table}`] || {};
    const board = room.board;
    if (!board || room.phase !== "results") return [];
    const sent = new Set(this.data.cards.filter((k) => k.table === table && k.activity === board.activity)
      .map((k) => k.cluster));
    return board.clusters.filter((c) => (c.title || "").trim() && !sent.has(c.cluster));
  }

  addTheme() {
    const input = this.form.elements.title;
    const title = input.value.trim().slice(0, TITLE_MAX);
    const theme = newId("th");
    this.ctx.act(t("Could not add the theme"), this.ctx.send("theme.add", { theme, title })).then((ok) => {
      if (!ok) return;
      input.value = "";
      if (this.chosen) this.moveChosen(theme);
    });
  }

  choose(card) {
    if (card === this.dragged && Date.now() - this.justDragged < 300) return; // the click that ends its drag
    this.chosen = this.chosen === card ? null : card;
    this.render();
  }

  moveChosen(theme) {
    const card = this.chosen;
    this.chosen = null;
    if (card) this.move(card, theme);
    this.render();
  }

  move(card, theme) {
    const k = this.ctx.record.card(card);
    if (!k || (k.theme ?? null) === theme) return;
    this.ctx.act(t("Could not move the card"), this.ctx.send("card.move", { card, theme }));
  }

  tapColumn(e, theme) {
    if (!this.chosen || Date.now() - this.justDragged < 300) return;
    if (e.target.closest("button, input, select, textarea, summary, form, .syn-card")) return;
    this.moveChosen(theme);
  }

  rename(theme, title) {
    this.renaming = null;
    this.draft = null;
    const x = this.ctx.record.theme(theme);
    if (x && x.title !== title) {
      this.ctx.act(t("Could not rename the theme"), this.ctx.send("theme.rename", { theme, title }));
    }
    this.render();
  }

  merge(theme, into) {
    this.merging = null;
    if (into && into !== theme) {
      this.ctx.act(t("Could not merge the themes"), this.ctx.send("theme.merge", { theme, into }));
    }
    this.render();
  }

  remove(theme) {
    this.removing = null;
    this.ctx.act(t("Could not remove the theme"), this.ctx.send("theme.remove", { theme }));
    this.render();
  }

  withdraw(card) {
    this.withdrawing = null;
    if (this.chosen === card) this.chosen = null;
    this.ctx.act(t("Could not withdraw the card"), this.ctx.send("card.withdraw", { card }));
    this.render();
  }

  set(field, value) {
    this[field] = value;
    if (field === "renaming") this.draft = null; // the name typed so far, kept across redraws
    this.render();
  }

  // -- drawing

  render() {
    if (this.dragging) {
      this.dirty = true; // drawn again at the drop
      return;
    }
    this.dirty = false;
    const { cards, themes } = this.data;
    if (this.chosen && !cards.some((k) => k.card === this.chosen)) this.chosen = null;
    for (const field of ["renaming", "merging", "removing"]) {
      if (this[field] && !themes.some((x) => x.theme === this[field])) this[field] = null;
    }
    if (!this.renaming) this.draft = null;
    const dots = cards.reduce((a, k) => a + (k.dots || 0), 0);
    const counts = [
      cards.length === 1 ? t("1 card") : t("{n} cards", { n: num(cards.length) }),
      themes.length === 1 ? t("1 theme") : t("{n} themes", { n: num(themes.length) }),
      dots === 1 ? t("1 dot") : t("{n} dots", { n: num(dots) }),
    ];
    setText(this.summary, cards.length ? counts.join(" · ") : "");
    const chosen = this.chosen && this.ctx.record.card(this.chosen);
    this.selectionBar.hidden = !chosen;
    if (chosen) {
      setText(this.selectionText, t("Chosen: “{card}” from {table}. Tap the theme it belongs in.",
        { card: shorten(chosen.title || t("Untitled cluster")), table: this.ctx.name(chosen.table) }));
    }
    const names = (this.ctx.rooms().hall || {}).tables || [];
    const key = JSON.stringify([this.data.cards, this.data.themes, this.data.duplicates, names, this.chosen,
      this.renaming, this.merging, this.removing, this.withdrawing]);
    if (rebuild(this.board, key, () => this.columns())) this.sortable();
  }

  columns() {
    const { cards, themes } = this.data;
    if (!cards.length && !themes.length) {
      return h("p", { class: "empty" }, t("No cards yet. Open a table at its results and send its clusters here."));
    }
    return [this.column(null, cards.filter((k) => k.theme == null)),
      ...themes.map((x) => this.column(x, cards.filter((k) => k.theme === x.theme)))];
  }

  column(theme, cards) {
    const id = theme ? theme.theme : null;
    const title = theme ? theme.title || t("Untitled theme") : t("Unsorted");
    const tables = [...new Set(cards.map((k) => k.table))].map((x) => this.ctx.name(x));
    const dots = cards.reduce((a, k) => a + (k.dots || 0), 0);
    const facts = [cards.length === 1 ? t("1 card") : t("{n} cards", { n: num(cards.length) })];
    if (theme && cards.length) facts.push(dots === 1 ? t("1 dot") : t("{n} dots", { n: num(dots) }), tables.join(", "));
    const chosen = this.chosen && this.ctx.record.card(this.chosen);
    const here = chosen && (chosen.theme ?? null) !== id
      ? h("button", { type: "button", class: "btn btn-primary small syn-here", "data-fkey": `here:${id ?? ""}`,
        onclick: () => this.moveChosen(id) }, theme ? t("Put it here") : t("Back to unsorted"))
      : null;
    const head = h("div", { class: "syn-col-head" },
      h("h3", { class: "syn-col-title" }, title, " ", h("span", { class: "summary" }, `(${facts.join(" · ")})`)),
      here,
      theme ? this.themeTools(theme) : null);
    const list = h("div", { class: "syn-cards drop", "data-theme": id ?? "" },
      cards.map((k) => this.card(k)));
    return h("section", { class: `syn-col${theme ? "" : " syn-unsorted"}`, "data-theme": id ?? "",
      "aria-label": title, onclick: (e) => this.tapColumn(e, id) }, head, list);
  }

  themeTools(theme) {
    const id = theme.theme;
    if (this.renaming === id) {
      this.draft ??= theme.title;
      const input = h("input", { type: "text", name: "title", maxlength: TITLE_MAX, value: this.draft,
        "aria-label": t("New name of the theme"), "data-fkey": `rename-input:${id}`,
        oninput: (e) => { this.draft = e.target.value; } });
      setTimeout(() => { if (input.isConnected && document.activeElement !== input) input.focus(); }, 0);
      return h("form", { class: "syn-tool", onsubmit: (e) => { e.preventDefault(); this.rename(id, input.value.trim().slice(0, TITLE_MAX)); } },
        input,
        h("button", { type: "submit", class: "btn btn-primary small" }, t("Save")),
        h("button", { type: "button", class: "btn small", onclick: () => this.set("renaming", null) }, t("Cancel")));
    }
    if (this.merging === id) {
      const others = this.data.themes.filter((x) => x.theme !== id);
      const select = h("select", { "aria-label": t("Merge into which theme?"), "data-fkey": `merge-select:${id}` },
        others.map((x) => h("option", { value: x.theme }, x.title || t("Untitled theme"))));
      return h("div", { class: "syn-tool" },
        h("span", {}, t("Merge into:")), select,
        h("button", { type: "button", class: "btn btn-primary small", onclick: () => this.merge(id, select.value) }, t("Merge")),
        h("button", { type: "button", class: "btn small", onclick: () => this.set("merging", null) }, t("Cancel")));
    }
    if (this.removing === id) {
      return h("div", { class: "syn-tool syn-confirm", role: "group" },
        h("span", {}, t("Remove this theme? Its cards go back to unsorted.")),
        h("button", { type: "button", class: "btn btn-danger small", "data-fkey": `remove-yes:${id}`,
          onclick: () => this.remove(id) }, t("Yes, remove")),
        h("button", { type: "button", class: "btn small", onclick: () => this.set("removing", null) }, t("Cancel")));
    }
    const label = theme.title || t("Untitled theme");
    return h("div", { class: "syn-tool" },
      h("button", { type: "button", class: "btn small syn-rename", "data-fkey": `rename:${id}`,
        "aria-label": t("Rename {theme}", { theme: label }), onclick: () => this.set("renaming", id) }, t("Rename")),
      this.data.themes.length > 1
        ? h("button", { type: "button", class: "btn small syn-merge", "data-fkey": `merge:${id}`,
          "aria-label": t("Merge {theme} into another theme", { theme: label }), onclick: () => this.set("merging", id) }, t("Merge"))
        : null,
      h("button", { type: "button", class: "btn small syn-remove", "data-fkey": `remove:${id}`,
        "aria-label": t("Remove {theme}", { theme: label }), onclick: () => this.set("removing", id) }, t("Remove")));
  }

  card(k) {
    const title = k.title || t("Untitled cluster");
    const chosen = this.chosen === k.card;
    const from = [this.ctx.name(k.table), k.dots === 1 ? t("1 dot") : t("{n} dots", { n: num(k.dots || 0) })];
    const alike = this.ctx.record.alike(k.card)
      .map(([other]) => this.ctx.record.card(other)).filter(Boolean);
    const dup = alike.length
      ? h("p", { class: "syn-dup" }, "⚠ ", t("Looks like the card from {tables}", {
        tables: [...new Set(alike.map((o) => this.ctx.name(o.table)))].join(", ") }))
      : null;
    const notes = k.notes || [];
    const actions = [];
    if (this.withdrawing === k.card) {
      actions.push(h("span", { class: "syn-confirm-text" }, t("Take this card off the board?")),
        h("button", { type: "button", class: "btn btn-danger small", "data-fkey": `withdraw-yes:${k.card}`,
          onclick: () => this.withdraw(k.card) }, t("Yes, withdraw")),
        h("button", { type: "button", class: "btn small", onclick: () => this.set("withdrawing", null) }, t("Cancel")));
    } else {
      if (k.theme != null) {
        actions.push(h("button", { type: "button", class: "btn small syn-out", "data-fkey": `out:${k.card}`,
          onclick: () => this.move(k.card, null) }, t("Take out of the theme")));
      }
      actions.push(h("button", { type: "button", class: "btn small syn-withdraw", "data-fkey": `withdraw:${k.card}`,
        "aria-label": t("Withdraw “{card}”", { card: title }), onclick: () => this.set("withdrawing", k.card) }, t("Withdraw")));
    }
    return h("div", { class: `syn-card${chosen ? " chosen" : ""}${alike.length ? " dup" : ""}`, "data-card": k.card },
      h("button", { type: "button", class: "syn-pick", "aria-pressed": String(chosen), "data-fkey": `pick:${k.card}`,
        onclick: () => this.choose(k.card) },
      h("span", { class: "syn-title" }, title),
      h("span", { class: "syn-from" }, from.join(" · "))),
      dup,
      notes.length
        ? h("details", { class: "syn-notes" },
          h("summary", {}, notes.length === 1 ? t("1 note") : t("{n} notes", { n: num(notes.length) })),
          h("ul", { class: "td-notes" }, notes.map((n) => h("li", { class: "note" }, n))))
        : null,
      h("div", { class: "syn-card-actions" }, actions));
  }

  sortable() {
    for (const s of this.sortables) s.destroy();
    this.sortables = [];
    const Sortable = globalThis.Sortable;
    if (!Sortable) return;
    for (const list of this.board.querySelectorAll(".syn-cards")) {
      this.sortables.push(new Sortable(list, {
        group: "cards",
        sort: false,
        handle: ".syn-pick",
        animation: matchMedia("(prefers-reduced-motion: reduce)").matches ? 0 : 150,
        forceFallback: true,
        fallbackTolerance: 4,
        delay: 120,
        delayOnTouchOnly: true,
        touchStartThreshold: 6,
        emptyInsertThreshold: 24,
        ghostClass: "drag-ghost",
        chosenClass: "drag-chosen",
        onStart: () => { this.dragging = true; },
        onEnd: (evt) => {
          this.dragging = false;
          this.justDragged = Date.now();
          const card = evt.item.dataset.card;
          this.dragged = card;
          const from = evt.from.dataset.theme || null;
          const to = evt.to.dataset.theme || null;
          if (card && from !== to) this.move(card, to);
          this.board.dataset.key = ""; // Sortable moved the node: draw from the record again
          this.render();
        },
      }));
    }
  }
}

function shorten(text) {
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}
