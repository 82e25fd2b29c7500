// Check-in: while the facilitator has a day open, a big "I'm here today" button. A check-in counts
// the member among those present, the base of every vote's turnout that day. Who checked in is
// never shown to anyone; this tablet remembers its own check-in per day (localStorage), so a reload
// still says "Checked in". Checking in twice is harmless: the server acks it and logs nothing.
import { t } from "../i18n.js";
import { h } from "./dom.js";

export class CheckIn {
  constructor(app, el) {
    this.app = app;
    this.el = el;
    this.sig = null;
    this.sent = new Map(); // command id -> the day it checked in for
  }

  key(day) {
    return `samling.checkin.${this.app.live.token.slice(-16)}.${day}`;
  }

  done(day) {
    try {
      return localStorage.getItem(this.key(day)) === "1";
    } catch {
      return false;
    }
  }

  /** The server acknowledged a check-in: remember it for the day it was for. */
  acked(commandId, hall) {
    const day = this.sent.get(commandId) ?? hall?.attendance?.open_day;
    this.sent.delete(commandId);
    if (day == null) return;
    try {
      localStorage.setItem(this.key(day), "1");
    } catch {
      // storage unavailable: the button shows again after a reload, and a second check-in is harmless
    }
    this.app.announce(t("You are checked in. Thank you!"));
  }

  render(hall) {
    const attendance = hall?.attendance;
    const day = attendance?.open_day ?? null;
    if (day == null) {
      this.el.hidden = true;
      this.sig = null;
      return;
    }
    const label = attendance.days?.find((d) => d.day === day)?.label || "";
    const pending = this.app.live.outbox.some((c) => c.op === "day.checkin");
    const state = this.done(day) ? "done" : pending ? "sending" : "ask";
    const sig = JSON.stringify([day, label, state]);
    this.el.hidden = false;
    if (sig === this.sig) return;
    const hadFocus = this.el.contains(document.activeElement);
    this.sig = sig;
    this.el.dataset.state = state;
    if (state === "done") {
      this.el.replaceChildren(
        h("p", { class: "checkin-done" },
          h("span", { class: "checkin-mark", "aria-hidden": "true", text: "✓" }),
          h("span", { text: t("Checked in") })),
        label ? h("p", { class: "checkin-day", text: label }) : null);
    } else {
      this.el.replaceChildren(
        h("button", { type: "button", id: "checkin-button", class: "button primary big checkin-button",
          disabled: state === "sending", on: { click: () => this.checkIn(day) } },
        state === "sending" ? t("Checking in…") : t("I'm here today")),
        h("p", { class: "checkin-day",
          text: label ? t("{day}: tap when you have arrived.", { day: label }) : t("Tap when you have arrived.") }));
      if (hadFocus) this.el.querySelector("button")?.focus();
    }
  }

  checkIn(day) {
    const id = this.app.send("day.checkin", {}, "hall");
    this.sent.set(id, day);
  }
}
