// Results: the table's groups and loose notes, most dots first (ranked as the server ranks them).
import { ranked } from "../state.js";
import { t } from "../i18n.js";
import { h, syncList } from "./dom.js";

export class ResultsView {
  constructor(app) {
    this.app = app;
    this.empty = h("p", { class: "empty", text: t("There are no results at this table.") });
    this.list = h("ol", { class: "results" });
    this.el = h("section", { class: "phase-view results-view" }, this.empty, this.list);
  }

  reset() {}

  render(board, table) {
    const rows = ranked(table.board);
    this.empty.hidden = rows.length > 0;
    syncList(this.list, rows.map((r, i) => ({ ...r, place: i + 1 })), {
      key: (r) => r.target,
      sig: (r) => JSON.stringify([r.place, r.title, r.notes, r.dots, board.myDots[r.target] || 0]),
      build: (r) => this.row(r, board.myDots[r.target] || 0),
    });
  }

  row(r, mine) {
    const title = r.kind === "cluster" ? r.title || t("Untitled group") : r.title;
    return h("li", { class: `result kind-${r.kind}${r.place <= 3 && r.dots > 0 ? " top" : ""}` },
      h("span", { class: "place", "aria-hidden": "true", text: String(r.place) }),
      h("div", { class: "result-body" },
        h("p", { class: "result-title", text: title }),
        r.kind === "cluster" && r.notes.length
          ? h("ul", { class: "result-notes" }, r.notes.map((text) => h("li", { text })))
          : null),
      h("p", { class: "result-dots" },
        h("span", { class: "result-number", text: String(r.dots) }),
        h("span", { class: "result-unit", text: r.dots === 1 ? t("dot") : t("dots") }),
        mine ? h("span", { class: "result-mine", text: t("{n} of them yours", { n: mine }) }) : null));
  }
}
