// The lead facilitator's dashboard (/facilitator): runs the hall (activity, phases, timer,
// spotlight, polls) and watches every table live, with the devices connected at each. It keeps the
// record too: the hall board of the tables' clusters, recommendations, adoption votes and days.
// It is in the hall room and every table room.
import { api, assemblyPath } from "./api.js";
import { Live } from "./connection.js";
import { lang, loadCatalog, t } from "./i18n.js";
import { Rooms } from "./state.js";
import { clock, errorText, h, newId, phaseName, setText, statusText, takeToken } from "./dashboard/common.js";
import { Adoption } from "./dashboard/adoption.js";
import { Days } from "./dashboard/days.js";
import { Devices } from "./dashboard/devices.js";
import { Polls } from "./dashboard/polls.js";
import { Recommendations } from "./dashboard/recommendations.js";
import { Record, emptyRecord } from "./dashboard/record.js";
import { Stage } from "./dashboard/stage.js";
import { Synthesis } from "./dashboard/synthesis.js";
import { Tables } from "./dashboard/tables.js";

const $ = (id) => document.getElementById(id);
const MESSAGE_MS = 12000;

let live = null;
let rooms = null;
let token = null;
let everOnline = false;
const stage = new Stage("samling.dashboard.stage");
const handled = new WeakSet(); // err frames already reported by act()

// -- messages: errors from the server in plain words, and short confirmations

function message(text, kind = "error") {
  const box = $("messages");
  const item = h("div", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" },
    h("span", { class: "message-icon", "aria-hidden": "true" }, kind === "error" ? "⚠" : "✓"),
    h("span", { class: "message-text" }, text),
    h("button", { type: "button", class: "btn small", "aria-label": t("Dismiss"), onclick: () => item.remove() }, "✕"));
  box.append(item);
  while (box.children.length > 3) box.firstElementChild.remove();
  setTimeout(() => item.remove(), kind === "error" ? MESSAGE_MS * 2 : MESSAGE_MS / 2);
}

/** Await a command; on refusal say so in plain words. Resolves true when acked. */
async function act(label, promise) {
  try {
    await promise;
    return true;
  } catch (err) {
    if (err && typeof err === "object") handled.add(err);
    message(`${label}: ${errorText(err)}`);
    return false;
  }
}

function send(op, args) {
  return live.send("hall", op, args);
}

/** A request to this assembly's HTTP API with the facilitator's token (the export, removing a device). */
function request(path, options) {
  const assembly = live && live.you && live.you.assembly;
  if (!assembly) return Promise.reject(new Error("not connected yet"));
  return api(assemblyPath(assembly, path), token, options);
}

// The record's copy until the first welcome (record.js keeps it from then on).
let record = { data: emptyRecord(), card: () => null, theme: () => null, recommendation: () => null, poll: () => null,
  alike: () => [] };

const ctx = {
  rooms: () => (rooms ? rooms.rooms : {}),
  get record() { return record; },
  act,
  send,
  note: (text) => message(text),
  info: (text) => message(text, "info"),
  name: (id) => tables.name(id),
  names: () => ((rooms && rooms.rooms.hall) || {}).tables || [],
  onSpotlight: (id) => spotlight(id),
  onDevices: (id) => devices.show(id),
  onSend: (id) => synthesis.sendTable(id),
  unsent: (id) => synthesis.unsent(id),
  onVote: (ids) => adoption.show(ids),
  onOpened: () => recommendations.clearPicked(),
};

const tables = new Tables(ctx);
const polls = new Polls(ctx);
const devices = new Devices({ name: (id) => tables.name(id), request, message,
  openDay: () => {
    const a = record.data.attendance;
    return a.days.find((d) => d.day === a.open_day) || null;
  },
  mark: (device, present) => act(t("Could not change who is present"), send("day.mark", { device, present })),
});
const synthesis = new Synthesis(ctx);
const recommendations = new Recommendations(ctx);
const adoption = new Adoption(ctx);
const days = new Days(ctx);

// -- run: activity, phases, timer, spotlight

function startActivity(form) {
  const dots = Number(form.elements.dots.value);
  const max = Number(form.elements.max_per_target.value);
  if (!Number.isInteger(dots) || dots < 1 || dots > 20) {
    message(t("Dots per member must be a whole number from 1 to 20."));
    return;
  }
  if (!Number.isInteger(max) || max < 1 || max > dots) {
    message(t("Most dots on one idea must be a whole number from 1 to {n}.", { n: dots }));
    return;
  }
  const args = { activity: newId("a"), prompt: form.elements.prompt.value.trim(), dots, max_per_target: max,
    show_totals: form.elements.show_totals.checked };
  const submit = form.querySelector("[type=submit]");
  submit.disabled = true;
  act(t("Could not start the activity"), send("activity.start", args)).then((ok) => {
    submit.disabled = false;
    if (!ok) return;
    form.elements.prompt.value = "";
    $("activity-new").open = false;
    message(t("The activity has started at every table."), "info");
  });
}

function setPhase(phase) {
  const target = $("phase-target").value;
  const args = target ? { phase, tables: [target] } : { phase };
  const who = target ? tables.name(target) : t("all tables");
  act(t("Could not move {table}", { table: who }), send("phase.set", args));
}

function startTimer(minutes) {
  const seconds = Math.round(minutes * 60);
  if (!(seconds >= 1 && seconds <= 86400)) {
    message(t("Give the timer a number of minutes (up to 1440)."));
    return;
  }
  act(t("Could not start the timer"), send("timer.start", { seconds }));
}

function spotlight(id) {
  const label = id == null ? t("Could not clear the display") : t("Could not spotlight {table}", { table: tables.name(id) });
  act(label, send("spotlight", { table: id })).then((ok) => {
    if (ok && id != null) message(t("{table} is on the display.", { table: tables.name(id) }), "info");
  });
}

/** Download one of the assembly's exports (json, zip, md) with the facilitator's token. */
async function exportFile(kind = "json") {
  const assembly = live && live.you && live.you.assembly;
  if (!assembly) {
    message(t("Wait until the dashboard is connected, then export."));
    return;
  }
  try {
    // The Markdown report is written in the page's language.
    const r = await request(kind === "md" ? `export.md?lang=${encodeURIComponent(lang)}` : `export.${kind}`);
    if (!r.ok) {
      message(t("The export failed (the server answered {status}).", { status: r.status }));
      return;
    }
    const url = URL.createObjectURL(await r.blob());
    const a = h("a", { href: url, download: `samling-${assembly}.${kind}`, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 30000);
  } catch {
    message(t("The export failed: the server could not be reached."));
  }
}

function wire() {
  $("activity-form").addEventListener("submit", (e) => {
    e.preventDefault();
    startActivity(e.target);
  });
  $("activity-form").elements.dots.addEventListener("input", (e) => {
    const dots = Number(e.target.value);
    if (Number.isInteger(dots) && dots >= 1) $("activity-form").elements.max_per_target.max = String(dots);
  });
  for (const b of document.querySelectorAll("#phase-buttons [data-phase]")) {
    b.addEventListener("click", () => setPhase(b.dataset.phase));
  }
  $("phase-target").addEventListener("change", () => render());
  for (const b of document.querySelectorAll(".timer-presets [data-minutes]")) {
    b.addEventListener("click", () => startTimer(Number(b.dataset.minutes)));
  }
  $("timer-form").addEventListener("submit", (e) => {
    e.preventDefault();
    startTimer(Number(String(e.target.elements.minutes.value).replace(",", ".")));
  });
  $("timer-stop").addEventListener("click", () => act(t("Could not stop the timer"), send("timer.stop", {})));
  $("clear-spotlight").addEventListener("click", () => spotlight(null));
  $("refresh-spotlight").addEventListener("click", () => {
    const hall = rooms && rooms.rooms.hall;
    if (hall && hall.spotlight && hall.spotlight.table != null) spotlight(hall.spotlight.table);
  });
  $("export").addEventListener("click", () => exportFile("json"));
  $("export-zip").addEventListener("click", () => exportFile("zip"));
  $("export-md").addEventListener("click", () => exportFile("md"));
  $("td-send").addEventListener("click", () => synthesis.sendTable(tables.open));
}

// -- rendering

function renderRun(hall) {
  setText($("assembly-name"), hall.name || t("Facilitator"));
  if (hall.name) document.title = `${hall.name} · ${t("Facilitator")} · Samling`;
  const activity = hall.activity;
  setText($("activity-now"), activity
    ? (activity.prompt || t("An activity without a prompt is running.")) : t("No activity yet."));
  $("activity-now").classList.toggle("empty", !activity || !activity.prompt);

  // Who the phase buttons move, and which phase they are in now.
  const select = $("phase-target");
  const ids = tables.ids();
  const wanted = ["", ...ids];
  if ([...select.options].map((o) => o.value).join("\n") !== wanted.join("\n")) {
    const chosen = select.value;
    select.replaceChildren(h("option", { value: "" }, t("All tables")),
      ...ids.map((id) => h("option", { value: id }, tables.name(id))));
    select.value = wanted.includes(chosen) ? chosen : "";
  }
  const target = select.value;
  const phases = ids.map((id) => (rooms.rooms[`table:${id}`] || {}).phase);
  const current = target ? (rooms.rooms[`table:${target}`] || {}).phase : hall.phase;
  for (const b of document.querySelectorAll("#phase-buttons [data-phase]")) {
    const pressed = String(b.dataset.phase === current);
    if (b.getAttribute("aria-pressed") !== pressed) b.setAttribute("aria-pressed", pressed);
    b.disabled = !activity;
  }
  const mixed = !target && new Set(phases).size > 1;
  const note = $("phase-note");
  note.hidden = activity && !mixed;
  setText(note, !activity ? t("Start an activity first.")
    : t("The tables are in different phases: {list}.", {
      list: ids.map((id, i) => `${tables.name(id)}: ${phaseName(phases[i])}`).join(", "),
    }));

  $("timer-stop").disabled = !hall.timer;

  const view = stage.view(hall);
  let shows;
  if (view.mode === "poll") {
    shows = view.poll.open ? t("The open poll: “{q}”", { q: view.poll.question })
      : t("The final result of “{q}”", { q: view.poll.question });
  } else if (view.mode === "spotlight") {
    shows = t("The results of {table}", { table: tables.name(view.spotlight.table) });
  } else if (record.data.themes.length > 0 || record.data.cards.length > 0) {  // as display.js decides
    shows = t("The hall's themes as they form");
  } else {
    shows = activity ? t("The prompt and the timer") : t("The assembly's name");
  }
  setText($("on-display"), shows);
  $("clear-spotlight").disabled = view.mode === "prompt" || (view.mode === "poll" && view.poll.open);
  $("refresh-spotlight").hidden = view.mode !== "spotlight";
}

function render() {
  const hall = rooms && rooms.rooms.hall;
  if (!hall) return;
  renderRun(hall);
  tables.render();
  devices.render();
  days.render();
  synthesis.render();
  recommendations.render();
  polls.render();
  tick();
}

function tick() {
  const hall = rooms && rooms.rooms.hall;
  if (!hall || !live) return;
  const el = $("timer-left");
  const timer = hall.timer;
  let state = "none";
  let text = t("No timer");
  if (timer) {
    const left = timer.ends_at - live.now();
    state = left > 0 ? "running" : "up";
    text = left > 0 ? clock(left) : t("Time is up");
  }
  setText(el, text);
  if (el.dataset.state !== state) el.dataset.state = state;
}

function showStatus({ status, waiting }) {
  if (status === "online") everOnline = true;
  const el = $("conn");
  if (el.dataset.status !== status) el.dataset.status = status;
  setText($("conn-text"), statusText(status, waiting, everOnline));
}

async function main() {
  wire();
  await loadCatalog();
  token = takeToken("facilitator");
  if (!token) {
    $("nolink").hidden = false;
    $("dash").hidden = true;
    showStatus({ status: "offline", waiting: 0 });
    return;
  }
  live = new Live(token);
  let frame = 0;
  const soon = () => {
    if (frame) return;
    frame = requestAnimationFrame(() => { frame = 0; render(); });
  };
  rooms = new Rooms(live, (room) => {
    tables.touched(room);
    soon();
  });
  record = new Record(live, soon);
  live.addEventListener("welcome", (e) => {
    const you = e.detail.you || {};
    if (you.role !== "facilitator") {
      live.stop();
      $("nolink").hidden = false;
      $("dash").hidden = true;
      setText($("nolink"), t("This is not a facilitator link. Open the facilitator link from the organiser."));
      return;
    }
    // The sheet finds its assembly in the link (the token it takes from this browser's storage).
    if (you.assembly) $("sheet-link").href = `/facilitator/sheet?assembly=${encodeURIComponent(you.assembly)}`;
    // The report finds its assembly in the link, and takes the token from the fragment.
    const query = you.assembly ? `?assembly=${encodeURIComponent(you.assembly)}` : "";
    $("report-link").href = `/facilitator/report${query}#token=${encodeURIComponent(token)}`;
    stage.welcome(e.detail, rooms.rooms.hall);
    tables.welcomed();
    if (!rooms.rooms.hall.activity) $("activity-new").open = true;
    soon();
  });
  live.addEventListener("ev", (e) => stage.event(e.detail));
  live.addEventListener("presence", (e) => {
    tables.setPresence(e.detail.tables);
    devices.setPresence(e.detail.devices);
    render();
  });
  live.addEventListener("status", (e) => showStatus(e.detail));
  live.addEventListener("closed", () => {
    message(t("This facilitator link is no longer valid. Ask the organiser for the current one."));
  });
  live.addEventListener("err", (e) => {
    // A refusal nobody awaits (a command resent from the outbox after a reload): say it too.
    setTimeout(() => {
      if (!handled.has(e.detail)) message(t("A change was refused: {why}", { why: errorText(e.detail) }));
    }, 0);
  });
  live.start();
  setInterval(tick, 250);
  setInterval(() => tables.render(), 5000);
}

main();
