// What the plenary screen shows, in priority: a poll (open, or just closed: its final result
// stays until something else happens in the hall), else the spotlighted table's results, else
// the activity's prompt and the timer. The display shows it; the dashboard names it.

// Hall events after which a closed poll's final result gives way to what comes next.
const MOVES_ON = new Set(["activity.start", "phase.set", "timer.start", "timer.stop", "spotlight", "poll.open"]);

export class Stage {
  constructor(storageKey = null) {
    this.storageKey = storageKey;
    this.poll = null;      // the poll on screen (open, or closed and kept)
    this.closed = false;   // whether that poll has closed
    if (storageKey) {
      try {
        const kept = JSON.parse(localStorage.getItem(storageKey) || "null");
        if (kept && typeof kept.poll === "string") this.poll = kept.poll;
      } catch {
        // nothing kept
      }
    }
  }

  /** After a welcome: fold resumed hall events, or start from the snapshot. */
  welcome(frame, hall) {
    const view = frame.rooms.hall;
    if (!view) return;
    if (view.state) {
      const kept = hall.polls.find((p) => p.poll === this.poll);
      const open = latestOpen(hall);
      if (open) {
        this.poll = open.poll;
        this.closed = false;
      } else if (kept && !kept.open) {
        this.closed = true; // a final result shown before a reload stays
      } else {
        this.poll = null;
      }
    } else {
      for (const ev of view.events || []) this.event(ev);
    }
    this._save();
  }

  event(ev) {
    if (ev.room !== "hall") return;
    const d = ev.data || {};
    if (ev.op === "poll.open") {
      this.poll = d.poll;
      this.closed = false;
    } else if ((ev.op === "poll.close" || (ev.op === "poll.tally" && d.final)) && d.poll === this.poll) {
      this.closed = true;
    } else if (MOVES_ON.has(ev.op) && this.closed) {
      this.poll = null;
      this.closed = false;
    }
    this._save();
  }

  /** {mode: "poll", poll} | {mode: "spotlight", spotlight} | {mode: "prompt"} for the hall now. */
  view(hall) {
    if (!hall) return { mode: "prompt" };
    const shown = hall.polls.find((p) => p.poll === this.poll);
    const poll = shown || latestOpen(hall);
    if (poll) return { mode: "poll", poll };
    if (hall.spotlight && hall.spotlight.table != null) return { mode: "spotlight", spotlight: hall.spotlight };
    return { mode: "prompt" };
  }

  _save() {
    if (!this.storageKey) return;
    try {
      localStorage.setItem(this.storageKey, JSON.stringify({ poll: this.poll }));
    } catch {
      // storage disabled
    }
  }
}

function latestOpen(hall) {
  for (let i = hall.polls.length - 1; i >= 0; i--) if (hall.polls[i].open) return hall.polls[i];
  return null;
}
