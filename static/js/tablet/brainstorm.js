// Brainstorm: a big "new note" box, and the table's notes as sticky notes, live and without names.
// Own notes (and, for a host, every note) can be edited or removed.
import { t } from "../i18n.js";
import { h, randomId, syncList } from "./dom.js";

export const NOTE_MAX = 280;

export class BrainstormView {
  constructor(app) {
    this.app = app;
    this.editing = null;   // the note being edited
    this.draft = "";       // its text so far
    this.confirming = null; // the note whose "Remove" was tapped once

    this.input = h("textarea", {
      id: "new-note", class: "new-note", maxlength: NOTE_MAX, rows: 3, enterkeyhint: "send",
      "aria-describedby": "new-note-count", placeholder: t("Write one idea…"),
      on: { input: () => this.count(), keydown: (e) => this.enter(e) },
    });
    this.counter = h("span", { id: "new-note-count", class: "counter", "aria-live": "off" });
    this.form = h("form", { class: "composer", on: { submit: (e) => this.add(e) } },
      h("label", { for: "new-note", class: "field-label", text: t("Your idea") }),
      this.input,
      h("div", { class: "composer-row" },
        this.counter,
        h("button", { type: "submit", class: "button primary big", text: t("Add note") })));
    this.heading = h("h2", { class: "section-title" });
    this.empty = h("p", { class: "empty", text: t("No notes yet. Write the first idea!") });
    this.list = h("ul", { class: "notes board-notes", "aria-labelledby": "notes-title" });
    this.heading.id = "notes-title";
    this.el = h("section", { class: "phase-view brainstorm" }, this.form, this.heading, this.empty, this.list);
    this.count();
  }

  reset() {
    this.editing = null;
    this.confirming = null;
    this.input.value = "";
    this.count();
  }

  count() {
    const n = this.input.value.length;
    this.counter.textContent = t("{n} of {max} letters", { n, max: NOTE_MAX });
    this.counter.classList.toggle("near-limit", n > NOTE_MAX - 30);
  }

  enter(e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.form.requestSubmit();
    }
  }

  add(e) {
    e.preventDefault();
    const text = this.input.value.trim();
    if (!text) {
      this.app.problem(t("Write something on the note first."));
      this.input.focus();
      return;
    }
    this.app.send("note.add", { note: randomId("n"), text: text.slice(0, NOTE_MAX) });
    this.input.value = "";
    this.count();
    this.input.focus();
  }

  canChange(note) {
    return note.mine || this.app.role === "host";
  }

  render(board) {
    const notes = board.notes;
    this.heading.textContent = t("Notes at this table ({n})", { n: notes.length });
    this.empty.hidden = notes.length > 0;
    if (this.editing && !notes.some((n) => n.note === this.editing)) this.editing = null;
    syncList(this.list, notes, {
      key: (n) => n.note,
      sig: (n) => JSON.stringify([n.text, n.mine, n.pending, this.canChange(n), this.editing === n.note,
        this.confirming === n.note]),
      build: (n) => this.note(n),
    });
  }

  note(n) {
    const classes = ["note", n.mine ? "mine" : "", n.pending ? "pending" : ""].join(" ");
    if (this.editing === n.note) return this.editor(n, classes);
    const actions = this.canChange(n)
      ? h("div", { class: "note-actions" },
        h("button", { type: "button", class: "button small", text: t("Edit"),
          on: { click: () => this.startEdit(n) } }),
        this.confirming === n.note
          ? h("button", { type: "button", class: "button small danger", text: t("Yes, remove"),
            on: { click: () => this.remove(n) } })
          : h("button", { type: "button", class: "button small", text: t("Remove"),
            on: { click: () => this.confirm(n) } }))
      : null;
    return h("li", { class: classes },
      h("p", { class: "note-text", text: n.text }),
      n.pending ? h("p", { class: "badge waiting", text: t("Waiting to be sent") })
        : n.mine ? h("p", { class: "badge", text: t("Your note") }) : null,
      actions);
  }

  editor(n, classes) {
    const area = h("textarea", { class: "edit-note", maxlength: NOTE_MAX, rows: 4,
      "aria-label": t("Edit your note"),
      on: { input: (e) => { this.draft = e.target.value; },
        keydown: (e) => {
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); this.saveEdit(n); }
          if (e.key === "Escape") this.stopEdit();
        } } });
    area.value = this.draft;
    queueMicrotask(() => area.isConnected && document.activeElement !== area && area.focus());
    return h("li", { class: `${classes} editing` },
      area,
      h("div", { class: "note-actions" },
        h("button", { type: "button", class: "button small primary", text: t("Save"),
          on: { click: () => this.saveEdit(n) } }),
        h("button", { type: "button", class: "button small", text: t("Cancel"),
          on: { click: () => this.stopEdit() } })));
  }

  startEdit(n) {
    this.editing = n.note;
    this.draft = n.text;
    this.confirming = null;
    this.app.render();
  }

  stopEdit() {
    this.editing = null;
    this.app.render();
  }

  saveEdit(n) {
    const text = this.draft.trim();
    if (!text) {
      this.app.problem(t("A note cannot be empty. Use Remove to take it away."));
      return;
    }
    if (text !== n.text) this.app.send("note.edit", { note: n.note, text: text.slice(0, NOTE_MAX) });
    this.stopEdit();
  }

  confirm(n) {
    this.confirming = n.note;
    clearTimeout(this.confirmTimer);
    this.confirmTimer = setTimeout(() => { this.confirming = null; this.app.render(); }, 5000);
    this.app.render();
  }

  remove(n) {
    this.confirming = null;
    this.app.send("note.remove", { note: n.note });
    this.app.announce(t("The note is removed."));
  }
}
