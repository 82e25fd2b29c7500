// The live connection: one WebSocket, an outbox that survives reloads, and reconnects that
// never give up on hall WiFi.
//
// Every command goes into the outbox (localStorage) with its id before it is sent, and leaves
// only when the server acks or refuses it. After a drop, the socket comes back with jittered
// exponential backoff, says hello with `since` (the last seq seen per room, so only missed
// events come back), and sends the outbox again in order: the server applies each id once.
//
// Events (EventTarget): "welcome" {detail: frame}, "ev" {detail: frame}, "ack"/"err" {detail: frame},
// "status" {detail: {status, waiting}}, "closed" {detail: {code, reason}} for a close that must not
// be retried (the token is no longer valid).
import { pack, unpack } from "./codec.js";

const BACKOFF_FIRST = 500;
const BACKOFF_MAX = 15000;
const NO_RETRY = new Set([4003]);
// Refusals that say "not now" rather than "no": the command stays in the outbox and goes again.
const RETRYABLE = new Set(["rate_limited", "conflict", "server_busy"]);
const PING_AFTER = 20000;   // ms without a frame before we ask the server for a pong
const PONG_WAIT = 15000;    // ms a ping may go unanswered before the socket counts as dead (half-open)

function newId() {
  const rand = crypto.getRandomValues(new Uint32Array(2));
  return `${Date.now().toString(36)}-${rand[0].toString(36)}${rand[1].toString(36)}`;
}

export function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

export class Live extends EventTarget {
  constructor(token, { url = socketUrl(), storage = globalThis.localStorage } = {}) {
    super();
    this.token = token;
    this.url = url;
    this.storage = storage;
    this.key = `samling.outbox.${token.slice(-16)}`;
    this.outbox = this._load();
    this.seqs = {};            // room -> last seq seen (for `since`)
    this.epochs = {};          // room -> the store's epoch that seq belongs to (for `epochs`)
    this.mine = new Map();     // command id -> {room, op, args} of this device's commands
    for (const c of this.outbox) this.mine.set(c.id, c);
    this.waiters = new Map();  // command id -> {resolve, reject}
    this.status = "connecting";
    this.you = null;
    this.skew = 0;             // server clock - our clock, ms
    this.attempt = 0;
    this.ws = null;
    this.stopped = false;
    this.lastFrame = Date.now();
    this.pingAt = 0;
    setInterval(() => this._heartbeat(), 5000);
    addEventListener("online", () => this._soon(0));
    addEventListener("offline", () => this._drop());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this._soon(0);
    });
  }

  /** Connect (and keep reconnecting until stop()). */
  start() {
    this.stopped = false;
    this._connect();
    return this;
  }

  stop() {
    this.stopped = true;
    if (this.ws) this.ws.close(1000, "bye");
  }

  /** The server's clock now, in ms since the epoch: timers count down to the same second everywhere. */
  now() {
    return Date.now() + this.skew;
  }

  /** Commands waiting to be acknowledged (shown as "offline, N changes waiting"). */
  get waiting() {
    return this.outbox.length;
  }

  /** Whether an event was caused by one of this device's own commands. */
  isMine(cmdId) {
    return cmdId != null && this.mine.has(cmdId);
  }

  /** The args this device sent with a command (an own dot's target, say, when others cannot see it). */
  argsOf(cmdId) {
    return this.mine.get(cmdId)?.args;
  }

  /** Ask for a change. Resolves with the ack, rejects with the err frame. Kept until answered. */
  send(room, op, args = {}) {
    const command = { id: newId(), room, op, args };
    this.outbox.push(command);
    this.mine.set(command.id, command);
    this._save();
    const answer = new Promise((resolve, reject) => this.waiters.set(command.id, { resolve, reject }));
    if (this.status === "online") this._transmit(command);
    this._status(this.status);
    return answer;
  }

  // -- the socket

  _connect() {
    if (this.stopped || (this.ws && this.ws.readyState <= WebSocket.OPEN)) return;
    this._status("connecting");
    const ws = new WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => {
      const hello = { t: "hello", token: this.token };
      if (Object.keys(this.seqs).length) hello.since = { ...this.seqs };
      if (Object.keys(this.epochs).length) hello.epochs = { ...this.epochs };
      ws.send(pack(hello));
    };
    ws.onmessage = (m) => {
      if (typeof m.data === "string") return;
      let frame;
      try {
        frame = unpack(m.data);
      } catch {
        return;
      }
      this._receive(frame);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (NO_RETRY.has(e.code)) {
        this.stopped = true;
        this._status("offline");
        this.dispatchEvent(new CustomEvent("closed", { detail: { code: e.code, reason: e.reason } }));
        return;
      }
      this._status("offline");
      this._retry();
    };
  }

  /** The device says its network is gone: let go of the socket now rather than wait for TCP to notice. */
  _drop() {
    const ws = this.ws;
    if (!ws || this.stopped) return;
    this.ws = null;
    ws.onopen = ws.onmessage = ws.onclose = null;
    try {
      ws.close();
    } catch {
      // already closing
    }
    this._status("offline");
    this._retry();
  }

  _retry() {
    if (this.stopped) return;
    const ceiling = Math.min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** this.attempt);
    this.attempt += 1;
    this._soon(Math.random() * ceiling);
  }

  _soon(ms) {
    clearTimeout(this.timer);
    if (this.stopped || this.ws) return;
    this.timer = setTimeout(() => this._connect(), ms);
  }

  /** A quiet socket is asked for a pong; one that does not answer in time is let go and reopened. */
  _heartbeat() {
    if (!this.ws || this.status !== "online") return;
    const now = Date.now();
    if (this.pingAt && now - this.pingAt > PONG_WAIT) {
      this._drop();
    } else if (!this.pingAt && now - this.lastFrame > PING_AFTER) {
      this.pingAt = now;
      this._transmit({ t: "ping" });
    }
  }

  _receive(frame) {
    this.lastFrame = Date.now();
    this.pingAt = 0;
    switch (frame.t) {
      case "welcome":
        this.attempt = 0;
        this.you = frame.you;
        this.skew = frame.now - Date.now();
        for (const [room, view] of Object.entries(frame.rooms)) {
          this.seqs[room] = view.seq;
          if (view.epoch) this.epochs[room] = view.epoch;
        }
        this.dispatchEvent(new CustomEvent("welcome", { detail: frame }));
        this._status("online");
        for (const command of this.outbox) this._transmit(command);
        break;
      case "ev":
        if (frame.seq <= (this.seqs[frame.room] ?? 0)) return; // already folded in
        this.seqs[frame.room] = frame.seq;
        this.dispatchEvent(new CustomEvent("ev", { detail: frame }));
        break;
      case "ack":
      case "err":
        this._answer(frame);
        break;
      case "pong":
        this.skew = frame.now - Date.now();
        break;
      case "presence": // the facilitator's picture of connected devices per table
        this.dispatchEvent(new CustomEvent("presence", { detail: frame }));
        break;
    }
  }

  _answer(frame) {
    if (frame.t === "err" && RETRYABLE.has(frame.code) && this._retryLater(frame.id)) {
      this._status(this.status);
      return;
    }
    const i = this.outbox.findIndex((c) => c.id === frame.id);
    if (i >= 0) {
      this.outbox.splice(i, 1);
      this._save();
    }
    const waiter = this.waiters.get(frame.id);
    this.waiters.delete(frame.id);
    if (waiter) (frame.t === "ack" ? waiter.resolve : waiter.reject)(frame);
    if (frame.t === "err") this.mine.delete(frame.id);
    this.dispatchEvent(new CustomEvent(frame.t, { detail: frame }));
    this._status(this.status);
  }

  /** Send a command that was refused for now again after a jittered pause; false if it is gone. */
  _retryLater(id) {
    const command = this.outbox.find((c) => c.id === id);
    if (!command) return false;
    command.tries = (command.tries || 0) + 1;
    const pause = Math.min(BACKOFF_MAX, 300 * 2 ** Math.min(command.tries, 6)) * (0.5 + Math.random());
    setTimeout(() => {
      if (this.status === "online" && this.outbox.includes(command)) this._transmit(command);
    }, pause);
    return true;
  }

  _transmit(command) {
    try {
      const { tries, ...frame } = command;
      this.ws.send(pack(frame.t ? frame : { t: "cmd", ...frame }));
    } catch {
      // the socket is closing: the outbox keeps the command for the next connection
    }
  }

  _status(status) {
    this.status = status;
    this.dispatchEvent(new CustomEvent("status", { detail: { status, waiting: this.waiting } }));
  }

  // -- the outbox in localStorage: nothing typed is lost when the tablet sleeps or reloads

  _load() {
    try {
      return JSON.parse(this.storage.getItem(this.key) || "[]");
    } catch {
      return [];
    }
  }

  _save() {
    try {
      this.storage.setItem(this.key, JSON.stringify(this.outbox));
    } catch {
      // storage full or disabled: the commands still go out while the page lives
    }
  }
}
