// The tables: a live grid of every table room (phase, notes, clusters, dots used, devices
// connected, time since its last event, a "quiet" badge), and one table's board read-only in a
// dialog. A card's device count is a button of its own: it opens that table's devices (devices.js).
import { t } from "../i18n.js";
import { ranked, totalsVisible } from "../state.js";
import { ago, h, num, openModal, phaseName, renderKeyed, setText } from "./common.js";

export const QUIET_AFTER = 3 * 60 * 1000;
const WORKING = new Set(["brainstorm", "cluster", "vote"]);

export class Tables {
  /** ctx: {rooms(), act(label, promise), send(op, args), onSpotlight(id), onDevices(id), onSend(id), unsent(id)} */
  constructor(ctx) {
    this.ctx = ctx;
    this.grid = document.getElementById("grid");
    this.summary = document.getElementById("tables-summary");
    this.cards = new Map();        // table id -> {li, fields}
    this.lastEvent = {};           // table id -> client ms of its last event (or of the first welcome)
    this.seen = new Set();         // tables with an event since this page opened
    this.devices = null;           // table id -> devices connected (null until the server says)
    this.dialog = document.getElementById("table-dialog");
    this.open = null;              // the table shown in the dialog
    document.getElementById("td-close").addEventListener("click", () => this.dialog.close());
    this.dialog.addEventListener("close", () => { this.open = null; });
    document.getElementById("td-spotlight").addEventListener("click", () => {
      if (this.open != null) ctx.onSpotlight(this.open);
    });
    for (const b of document.querySelectorAll("#td-phases [data-phase]")) {
      b.addEventListener("click", () => {
        if (this.open == null) return;
        const name = this.name(this.open);
        ctx.act(t("Could not move {table}", { table: name }),
          ctx.send("phase.set", { phase: b.dataset.phase, tables: [this.open] }));
      });
    }
  }

  name(id) {
    const hall = this.ctx.rooms().hall;
    const known = hall && (hall.tables || []).find((x) => x.id === id);
    const room = this.ctx.rooms()[`table:${id}`];
    return (room && room.name) || (known && known.name) || id;
  }

  /** Every table id, in the hall's order. */
  ids() {
    const hall = this.ctx.rooms().hall;
    return hall ? (hall.tables || []).map((x) => x.id) : [];
  }

  /** A welcome: tables never heard from count from now. */
  welcomed() {
    const now = Date.now();
    for (const id of this.ids()) this.lastEvent[id] ??= now;
  }

  /** The server's count of connected devices per table. */
  setPresence(tables) {
    this.devices = { ...tables };
  }

  /** A table event arrived. */
  touched(room) {
    if (!room || !room.startsWith("table:")) return;
    const id = room.slice(6);
    this.lastEvent[id] = Date.now();
    this.seen.add(id);
  }

  render() {
    const ids = this.ids();
    const now = Date.now();
    // Cards are made once and then updated in place, so a click never lands on a replaced node.
    for (const [id, card] of this.cards) {
      if (!ids.includes(id)) {
        card.li.remove();
        this.cards.delete(id);
      }
    }
    let quiet = 0;
    ids.forEach((id, i) => {
      let card = this.cards.get(id);
      if (!card) {
        card = this.card(id);
        this.cards.set(id, card);
      }
      if (this.grid.children[i] !== card.li) this.grid.insertBefore(card.li, this.grid.children[i] || null);
      if (this.update(id, card, now)) quiet += 1;
    });
    const count = ids.length === 1 ? t("1 table") : t("{n} tables", { n: num(ids.length) });
    setText(this.summary, ids.length ? (quiet ? t("{tables} · {q} quiet", { tables: count, q: num(quiet) }) : count) : "");
    if (this.open != null) this.renderDialog();
  }

  card(id) {
    const f = {
      name: h("span", { class: "card-name" }),
      phase: h("span", { class: "phase-badge" }),
      notes: h("b", {}), clusters: h("b", {}), dots: h("b", {}), devices: h("b", {}),
      notesWord: h("span", {}), clustersWord: h("span", {}), dotsWord: h("span", {}), devicesWord: h("span", {}),
      offline: h("span", { class: "badge offline-badge", hidden: true }),
      last: h("span", { class: "card-last" }),
      quiet: h("span", { class: "badge quiet-badge", hidden: true }),
    };
    // The whole card opens the board (the button's hit area is stretched over the card in CSS),
    // except the device count, a button of its own on top of it.
    const open = h("button", { type: "button", class: "card-open", "aria-haspopup": "dialog",
      onclick: () => this.show(id) },
    h("span", { class: "card-top" }, f.name, f.phase),
    h("span", { class: "card-stats" },
      h("span", { class: "stat", "data-stat": "notes" }, f.notes, " ", f.notesWord),
      h("span", { class: "stat", "data-stat": "clusters" }, f.clusters, " ", f.clustersWord),
      h("span", { class: "stat", "data-stat": "dots" }, f.dots, " ", f.dotsWord)),
    h("span", { class: "card-foot" }, f.last, f.quiet, f.offline));
    f.devicesFor = h("span", { class: "visually-hidden" });
    const devices = h("button", { type: "button", class: "btn small card-devices", "data-stat": "devices",
      "aria-haspopup": "dialog", onclick: () => this.ctx.onDevices(id) },
    f.devices, " ", f.devicesWord, f.devicesFor, h("span", { class: "card-devices-more", "aria-hidden": "true" }, "›"));
    // At its results, the table's named clusters go to the hall board from here too.
    f.sendWord = h("span", {});
    f.send = h("button", { type: "button", class: "btn small card-send", hidden: true,
      onclick: () => this.ctx.onSend(id) }, h("span", { "aria-hidden": "true" }, "→"), f.sendWord);
    const box = h("div", { class: "card table-card", "data-table": id }, open,
      h("span", { class: "card-buttons" }, devices, f.send));
    return { li: h("li", {}, box), button: box, f };
  }

  /** Update one card; true when the table is quiet. */
  update(id, card, now) {
    const room = this.ctx.rooms()[`table:${id}`] || {};
    const board = room.board;
    const f = card.f;
    setText(f.name, this.name(id));
    setText(f.phase, phaseName(room.phase));
    if (f.phase.dataset.phase !== (room.phase || "idle")) f.phase.dataset.phase = room.phase || "idle";
    const notes = board ? board.notes.length : 0;
    const clusters = board ? board.clusters.length : 0;
    const dots = board ? board.dots_used : 0;
    setText(f.notes, num(notes));
    setText(f.clusters, num(clusters));
    setText(f.dots, num(dots));
    setText(f.notesWord, notes === 1 ? t("note") : t("notes"));
    setText(f.clustersWord, clusters === 1 ? t("cluster") : t("clusters"));
    setText(f.dotsWord, dots === 1 ? t("dot placed") : t("dots placed"));
    const since = now - (this.lastEvent[id] ?? now);
    setText(f.last, this.seen.has(id) ? t("Last change: {when}", { when: ago(since) })
      : t("No change since this page opened"));
    const devices = this.devices ? (this.devices[id] || 0) : null;
    setText(f.devices, devices == null ? "–" : num(devices));
    setText(f.devicesWord, devices === 1 ? t("device connected") : t("devices connected"));
    setText(f.devicesFor, ` · ${this.name(id)}`);
    const offline = devices === 0;
    if (f.offline.hidden === offline) f.offline.hidden = !offline;
    if (offline) setText(f.offline, "⚠ " + t("No device connected"));
    card.button.classList.toggle("offline", offline);
    const unsent = this.ctx.unsent ? this.ctx.unsent(id).length : 0;
    if (f.send.hidden !== !unsent) f.send.hidden = !unsent;
    if (unsent) {
      setText(f.sendWord, unsent === 1 ? t("Send 1 cluster to the hall board")
        : t("Send {n} clusters to the hall board", { n: num(unsent) }));
    }
    const quiet = WORKING.has(room.phase) && since > QUIET_AFTER;
    if (f.quiet.hidden === quiet) f.quiet.hidden = !quiet;
    if (quiet) setText(f.quiet, "⚠ " + t("Quiet for {n} min", { n: num(Math.floor(since / 60000)) }));
    card.button.classList.toggle("quiet", quiet);
    return quiet;
  }

  show(id) {
    this.open = id;
    document.getElementById("td-board").dataset.key = "";
    this.renderDialog();
    openModal(this.dialog);
  }

  renderDialog() {
    const id = this.open;
    const room = this.ctx.rooms()[`table:${id}`] || {};
    setText(document.getElementById("td-title"), this.name(id));
    const badge = document.getElementById("td-phase");
    setText(badge, phaseName(room.phase));
    badge.dataset.phase = room.phase || "idle";
    for (const b of document.querySelectorAll("#td-phases [data-phase]")) {
      const pressed = String(b.dataset.phase === room.phase);
      if (b.getAttribute("aria-pressed") !== pressed) b.setAttribute("aria-pressed", pressed);
      b.disabled = !room.board;
    }
    const boardEl = document.getElementById("td-board");
    renderKeyed(boardEl, JSON.stringify([id, room.phase, room.board || null]), () => boardView(room));
  }
}

/** One table's board, read-only: the prompt, results (when visible), clusters and their notes. */
function boardView(room) {
  const b = room.board;
  if (!b) return h("p", { class: "empty" }, t("No activity has started at this table."));
  const parts = [];
  if (b.prompt) parts.push(h("p", { class: "td-prompt" }, b.prompt));
  const n = b.notes.length;
  const c = b.clusters.length;
  const d = b.dots_used;
  parts.push(h("p", { class: "td-counts" }, [
    n === 1 ? t("1 note") : t("{n} notes", { n: num(n) }),
    c === 1 ? t("1 cluster") : t("{n} clusters", { n: num(c) }),
    d === 1 ? t("1 dot placed") : t("{n} dots placed", { n: num(d) }),
  ].join(" · ")));
  if (totalsVisible(room)) {
    const rows = ranked(b);
    parts.push(h("h3", {}, t("Results")));
    parts.push(rows.length
      ? h("ol", { class: "td-results" }, rows.map((r) => h("li", { "data-kind": r.kind },
        h("span", { class: "td-title" }, r.title || t("Untitled cluster")),
        h("span", { class: "td-dots" }, r.dots === 1 ? t("1 dot") : t("{n} dots", { n: num(r.dots) })))))
      : h("p", { class: "empty" }, t("No notes yet.")));
  } else if (room.phase === "vote") {
    parts.push(h("p", { class: "form-note" }, t("Dot totals are hidden until the results phase.")));
  }
  const clustered = b.clusters.map((c) => {
    const notes = b.notes.filter((n) => n.cluster === c.cluster);
    return h("section", { class: "td-cluster" },
      h("h4", {}, c.title || t("Untitled cluster"), " ", h("span", { class: "summary" }, `(${num(notes.length)})`)),
      notes.length ? h("ul", { class: "td-notes" }, notes.map((n) => h("li", { class: "note" }, n.text)))
        : h("p", { class: "empty" }, t("No notes in this cluster.")));
  });
  const loose = b.notes.filter((n) => n.cluster == null);
  if (clustered.length) {
    parts.push(h("h3", {}, t("Clusters")));
    parts.push(h("div", { class: "td-clusters" }, clustered));
  }
  parts.push(h("h3", {}, b.clusters.length ? t("Notes not in a cluster") : t("Notes")));
  parts.push(loose.length ? h("ul", { class: "td-notes" }, loose.map((n) => h("li", { class: "note" }, n.text)))
    : h("p", { class: "empty" }, t("None.")));
  return parts;
}
