// The tablet at a table: the prompt, the step, the timer, the connection and the device's own label
// ("Device K7QX", which the facilitator's dashboard lists) always on top; below, the view of the
// table's current step (brainstorm, cluster, vote, results); over everything, the plenary poll
// card while a poll is open. A device the facilitator removed gets a screen that says so.
//
// State (state.js) is the truth: after every welcome, event, ack or error the page is drawn from
// the state again, with this device's own unanswered commands (the outbox) laid over it.
import { Live } from "./connection.js";
import { loadCatalog, t } from "./i18n.js";
import { Rooms } from "./state.js";
import { BrainstormView } from "./tablet/brainstorm.js";
import { ClusterView } from "./tablet/cluster.js";
import { CheckIn } from "./tablet/checkin.js";
import { HostPanel } from "./tablet/host.js";
import { boardView } from "./tablet/model.js";
import { PollCard } from "./tablet/poll.js";
import { followRecord } from "./tablet/record-state.js";
import { ResultsView } from "./tablet/results.js";
import { VoteView } from "./tablet/vote.js";

const TOKEN_KEY = "samling.token.member";
const JOIN_KEY = "samling.join";
const NAME_KEY = "samling.name";

const $ = (id) => document.getElementById(id);

const PHASES = {
  idle: { label: () => t("Waiting"), step: 0,
    hint: () => t("Waiting for the facilitator to start. You can leave the tablet on.") },
  brainstorm: { label: () => t("Write ideas"), step: 1,
    hint: () => t("Write one idea per note. Everyone at the table sees the notes, but not who wrote them.") },
  cluster: { label: () => t("Make groups"), step: 2,
    hint: () => t("Put notes that belong together in a group. Drag a note, or tap it and then tap a group.") },
  vote: { label: () => t("Vote"), step: 3,
    hint: () => t("Give your dots to the ideas you like best.") },
  results: { label: () => t("Results"), step: 4,
    hint: () => t("This is what your table chose, with the most dots first.") },
};

/** Plain words for a refused command. */
function problemText(code, op, board) {
  switch (code) {
    case "over_budget":
      if (op === "dot.add") {
        return board && board.dotsLeft > 0
          ? t("You can give at most {n} dots to one idea.", { n: board.maxPerTarget })
          : t("You have used all your dots. Remove a dot somewhere if you want to move it.");
      }
      if (op === "note.add") return t("The board is full. No more notes can be added.");
      if (op === "cluster.add") return t("There are too many groups. Use the ones you have.");
      return t("That is more than allowed.");
    case "wrong_phase":
      return t("That cannot be done now: the table has moved on to another step.");
    case "forbidden":
      return op === "cluster.remove" ? t("Only the table host can remove a group.")
        : t("You are not allowed to do that here.");
    case "unknown_target":
      if (op === "vote.cast") return t("That poll is no longer there.");
      return t("That is no longer on the board. Someone may have removed it.");
    case "poll_closed":
      return t("The poll had already closed, so this vote was not counted.");
    case "invalid_args":
      return op === "note.add" || op === "note.edit"
        ? t("The note could not be saved. Keep it to 280 letters.")
        : t("That was not accepted. Please check and try again.");
    case "rate_limited":
      return t("That was too fast. Wait a moment and try again.");
    case "conflict":
    case "server_busy":
      return t("The server is busy. Please try again in a moment.");
    default:
      return t("That did not work. Please try again.");
  }
}

class Tablet {
  constructor(token) {
    this.live = new Live(token);
    this.seen = new Set();     // own command ids whose event has arrived (no longer shown as waiting)
    this.role = null;
    this.roomName = null;
    this.activity = undefined;
    this.everOnline = false;
    this.scheduled = false;
    this.rooms = new Rooms(this.live, (room, ev) => this.changed(room, ev));
    followRecord(this.live, this.rooms); // after Rooms: the hall's synthesis, recommendations, days

    this.views = {
      brainstorm: new BrainstormView(this),
      cluster: new ClusterView(this),
      vote: new VoteView(this),
      results: new ResultsView(this),
    };
    this.idle = document.createElement("section");
    this.idle.className = "phase-view idle";
    const wait = document.createElement("p");
    wait.className = "waiting-big";
    wait.textContent = t("Connecting to your table…");
    this.idle.append(wait);
    this.waitText = wait;
    for (const v of [this.idle, ...Object.values(this.views).map((x) => x.el)]) {
      v.hidden = true;
      $("view").append(v);
    }
    this.poll = new PollCard(this, $("poll"));
    this.checkin = new CheckIn(this, $("checkin"));
    this.host = new HostPanel(this, $("host"));

    const live = this.live;
    this.lastCommands = new Map(live.outbox.map((c) => [c.id, c]));
    live.addEventListener("welcome", (e) => this.welcome(e.detail));
    live.addEventListener("status", () => { this.status(); this.render(); });
    live.addEventListener("ack", (e) => this.ack(e.detail));
    live.addEventListener("err", (e) => this.refused(e.detail));
    live.addEventListener("closed", (e) => this.closed(e.detail));
    setInterval(() => this.tick(), 1000);
    addEventListener("online", () => this.status());
    addEventListener("offline", () => this.status());
    $("problem").addEventListener("click", (e) => {
      if (e.target.closest("button")) this.clearProblem();
    });
    $("join-again").addEventListener("click", () => {
      this.forget();
      location.assign("/join");
    });
  }

  start() {
    try {
      const join = JSON.parse(localStorage.getItem(JOIN_KEY) || "{}");
      const name = join.table_name || (join.table ? t("Table {id}", { id: join.table }) : "");
      $("table-name").textContent = name;
    } catch {
      // no remembered table: the welcome names it
    }
    $("phase").textContent = t("Connecting…");
    $("prompt").textContent = t("Welcome to the table");
    $("prompt").classList.add("no-prompt");
    this.idle.hidden = false;
    $("app").hidden = false;
    this.live.start();
    this.status();
  }

  // -- the connection's news

  welcome(frame) {
    this.everOnline = true;
    this.role = frame.you.role;
    this.roomName = `table:${frame.you.table}`;
    const label = frame.you.label;
    $("device-label").textContent = label ? t("Device {label}", { label }) : "";
    $("device-label").hidden = !label;
    for (const view of Object.values(frame.rooms)) {
      for (const ev of view.events || []) if (this.live.isMine(ev.cmd)) this.seen.add(ev.cmd);
    }
    const table = this.rooms.rooms[this.roomName];
    try { // remember the table's name for "Continue at ..." on the join page
      const join = JSON.parse(localStorage.getItem(JOIN_KEY) || "{}");
      if (table?.name && join.table_name !== table.name) {
        localStorage.setItem(JOIN_KEY, JSON.stringify({ ...join, table_name: table.name }));
      }
    } catch {
      // storage unavailable: nothing to remember
    }
    this.render();
  }

  changed(room, ev) {
    if (ev && ev.cmd != null && this.live.isMine(ev.cmd)) this.seen.add(ev.cmd);
    this.render();
  }

  ack(frame) {
    const command = this.live.mine.get(frame.id);
    if (command?.op === "vote.cast") {
      this.rooms.votes[command.args.poll] = command.args.choice;
      this.announce(t("Your vote is registered."));
    } else if (command?.op === "day.checkin") {
      this.checkin.acked(frame.id, this.rooms.rooms.hall);
    } else if (command?.op === "note.add") {
      this.announce(t("Your note is on the board."), { quiet: true });
    }
    this.render();
  }

  refused(frame) {
    if (frame.id == null) return; // not about a command of ours (a refused hello closes with 4003)
    const command = this.live.mine.get(frame.id) || this.lastCommands?.get(frame.id);
    const board = this.board();
    if (this.host.refused(command, frame.code)) {
      this.render();
      return;
    }
    this.problem(problemText(frame.code, command?.op, board));
    this.render();
  }

  /** The server no longer takes this token (4003): the facilitator removed this device (the close
   * says "revoked" or "removed"), or the token is not valid here at all. Either way only a fresh join
   * helps, so the token is forgotten and /join offers a fresh start. */
  closed({ reason = "" } = {}) {
    this.forget();
    const removed = /revoked|removed/i.test(reason);
    this.clearProblem();
    $("app").hidden = true;
    $("poll").hidden = true;
    const screen = $(removed ? "removed" : "closed");
    screen.hidden = false;
    const heading = screen.querySelector("h1");
    document.title = `${heading.textContent} · Samling`;
    heading.focus();
  }

  /** Forget this device: its token, its table and its unsent commands (of no use without the token). */
  forget() {
    for (const key of [TOKEN_KEY, JOIN_KEY, this.live.key]) {
      try {
        localStorage.removeItem(key);
      } catch {
        // storage unavailable: nothing kept to forget
      }
    }
  }

  // -- sending

  /** Send a command (to the table unless another room is named); the page shows it at once as waiting. */
  send(op, args, room = this.roomName) {
    const answer = this.live.send(room, op, args);
    const command = this.live.outbox[this.live.outbox.length - 1];
    // an err drops the command from live.mine before the "err" event: keep what it was for the message
    this.lastCommands.set(command.id, command);
    if (this.lastCommands.size > 200) this.lastCommands.delete(this.lastCommands.keys().next().value);
    answer.catch(() => {}); // refusals are shown by the "err" event
    this.render();
    return command.id;
  }

  pending(room) {
    return this.live.outbox.filter((c) => c.room === room && !this.seen.has(c.id));
  }

  board() {
    const table = this.rooms.rooms[this.roomName];
    return table ? boardView(table, this.pending(this.roomName)) : null;
  }

  // -- telling the member

  /** Confirm something: read out by screen readers, and shown as a short toast unless `quiet`. */
  announce(message, { quiet = false } = {}) {
    const box = $("notice");
    box.textContent = "";
    box.classList.remove("shown");
    clearTimeout(this.noticeTimer);
    // set after a moment, so a screen reader reads a repeated message again
    setTimeout(() => {
      box.textContent = message;
      box.classList.toggle("shown", !quiet);
    }, 30);
    this.noticeTimer = setTimeout(() => {
      box.classList.remove("shown");
      box.textContent = "";
    }, 4000);
  }

  problem(message) {
    const box = $("problem");
    const ok = document.createElement("button");
    ok.type = "button";
    ok.className = "button small";
    ok.textContent = t("OK");
    const text = document.createElement("p");
    text.className = "problem-text";
    text.textContent = message;
    box.replaceChildren(text, ok);
    box.classList.add("shown");
    clearTimeout(this.problemTimer);
    this.problemTimer = setTimeout(() => this.clearProblem(), 10000);
  }

  clearProblem() {
    const box = $("problem");
    box.classList.remove("shown");
    box.replaceChildren();
  }

  setInert(on) {
    $("app").inert = on;
  }

  // -- drawing

  render() {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.draw();
    });
  }

  draw() {
    const table = this.rooms.rooms[this.roomName];
    const hall = this.rooms.rooms.hall;
    if (!table) return;
    this.waitText.textContent = t("The next step will show here by itself.");

    $("table-name").textContent = table.name || t("Table {id}", { id: table.table });
    $("role-badge").hidden = this.role !== "host";
    const phase = table.board ? table.phase : "idle";
    const info = PHASES[phase] || PHASES.idle;
    const pill = $("phase");
    pill.dataset.phase = phase;
    pill.textContent = info.step
      ? t("Step {n} of 4: {step}", { n: info.step, step: info.label() })
      : info.label();
    const prompt = table.board?.prompt || "";
    $("prompt").textContent = prompt || (table.board ? t("Today's question") : t("Welcome to the table"));
    $("prompt").classList.toggle("no-prompt", !prompt);
    $("phase-hint").textContent = info.hint();
    document.title = `${info.label()} · ${table.name || "Samling"}`;

    const board = this.board();
    if (board && board.activity !== this.activity) {
      if (this.activity !== undefined) for (const v of Object.values(this.views)) v.reset();
      this.activity = board.activity;
    }
    const current = board ? this.views[phase] : null;
    this.idle.hidden = !!current;
    for (const view of Object.values(this.views)) view.el.hidden = view !== current;
    if (current) current.render(board, table);
    this.checkin.render(hall);
    this.host.render(board, table, hall);
    if (hall) this.poll.render(hall);
    this.tick();
  }

  /** Every second: the timer, and the connection line. */
  tick() {
    const hall = this.rooms.rooms.hall;
    const timer = $("timer");
    const endsAt = hall?.timer?.ends_at;
    if (endsAt == null) {
      timer.hidden = true;
    } else {
      const left = Math.max(0, Math.ceil((endsAt - this.live.now()) / 1000));
      const m = Math.floor(left / 60);
      const s = String(left % 60).padStart(2, "0");
      timer.hidden = false;
      timer.textContent = left > 0 ? t("{time} left", { time: `${m}:${s}` }) : t("Time is up");
      timer.classList.toggle("ending", left > 0 && left <= 30);
      timer.classList.toggle("over", left === 0);
    }
    this.status();
  }

  status() {
    const live = this.live;
    const conn = $("conn");
    let state;
    if (live.status === "online") state = "online";
    else if (!navigator.onLine) state = "offline";
    else state = this.everOnline ? "reconnecting" : "connecting";
    const waiting = live.waiting;
    if (waiting && state === "online") {
      this.waitingSince ??= Date.now();
    } else {
      this.waitingSince = null;
    }
    const showWaiting = waiting > 0 && (state !== "online" || Date.now() - this.waitingSince > 2000);
    const words = { online: t("Online"), offline: t("Offline"), reconnecting: t("Reconnecting…"),
      connecting: t("Connecting…") }[state];
    const more = showWaiting
      ? waiting === 1 ? t("1 change waiting") : t("{n} changes waiting", { n: waiting })
      : "";
    const text = more ? `${words} · ${more}` : words;
    conn.dataset.status = state;
    if ($("conn-text").textContent !== text) $("conn-text").textContent = text;
  }
}

async function main() {
  const token = localStorage.getItem(TOKEN_KEY);
  await loadCatalog();
  if (!token) {
    $("no-seat").hidden = false;
    return;
  }
  const name = localStorage.getItem(NAME_KEY);
  if (name) {
    $("greeting").textContent = t("Hello, {name}", { name });
    $("greeting").hidden = false;
  }
  const tablet = new Tablet(token);
  globalThis.samlingTablet = tablet; // for debugging from the console
  tablet.start();
}

main();
