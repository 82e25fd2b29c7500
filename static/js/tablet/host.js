// What only a table's host does for the hall's record, below the table's own view:
// - at results, send the table's named groups to the hall's board ("card.send", one per group),
//   where the facilitator gathers the themes of all tables; a group already there shows as sent;
// - write the table's recommendations (title and text), and change them while no vote is on them.
import { t } from "../i18n.js";
import { h, randomId, syncList } from "./dom.js";

const TITLE_MAX = 120;
const TEXT_MAX = 5000;

export class HostPanel {
  constructor(app, el) {
    this.app = app;
    this.el = el;
    this.sentHere = new Set();   // "activity:cluster" the server said were already on the board
    this.cards = new Map();      // card id -> "activity:cluster" of a card.send on its way
    this.editing = null;         // recommendation id being changed, or null for a new one

    this.themes = h("section", { class: "host-block send-themes", "aria-labelledby": "send-themes-title" });
    this.recList = h("ul", { class: "recs" });
    this.recTitle = h("input", { type: "text", id: "rec-title", maxlength: TITLE_MAX, autocomplete: "off" });
    this.recText = h("textarea", { id: "rec-text", rows: 5, maxlength: TEXT_MAX });
    this.recError = h("p", { class: "form-error", role: "alert" });
    this.recSave = h("button", { type: "submit", class: "button primary" });
    this.recCancel = h("button", { type: "button", class: "button", text: t("Cancel"),
      on: { click: () => this.edit(null) } });
    this.formTitle = h("h3", { class: "host-subtitle" });
    const form = h("form", { class: "rec-form", on: { submit: (e) => this.submit(e) } },
      this.formTitle,
      h("label", { class: "field-label", for: "rec-title", text: t("Title") }),
      this.recTitle,
      h("label", { class: "field-label", for: "rec-text", text: t("What do you recommend, and why?") }),
      this.recText,
      this.recError,
      h("div", { class: "rec-actions" }, this.recCancel, this.recSave));
    this.recs = h("section", { class: "host-block recommendations", "aria-labelledby": "recs-title" },
      h("h2", { id: "recs-title", class: "section-title", text: t("Our recommendations") }),
      h("p", { class: "hint", text: t("Write the table's recommendations for the whole assembly. Only hosts can write them.") }),
      this.recList,
      form);
    this.el.replaceChildren(this.themes, this.recs);
    this.edit(null);
    this.themesSig = null;
  }

  get tableId() {
    return this.app.roomName ? this.app.roomName.slice("table:".length) : null;
  }

  render(board, table, hall) {
    const host = this.app.role === "host";
    const phase = table?.board ? table.phase : "idle";
    const atResults = host && !!board && phase === "results";
    const writing = host && (phase === "results" || phase === "idle");
    this.el.hidden = !(atResults || writing);
    if (this.el.hidden || !hall) return;
    this.themes.hidden = !atResults;
    if (atResults) this.renderThemes(board, hall);
    this.recs.hidden = !writing;
    if (writing) this.renderRecs(hall);
  }

  // -- the table's groups to the hall's board

  groups(board, hall) {
    const onBoard = new Set((hall.synthesis?.cards || []).filter((k) => k.table === this.tableId)
      .map((k) => `${k.activity}:${k.cluster}`));
    const sending = new Set(this.app.live.outbox.filter((c) => c.op === "card.send").map((c) => this.cards.get(c.args.card)));
    return board.clusters.filter((c) => (c.title || "").trim()).map((c) => {
      const key = `${board.activity}:${c.cluster}`;
      const state = onBoard.has(key) || this.sentHere.has(key) ? "sent" : sending.has(key) ? "sending" : "new";
      return { cluster: c.cluster, title: c.title, state };
    });
  }

  renderThemes(board, hall) {
    const groups = this.groups(board, hall);
    const unnamed = board.clusters.length - groups.length;
    const sig = JSON.stringify([groups, unnamed, this.app.live.status]);
    if (sig === this.themesSig) return;
    this.themesSig = sig;
    const left = groups.filter((g) => g.state === "new");
    const hadFocus = this.themes.contains(document.activeElement);
    const words = { sent: t("Sent to the hall"), sending: t("Sending…"), new: t("Not sent yet") };
    this.themes.replaceChildren(
      h("h2", { id: "send-themes-title", class: "section-title", text: t("Our themes for the hall") }),
      h("p", { class: "hint", text: t("Send your table's groups to the hall's board, where the facilitator gathers the themes of all tables.") }),
      groups.length
        ? h("ul", { class: "sent-list" }, groups.map((g) => h("li", { class: `sent-item ${g.state}` },
          h("span", { class: "sent-title", text: g.title }),
          h("span", { class: "sent-state", text: words[g.state] }))))
        : h("p", { class: "empty", text: t("Your table has no named groups to send.") }),
      unnamed > 0
        ? h("p", { class: "hint", text: unnamed === 1 ? t("1 group without a name is not sent.")
          : t("{n} groups without a name are not sent.", { n: unnamed }) }) : null,
      left.length
        ? h("button", { type: "button", id: "send-themes", class: "button primary big",
          on: { click: () => this.sendThemes(board, hall) } }, t("Send our themes to the hall"))
        : groups.length && groups.every((g) => g.state === "sent")
          ? h("p", { class: "sent-all", text: t("All your groups are on the hall's board.") }) : null);
    if (hadFocus) this.themes.querySelector("button")?.focus();
  }

  sendThemes(board, hall) {
    const left = this.groups(board, hall).filter((g) => g.state === "new");
    for (const g of left) {
      const card = randomId("c");
      this.cards.set(card, `${board.activity}:${g.cluster}`);
      this.app.send("card.send", { card, table: this.tableId, cluster: g.cluster }, "hall");
    }
    if (left.length) this.app.announce(left.length === 1 ? t("1 theme sent to the hall.")
      : t("{n} themes sent to the hall.", { n: left.length }), { quiet: true });
  }

  // -- the table's recommendations

  mine(hall) {
    const list = (hall.recommendations || []).filter((r) => r.table === this.tableId && !r.withdrawn)
      .map((r) => ({ ...r, pending: false }));
    for (const c of this.app.live.outbox) {
      if (c.room !== "hall") continue;
      const a = c.args || {};
      if (c.op === "recommendation.add" && !list.some((r) => r.recommendation === a.recommendation)) {
        list.push({ recommendation: a.recommendation, title: a.title, text: a.text, locked: null, adopted: null,
          pending: true });
      } else if (c.op === "recommendation.edit") {
        const r = list.find((x) => x.recommendation === a.recommendation);
        if (r) Object.assign(r, { title: a.title, text: a.text, pending: true });
      }
    }
    return list;
  }

  renderRecs(hall) {
    const list = this.mine(hall);
    syncList(this.recList, list, {
      key: (r) => r.recommendation,
      sig: (r) => JSON.stringify([r.title, r.text, r.locked, r.adopted, r.pending, this.editing === r.recommendation]),
      build: (r) => this.recItem(r),
    });
    if (this.editing && !list.some((r) => r.recommendation === this.editing && !r.locked && !r.adopted)) this.edit(null);
  }

  recItem(r) {
    let status = null;
    if (r.pending) status = t("Waiting to be saved…");
    else if (r.adopted) status = t("Adopted by the assembly");
    else if (r.locked) status = t("The assembly is voting on it now");
    return h("li", { class: `rec${r.pending ? " pending" : ""}${r.adopted ? " adopted" : ""}` },
      h("p", { class: "rec-title", text: r.title }),
      h("p", { class: "rec-text", text: r.text }),
      status ? h("p", { class: "badge rec-status", text: status }) : null,
      !r.locked && !r.adopted && this.editing !== r.recommendation
        ? h("button", { type: "button", class: "button small", on: { click: () => this.edit(r) } }, t("Edit"))
        : null);
  }

  edit(rec) {
    this.editing = rec ? rec.recommendation : null;
    this.recTitle.value = rec ? rec.title : "";
    this.recText.value = rec ? rec.text : "";
    this.recError.textContent = "";
    this.formTitle.textContent = rec ? t("Change the recommendation") : t("A new recommendation");
    this.recSave.textContent = rec ? t("Save changes") : t("Add recommendation");
    this.recCancel.hidden = !rec;
    for (const li of this.recList.children) li.dataset.sig = ""; // redraw the Edit buttons
    if (this.themesSig !== undefined) this.app.render(); // not while constructing
    if (rec) this.recTitle.focus();
  }

  submit(e) {
    e.preventDefault();
    const title = this.recTitle.value.trim();
    const text = this.recText.value.trim();
    if (!title || !text) {
      this.recError.textContent = t("Write both a title and the recommendation.");
      (title ? this.recText : this.recTitle).focus();
      return;
    }
    if (this.editing) {
      this.app.send("recommendation.edit", { recommendation: this.editing, title, text }, "hall");
      this.app.announce(t("The recommendation is changed."), { quiet: true });
    } else {
      this.app.send("recommendation.add", { recommendation: randomId("r"), title, text }, "hall");
      this.app.announce(t("The recommendation is added."), { quiet: true });
    }
    this.edit(null);
  }

  /** A refused command of ours: true if handled here (a group already on the board counts as sent). */
  refused(command, code) {
    if (command?.op === "card.send" && code === "duplicate_id") {
      const board = this.app.board();
      const key = this.cards.get(command.args.card) ?? (board && `${board.activity}:${command.args.cluster}`);
      if (key) this.sentHere.add(key);
      this.themesSig = null;
      return true;
    }
    return false;
  }
}
