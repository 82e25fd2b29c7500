// The plenary screen (/display): read-only, large type, no names, no controls. It follows the
// hall room and shows an open poll (an adoption vote with its recommendation and verdict), else
// the spotlighted table's results, else the hall's themes as they form (once the board has a
// theme or a card), else the prompt and the timer. It re-renders on every event, so a change
// shows within a frame of arriving.
import { Live } from "./connection.js";
import { loadCatalog, t } from "./i18n.js";
import { Rooms } from "./state.js";
import { clock, h, num, phaseName, pollBars, bar, takeToken, turnout } from "./dashboard/common.js";
import { Stage } from "./dashboard/stage.js";
import { drawAdoption, drawThemes, hasBoard } from "./display/record.js";
import { followRecord, recommendationOf } from "./tablet/record-state.js";

const stageEl = document.getElementById("stage");
const offlineEl = document.getElementById("offline");
const SPOTLIGHT_ROWS = 10;
const OFFLINE_GRACE = 1500;

let live = null;
let rooms = null;
let stage = null;
let offlineSince = null;
let timerEl = null;
let timerState = null;
let drawn = "";

function note(text) {
  stageEl.dataset.mode = "note";
  drawn = "";
  timerEl = null;
  stageEl.replaceChildren(h("p", { class: "stage-note" }, text));
}

function lengthClass(text, short, long) {
  const n = (text || "").length;
  return n <= short ? "short" : n <= long ? "medium" : "long";
}

function drawPoll(poll) {
  const hiddenNow = poll.hidden && poll.open;
  const state = !poll.open ? "final" : hiddenNow ? "hidden" : "open";
  const kicker = !poll.open ? t("Final result") : t("Vote on your tablet");
  const parts = [
    h("p", { class: "kicker" }, kicker),
    h("h1", { class: "question", "data-length": lengthClass(poll.question, 60, 140) }, poll.question),
  ];
  if (hiddenNow) {
    const share = poll.present ? poll.voters / poll.present : 0;
    parts.push(h("div", { class: "turnout-big" },
      h("p", { class: "turnout-text" }, turnout(poll)),
      bar(share),
      h("p", { class: "turnout-hint" }, t("Results are shown when the poll closes."))));
  } else {
    parts.push(pollBars(poll));
    parts.push(h("p", { class: "turnout" }, turnout(poll)));
  }
  const size = poll.options.length > 6 ? "many" : poll.options.length > 4 ? "some" : "few";
  return [state, h("div", { class: "disp-poll", "data-state": state, "data-size": size }, parts)];
}

function drawSpotlight(hall, spotlight) {
  const table = (hall.tables || []).find((x) => x.id === spotlight.table);
  const rows = spotlight.results || [];
  const shown = rows.slice(0, SPOTLIGHT_ROWS);
  const withDots = rows.some((r) => r.dots != null);
  const list = shown.length
    ? h("ol", { class: "ranked", "data-rows": shown.length },
      shown.map((r, i) => h("li", { class: "ranked-row", "data-kind": r.kind },
        // Without dots (the table's totals are still hidden) the order is not a ranking.
        h("span", { class: "rank" }, withDots ? num(i + 1) : "•"),
        h("span", { class: "ranked-title" }, r.title || t("Untitled cluster")),
        // Dots are absent while the table's totals are hidden; the empty cell keeps the grid's columns.
        r.dots != null
          ? h("span", { class: "ranked-dots" }, r.dots === 1 ? t("1 dot") : t("{n} dots", { n: num(r.dots) }))
          : h("span", { class: "ranked-none" }))))
    : h("p", { class: "stage-note" }, t("This table has no notes yet."));
  return h("div", { class: "disp-spot" },
    h("p", { class: "kicker" }, withDots ? t("Results from the table") : t("Ideas from the table")),
    h("h1", { class: "spot-table" }, table ? table.name : spotlight.table),
    list,
    rows.length > shown.length
      ? h("p", { class: "more" }, t("and {n} more", { n: num(rows.length - shown.length) })) : null);
}

function drawPrompt(hall) {
  const activity = hall.activity;
  const prompt = activity && activity.prompt ? activity.prompt : "";
  return h("div", { class: "disp-prompt" },
    activity ? h("p", { class: "kicker" }, phaseName(hall.phase)) : null,
    h("h1", { class: "prompt", "data-length": lengthClass(prompt || hall.name, 50, 160) },
      prompt || hall.name || "Samling"),
    h("p", { class: "timer", id: "timer", hidden: true }));
}

function render() {
  const hall = rooms && rooms.rooms.hall;
  if (!hall) return;
  let view = stage.view(hall);
  if (view.mode === "prompt" && hasBoard(hall)) view = { mode: "themes" };
  const adoption = view.mode === "poll" && view.poll.kind === "adoption";
  // Draw only when what is shown changed; the timer ticks on its own.
  const key = JSON.stringify([view.mode, view.poll || view.spotlight || null, view.mode === "prompt"
    ? [hall.activity && hall.activity.prompt, hall.phase, hall.name] : null, hall.tables,
  view.mode === "themes" ? hall.synthesis : null, adoption ? recommendationOf(hall, view.poll) : null]);
  if (key !== drawn) {
    drawn = key;
    let content;
    if (view.mode === "poll") {
      const [state, el] = adoption ? drawAdoption(hall, view.poll) : drawPoll(view.poll);
      stageEl.dataset.pollState = state;
      content = el;
    } else if (view.mode === "spotlight") {
      content = drawSpotlight(hall, view.spotlight);
    } else if (view.mode === "themes") {
      content = drawThemes(hall);
    } else {
      content = drawPrompt(hall);
    }
    stageEl.dataset.mode = view.mode;
    const corner = view.mode === "prompt" ? null : h("p", { class: "timer corner", id: "timer", hidden: true });
    stageEl.replaceChildren(content, ...(corner ? [corner] : []));
    timerEl = stageEl.querySelector("#timer");
    timerState = null;
  }
  tick();
}

function tick() {
  const hall = rooms && rooms.rooms.hall;
  if (timerEl && hall && live) {
    const timer = hall.timer;
    const left = timer ? timer.ends_at - live.now() : null;
    const corner = timerEl.classList.contains("corner");
    let state;
    if (!timer || (corner && left <= 0)) state = "none";
    else state = left > 0 ? "running" : "up";
    if (state === "none") {
      timerEl.hidden = true;
    } else {
      timerEl.hidden = false;
      const text = state === "up" ? t("Time is up") : clock(left);
      if (timerEl.textContent !== text) timerEl.textContent = text;
      if (state === "running" && left <= 30000) state = "ending";
    }
    if (state !== timerState) {
      timerState = state;
      timerEl.dataset.state = state;
    }
  }
  // A big notice only when the connection has been gone for a moment.
  const gone = offlineSince != null && Date.now() - offlineSince > OFFLINE_GRACE;
  if (offlineEl.hidden === gone) offlineEl.hidden = !gone;
}

async function main() {
  await loadCatalog();
  const token = takeToken("display");
  if (!token) {
    note(t("This screen needs the display link from the organiser's sheet."));
    return;
  }
  live = new Live(token);
  stage = new Stage(`samling.display.stage.${token.slice(-16)}`);
  let frame = 0;
  const soon = () => {
    // Coalesce bursts (a tally storm) into one draw per animation frame, and draw even when hidden.
    if (frame) return;
    frame = requestAnimationFrame(() => { frame = 0; render(); });
    setTimeout(() => { if (frame) { cancelAnimationFrame(frame); frame = 0; render(); } }, 200);
  };
  rooms = new Rooms(live, () => soon());
  followRecord(live, rooms); // after Rooms: the hall's synthesis, recommendations and adoption results
  live.addEventListener("welcome", (e) => {
    stage.welcome(e.detail, rooms.rooms.hall);
    soon();
  });
  live.addEventListener("ev", (e) => stage.event(e.detail));
  live.addEventListener("status", (e) => {
    const { status } = e.detail;
    if (status === "online") {
      offlineSince = null;
    } else if (offlineSince == null) {
      offlineSince = Date.now();
    }
    tick();
  });
  live.addEventListener("closed", () => {
    live = null;
    offlineSince = null;
    offlineEl.hidden = true;
    note(t("This display link is no longer valid. Ask the organiser for the current one."));
  });
  offlineSince = Date.now();
  live.start();
  setInterval(() => {
    if (live) tick();
  }, 250);
}

main();
