// One table's connected devices, by the label each tablet shows at its top ("Device K7QX"), in a
// small dialog opened from the table's card; and removing one: "Remove", then a confirmation that
// names the label, then POST /api/assemblies/<id>/revoke. The server closes the device's sockets
// and refuses its token from then on; the next presence frame (within seconds) drops it from the list.
import { errorBody } from "../api.js";
import { t } from "../i18n.js";
import { errorText, h, openModal, renderKeyed, setText } from "./common.js";

const BUTTONS = { remove: ".dd-remove", confirm: ".dd-yes", cancel: ".dd-no" };

/** [device, which button] of the button focused in the list, or []. */
function focusedIn(list) {
  const active = document.activeElement;
  if (!active || !list.contains(active)) return [];
  const which = Object.keys(BUTTONS).find((k) => active.matches(BUTTONS[k]));
  return which ? [active.closest("[data-device]")?.dataset.device, which] : [];
}

export class Devices {
  /** ctx: {name(table id), request(path, options) -> Promise<Response>, message(text, kind),
   *  openDay() -> the open day ({day, label}) or null, mark(device, present) -> Promise<bool>} */
  constructor(ctx) {
    this.ctx = ctx;
    this.lists = null;         // table id -> [{device, label}] (null until the server says)
    this.open = null;          // the table shown in the dialog
    this.confirming = null;    // the device whose "Remove" was pressed once
    this.busy = null;          // the device being removed right now
    this.removed = new Set();  // devices removed from this page, until presence drops them
    this.focus = null;         // what to focus after the next redraw: [device, a key of BUTTONS]
    this.dialog = document.getElementById("devices-dialog");
    this.list = document.getElementById("dd-list");
    document.getElementById("dd-close").addEventListener("click", () => this.dialog.close());
    this.dialog.addEventListener("close", () => {
      this.open = null;
      this.confirming = null;
      this.focus = null;
    });
  }

  /** The presence frame's `devices`: table id -> [{device, label}]. */
  setPresence(devices) {
    if (!devices || typeof devices !== "object") return;
    this.lists = devices;
    const present = new Set(Object.values(devices).flat().map((d) => d.device));
    for (const id of this.removed) if (!present.has(id)) this.removed.delete(id);
  }

  show(table) {
    this.open = table;
    this.confirming = null;
    this.render();
    openModal(this.dialog);
  }

  render() {
    const table = this.open;
    if (table == null) return;
    setText(document.getElementById("dd-title"), t("Devices at {table}", { table: this.ctx.name(table) }));
    const devices = this.lists ? this.lists[table] || [] : null;
    const day = this.ctx.openDay ? this.ctx.openDay() : null;
    const key = JSON.stringify([table, devices, this.confirming, this.busy, [...this.removed], day && day.day]);
    const [device, which] = this.focus || focusedIn(this.list);
    if (!renderKeyed(this.list, key, () => this.rows(table, devices))) return;
    this.focus = null;
    // The focus stays on its row's button across a redraw (a presence update, say), or goes to
    // the dialog's title when that button or row is gone.
    const row = device && [...this.list.children].find((li) => li.dataset.device === device);
    const target = row && row.querySelector(BUTTONS[which]);
    if (target) target.focus();
    else if (device) document.getElementById("dd-title").focus();
  }

  rows(table, devices) {
    if (devices == null) return h("li", { class: "empty" }, t("Waiting for the server's list of devices…"));
    if (!devices.length) return h("li", { class: "empty" }, t("No device is connected at this table."));
    return devices.map((d) => h("li", { class: "dd-device", "data-device": d.device },
      h("span", { class: "dd-label" }, t("Device {label}", { label: d.label })),
      this.actions(table, d)));
  }

  actions(table, d) {
    const label = d.label;
    if (this.removed.has(d.device)) {
      return h("span", { class: "dd-state" }, t("Removed: it disconnects in a moment"));
    }
    if (this.busy === d.device) return h("span", { class: "dd-state" }, t("Removing…"));
    if (this.confirming === d.device) {
      return h("span", { class: "dd-confirm" },
        h("span", { class: "dd-question" }, t("Remove device {label} from {table}? It must join again with the table's code.",
          { label, table: this.ctx.name(table) })),
        h("span", { class: "dd-buttons" },
          h("button", { type: "button", class: "btn btn-danger small dd-yes", onclick: () => this.revoke(table, d) },
            t("Yes, remove {label}", { label })),
          h("button", { type: "button", class: "btn small dd-no", onclick: () => this.ask(null, d.device) },
            t("Cancel"))));
    }
    const remove = h("button", { type: "button", class: "btn small dd-remove", "aria-label": t("Remove device {label}", { label }),
      disabled: this.busy != null, onclick: () => this.ask(d.device, d.device) }, t("Remove"));
    const day = this.ctx.openDay ? this.ctx.openDay() : null;
    if (!day) return remove;
    // With a day open: count a member present (one who did not check in) or not present (one who left).
    const mark = (present) => h("button", { type: "button", class: `btn small dd-mark`, "data-present": String(present),
      "aria-label": present ? t("Count device {label} as present today", { label })
        : t("Count device {label} as not present today", { label }),
      onclick: () => this.ctx.mark(d.device, present).then((ok) => {
        if (ok) {
          this.ctx.message(present ? t("Device {label} counts as present today.", { label })
            : t("Device {label} no longer counts as present today.", { label }), "info");
        }
      }) }, present ? t("Present") : t("Not present"));
    return h("span", { class: "dd-buttons" }, mark(true), mark(false), remove);
  }

  /** Show (or, with null, cancel) the confirmation for a device, and keep the focus on that row. */
  ask(device, row) {
    this.confirming = device;
    this.focus = [row, device ? "confirm" : "remove"];
    this.render();
  }

  async revoke(table, d) {
    this.confirming = null;
    this.busy = d.device;
    this.focus = [d.device, "remove"];
    this.render();
    const { label } = d;
    let removed = false;
    const failed = (why) => this.ctx.message(t("Could not remove device {label}: {why}", { label, why }));
    try {
      const r = await this.ctx.request("revoke", { method: "POST", json: { device: d.device } });
      if (r.ok) {
        removed = true;
        this.removed.add(d.device);
        this.ctx.message(t("Device {label} was removed from {table}.", { label, table: this.ctx.name(table) }), "info");
      } else {
        const body = await errorBody(r);
        failed(errorText({ code: body.error, msg: body.msg || String(r.status) }));
      }
    } catch {
      failed(t("the server could not be reached."));
    }
    this.busy = null;
    if (!removed) this.focus = [d.device, "remove"]; // back on its button, to try again
    this.render();
  }
}
