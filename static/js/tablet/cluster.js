// Cluster: put notes that belong together into groups. Drag a note with a finger (SortableJS),
// or, for anyone who cannot drag, tap a note to choose it and then tap the group it goes in.
// State is the truth: after every event the lists are drawn from state again, except while a
// drag is under way, when drawing waits for the drop (so a drag is never lost under a finger).
import { t } from "../i18n.js";
import { h, randomId, syncList } from "./dom.js";

export const TITLE_MAX = 80;

export class ClusterView {
  constructor(app) {
    this.app = app;
    this.selected = null;     // the note chosen by a tap
    this.renaming = null;     // the group being renamed
    this.draft = "";
    this.confirming = null;   // the group whose "Remove" was tapped once
    this.dragging = false;
    this.dirty = false;
    this.justDragged = 0;
    this.groups = new Map();  // cluster id -> {section, header, list, sortable}
    this.board = null;

    this.titleInput = h("input", { id: "new-group", class: "group-input", type: "text", maxlength: TITLE_MAX,
      autocomplete: "off", enterkeyhint: "done", placeholder: t("For example: Transport") });
    this.newForm = h("form", { class: "new-group", on: { submit: (e) => this.addGroup(e) } },
      h("label", { for: "new-group", class: "field-label", text: t("Name of a new group") }),
      h("div", { class: "inline-row" },
        this.titleInput,
        h("button", { type: "submit", class: "button primary", text: t("Make a group") })));

    this.selectionText = h("span", { class: "selection-text" });
    this.selectionBar = h("p", { class: "selection-bar", hidden: true },
      this.selectionText,
      h("button", { type: "button", class: "button small", text: t("Cancel"),
        on: { click: () => this.select(null) } }));

    this.looseCount = h("span", { class: "count" });
    this.looseMove = this.moveButton(null);
    this.looseList = this.makeList(null);
    this.loose = h("section", { class: "target loose", "aria-labelledby": "loose-title",
      on: { click: (e) => this.tapTarget(e, null) } },
    h("div", { class: "target-head" },
      h("h2", { id: "loose-title", class: "target-title" }, t("Not grouped"), " ", this.looseCount),
      this.looseMove),
    this.looseList);

    this.groupsEl = h("div", { class: "groups" });
    this.noGroups = h("p", { class: "empty", text: t("No groups yet. Make one above.") });
    this.el = h("section", { class: "phase-view cluster" },
      this.newForm, this.selectionBar,
      h("div", { class: "cluster-layout" }, this.loose, h("div", { class: "groups-wrap" }, this.noGroups, this.groupsEl)));
  }

  reset() {
    this.selected = null;
    this.renaming = null;
    this.confirming = null;
    this.titleInput.value = "";
  }

  // -- lists and dragging

  makeList(cluster) {
    // plain divs, not a list: each note in it is a button (tap to choose it)
    const list = h("div", { class: "notes drop", dataset: { cluster: cluster ?? "", empty: t("Drop notes here") } });
    list.sortable = new globalThis.Sortable(list, {
      group: "notes",
      sort: false,
      animation: matchMedia("(prefers-reduced-motion: reduce)").matches ? 0 : 150,
      forceFallback: true,        // the same finger-and-mouse dragging on every tablet
      fallbackTolerance: 4,
      delay: 120,
      delayOnTouchOnly: true,     // a quick tap still chooses the note
      touchStartThreshold: 6,
      emptyInsertThreshold: 24,
      ghostClass: "drag-ghost",
      chosenClass: "drag-chosen",
      dragClass: "drag-lifted",
      onStart: () => {
        this.dragging = true;
        this.el.classList.add("is-dragging");
      },
      onEnd: (evt) => {
        this.dragging = false;
        this.justDragged = Date.now();
        this.el.classList.remove("is-dragging");
        const note = evt.item.dataset.key;
        const from = evt.from.dataset.cluster || null;
        const to = evt.to.dataset.cluster || null;
        if (note && from !== to) this.move(note, to);
        this.app.render();
      },
    });
    return list;
  }

  moveButton(cluster) {
    return h("button", { type: "button", class: "button small move-here", hidden: true, text: t("Move here"),
      on: { click: (e) => { e.stopPropagation(); this.moveSelectedTo(cluster); } } });
  }

  // -- actions

  addGroup(e) {
    e.preventDefault();
    const title = this.titleInput.value.trim().slice(0, TITLE_MAX);
    const cluster = randomId("k");
    this.app.send("cluster.add", { cluster, title });
    this.titleInput.value = "";
    this.app.announce(title ? t("The group “{title}” is made.", { title }) : t("A new group is made."));
    if (this.selected) this.moveSelectedTo(cluster);
  }

  select(note) {
    this.selected = this.selected === note ? null : note;
    this.app.render();
    if (this.selected) this.app.announce(t("Note chosen. Now tap the group it belongs in."), { quiet: true });
  }

  tapTarget(e, cluster) {
    if (!this.selected || Date.now() - this.justDragged < 300) return;
    if (e.target.closest("button, input, textarea, .note, form")) return;
    this.moveSelectedTo(cluster);
  }

  moveSelectedTo(cluster) {
    const note = this.selected;
    this.selected = null;
    if (note) this.move(note, cluster);
    this.app.render();
  }

  move(note, cluster) {
    const current = this.board?.notes.find((n) => n.note === note);
    if (!current || (current.cluster ?? null) === cluster) return;
    this.app.send("note.move", { note, cluster });
    this.app.announce(cluster === null ? t("Moved to “Not grouped”.")
      : t("Moved to “{title}”.", { title: this.titleOf(cluster) }), { quiet: true });
  }

  titleOf(cluster) {
    const k = this.board?.clusters.find((c) => c.cluster === cluster);
    return k && k.title ? k.title : t("Untitled group");
  }

  startRename(k) {
    this.renaming = k.cluster;
    this.draft = k.title;
    this.confirming = null;
    this.app.render();
  }

  saveRename(k) {
    const title = this.draft.trim().slice(0, TITLE_MAX);
    if (title !== k.title) this.app.send("cluster.rename", { cluster: k.cluster, title });
    this.renaming = null;
    this.app.render();
  }

  confirmRemove(k) {
    this.confirming = k.cluster;
    clearTimeout(this.confirmTimer);
    this.confirmTimer = setTimeout(() => { this.confirming = null; this.app.render(); }, 5000);
    this.app.render();
  }

  removeGroup(k) {
    this.confirming = null;
    this.app.send("cluster.remove", { cluster: k.cluster });
    this.app.announce(t("The group is removed. Its notes are not grouped now."));
  }

  // -- drawing

  render(board) {
    this.board = board;
    if (this.dragging) {
      this.dirty = true; // drawn again at the drop
      return;
    }
    this.dirty = false;
    if (this.selected && !board.notes.some((n) => n.note === this.selected)) this.selected = null;
    const chosen = board.notes.find((n) => n.note === this.selected);
    this.el.classList.toggle("choosing", !!chosen);
    this.selectionBar.hidden = !chosen;
    if (chosen) {
      const preview = chosen.text.length > 60 ? `${chosen.text.slice(0, 57)}…` : chosen.text;
      this.selectionText.textContent = t("Chosen: “{note}”. Tap the group it belongs in.", { note: preview });
    }

    const loose = board.notes.filter((n) => n.cluster == null);
    this.looseCount.textContent = `(${loose.length})`;
    this.looseMove.hidden = !chosen || chosen.cluster == null;
    this.syncNotes(this.looseList, loose);

    this.noGroups.hidden = board.clusters.length > 0;
    syncList(this.groupsEl, board.clusters, {
      key: (k) => k.cluster,
      sig: () => "",
      build: (k) => this.group(k),
    });
    for (const [id, g] of this.groups) {
      if (!g.section.isConnected) {
        g.list.sortable.destroy();
        this.groups.delete(id);
      }
    }
    for (const k of board.clusters) {
      const g = this.groups.get(k.cluster);
      this.groupHead(g, k, chosen);
      this.syncNotes(g.list, board.notes.filter((n) => n.cluster === k.cluster));
    }
  }

  group(k) {
    const head = h("div", { class: "target-head" });
    const list = this.makeList(k.cluster);
    const section = h("section", { class: "target group", dataset: { cluster: k.cluster },
      on: { click: (e) => this.tapTarget(e, k.cluster) } }, head, list);
    this.groups.set(k.cluster, { section, head, list });
    return section;
  }

  groupHead(g, k, chosen) {
    const count = this.board.notes.filter((n) => n.cluster === k.cluster).length;
    const canMove = !!chosen && chosen.cluster !== k.cluster;
    const sig = JSON.stringify([k.title, k.pending, count, canMove, this.renaming === k.cluster,
      this.confirming === k.cluster, this.app.role]);
    g.section.classList.toggle("pending", k.pending);
    if (g.head.dataset.sig === sig) return;
    g.head.dataset.sig = sig;
    const titleId = `title-${k.cluster}`;
    g.section.setAttribute("aria-labelledby", titleId);
    if (this.renaming === k.cluster) {
      const input = h("input", { class: "group-input", type: "text", maxlength: TITLE_MAX, id: titleId,
        "aria-label": t("New name for the group"),
        on: { input: (e) => { this.draft = e.target.value; },
          keydown: (e) => {
            if (e.key === "Enter") { e.preventDefault(); this.saveRename(k); }
            if (e.key === "Escape") { this.renaming = null; this.app.render(); }
          } } });
      input.value = this.draft;
      g.head.replaceChildren(
        input,
        h("div", { class: "group-actions" },
          h("button", { type: "button", class: "button small primary", text: t("Save"),
            on: { click: () => this.saveRename(k) } }),
          h("button", { type: "button", class: "button small", text: t("Cancel"),
            on: { click: () => { this.renaming = null; this.app.render(); } } })));
      queueMicrotask(() => input.isConnected && input.focus());
      return;
    }
    const move = this.moveButton(k.cluster);
    move.hidden = !canMove;
    g.head.replaceChildren(
      h("h2", { id: titleId, class: `target-title${k.title ? "" : " untitled"}` },
        k.title || t("Untitled group"), " ", h("span", { class: "count", text: `(${count})` })),
      h("div", { class: "group-actions" },
        move,
        h("button", { type: "button", class: "button small", text: t("Rename"),
          on: { click: () => this.startRename(k) } }),
        this.app.role === "host"
          ? this.confirming === k.cluster
            ? h("button", { type: "button", class: "button small danger", text: t("Yes, remove group"),
              on: { click: () => this.removeGroup(k) } })
            : h("button", { type: "button", class: "button small", text: t("Remove group"),
              on: { click: () => this.confirmRemove(k) } })
          : null));
  }

  syncNotes(list, notes) {
    syncList(list, notes, {
      key: (n) => n.note,
      sig: (n) => JSON.stringify([n.text, n.pending, this.selected === n.note]),
      build: (n) => this.note(n),
    });
  }

  note(n) {
    const chosen = this.selected === n.note;
    const pick = (e) => {
      if (Date.now() - this.justDragged < 300) return;
      e.stopPropagation();
      this.select(n.note);
    };
    return h("div", { class: `note${chosen ? " chosen" : ""}${n.pending ? " pending" : ""}`,
      role: "button", tabindex: 0, "aria-pressed": chosen ? "true" : "false",
      on: { click: pick, keydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pick(e); } } } },
    h("span", { class: "note-text", text: n.text }),
    n.pending ? h("span", { class: "badge waiting", text: t("Waiting to be sent") }) : null);
  }
}
