// The assembly's days: open one ("Lørdag 14. oktober"), close it, and see how many members have
// checked in today. Opening a day closes the one before; a closed day can be opened again and
// keeps its check-ins. Turnout in the votes counts those checked in while a day is open.
import { t } from "../i18n.js";
import { h, newId, num, rebuild, setText } from "./common.js";
import { when } from "./record.js";

const LABEL_MAX = 80;

export class Days {
  /** ctx: {record, act(label, promise), send(op, args), note(text), info(text)} */
  constructor(ctx) {
    this.ctx = ctx;
    this.form = document.getElementById("day-form");
    this.now = document.getElementById("day-now");
    this.present = document.getElementById("day-present");
    this.closeButton = document.getElementById("day-close");
    this.list = document.getElementById("day-list");
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.open();
    });
    this.closeButton.addEventListener("click", () => {
      const day = this.ctx.record.data.attendance.open_day;
      if (day) this.ctx.act(t("Could not close the day"), this.ctx.send("day.close", { day }));
    });
  }

  open() {
    const input = this.form.elements.label;
    const label = input.value.trim().slice(0, LABEL_MAX);
    if (!label) {
      this.ctx.note(t("Give the day a name, for example “Saturday 14 October”."));
      input.focus();
      return;
    }
    this.ctx.act(t("Could not open the day"), this.ctx.send("day.open", { day: newId("d"), label })).then((ok) => {
      if (ok) input.value = "";
    });
  }

  reopen(day) {
    this.ctx.act(t("Could not open the day"), this.ctx.send("day.open", { day: day.day, label: day.label }));
  }

  render() {
    const a = this.ctx.record.data.attendance;
    const open = a.days.find((d) => d.day === a.open_day);
    setText(this.now, open ? t("Today: {day}", { day: open.label }) : t("No day is open."));
    this.now.classList.toggle("empty", !open);
    this.present.hidden = !open;
    if (open) {
      setText(this.present, a.present === 1 ? t("1 member has checked in today")
        : t("{n} members have checked in today", { n: num(a.present || 0) }));
    }
    this.closeButton.hidden = !open;
    const past = a.days.filter((d) => d.day !== a.open_day);
    rebuild(this.list, JSON.stringify([past, a.open_day]), () => past.map((d) => h("li", { class: "day-past", "data-day": d.day },
      h("span", { class: "day-label" }, d.label),
      h("span", { class: "summary" }, [
        d.present === 1 ? t("1 checked in") : t("{n} checked in", { n: num(d.present || 0) }),
        d.closed_at ? t("closed {when}", { when: when(d.closed_at) }) : null,
      ].filter(Boolean).join(" · ")),
      h("button", { type: "button", class: "btn small", "data-fkey": `reopen:${d.day}`,
        "aria-label": t("Open {day} again", { day: d.label }), onclick: () => this.reopen(d) }, t("Open again")))));
  }
}
