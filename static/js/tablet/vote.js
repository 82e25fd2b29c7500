// Vote: tap a group (or a note that is in no group) to give it one of your dots; take a dot back
// with "Remove a dot". Dots left are shown large. Totals stay hidden until the results, unless
// the facilitator chose to show them.
import { t } from "../i18n.js";
import { h, syncList } from "./dom.js";

export function targetsOf(board) {
  const rows = board.clusters.map((k) => ({
    target: k.cluster, kind: "cluster", title: k.title,
    notes: board.notes.filter((n) => n.cluster === k.cluster).map((n) => n.text),
  }));
  for (const n of board.notes) {
    if (n.cluster == null) rows.push({ target: n.note, kind: "note", title: n.text, notes: [] });
  }
  return rows;
}

function dotRow(filled, total, label) {
  const dots = [];
  for (let i = 0; i < total; i++) dots.push(h("span", { class: `dot${i < filled ? " filled" : ""}` }));
  return h("span", { class: "dot-row", role: "img", "aria-label": label }, dots);
}

export class VoteView {
  constructor(app) {
    this.app = app;
    this.leftNumber = h("span", { class: "dots-left-number" });
    this.leftDots = h("span", { class: "dots-left-dots" });
    this.left = h("div", { class: "dots-left", "aria-live": "polite" },
      h("span", { class: "dots-left-label", text: t("Dots left:") }), " ", this.leftNumber, this.leftDots);
    this.empty = h("p", { class: "empty", text: t("There is nothing to vote on at this table.") });
    this.list = h("ul", { class: "vote-targets" });
    this.el = h("section", { class: "phase-view vote" }, this.left, this.empty, this.list);
  }

  reset() {}

  render(board) {
    this.board = board;
    this.leftNumber.textContent = String(board.dotsLeft);
    this.leftDots.replaceChildren(dotRow(board.dotsLeft, board.dots,
      t("{n} of {total} dots left", { n: board.dotsLeft, total: board.dots })));
    this.left.classList.toggle("none-left", board.dotsLeft === 0);
    const rows = targetsOf(board);
    this.empty.hidden = rows.length > 0;
    const totals = board.showTotals ? board.totals || {} : null;
    syncList(this.list, rows, {
      key: (r) => r.target,
      sig: (r) => JSON.stringify([r.kind, r.title, r.notes, board.myDots[r.target] || 0,
        board.pendingDots[r.target] || 0, totals ? totals[r.target] || 0 : null, board.dotsLeft === 0,
        board.maxPerTarget]),
      build: (r) => this.target(r, board, totals),
    });
  }

  target(r, board, totals) {
    const mine = board.myDots[r.target] || 0;
    const title = r.kind === "cluster" ? r.title || t("Untitled group") : r.title;
    const full = mine >= board.maxPerTarget;
    return h("li", { class: `vote-target kind-${r.kind}${mine ? " has-dots" : ""}` },
      h("button", { type: "button", class: `give-dot${full || board.dotsLeft === 0 ? " spent" : ""}`,
        "aria-describedby": `mine-${r.target}`,
        on: { click: () => this.give(r, title) } },
      h("span", { class: "kind", text: r.kind === "cluster" ? t("Group") : t("Note") }),
      h("span", { class: "target-name", text: title }),
      r.notes.length ? h("span", { class: "target-notes" },
        r.notes.map((text) => h("span", { class: "target-note", text }))) : null,
      h("span", { class: "give-label", text: full ? t("Most dots allowed here") : t("Tap to give a dot") })),
      h("div", { class: "target-foot" },
        h("p", { id: `mine-${r.target}`, class: "my-dots" },
          dotRow(mine, board.maxPerTarget, t("Your dots here: {n}", { n: mine })),
          h("span", { text: t("Your dots: {n}", { n: mine }) })),
        totals ? h("p", { class: "total", text: (totals[r.target] || 0) === 1 ? t("1 dot from the table")
          : t("{n} dots from the table", { n: totals[r.target] || 0 }) }) : null,
        mine ? h("button", { type: "button", class: "button remove-dot",
          "aria-label": t("Remove a dot from “{title}”", { title }),
          text: t("Remove a dot"), on: { click: () => this.take(r, title) } }) : null));
  }

  give(r, title) {
    const board = this.board;
    const mine = board.myDots[r.target] || 0;
    if (board.dotsLeft <= 0) {
      this.app.problem(t("You have used all your dots. Remove a dot somewhere if you want to move it."));
      return;
    }
    if (mine >= board.maxPerTarget) {
      this.app.problem(t("You can give at most {n} dots to one idea.", { n: board.maxPerTarget }));
      return;
    }
    this.app.send("dot.add", { target: r.target });
    this.app.announce(t("Dot given to “{title}”. Dots left: {n}", { title, n: board.dotsLeft - 1 }));
  }

  take(r, title) {
    this.app.send("dot.remove", { target: r.target });
    this.app.announce(t("Dot taken back from “{title}”. Dots left: {n}", { title, n: this.board.dotsLeft + 1 }));
  }
}
