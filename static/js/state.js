// The rooms as a device sees them: a snapshot from `welcome`, then every public event folded in,
// in seq order. This mirrors rooms/table.py and rooms/hall.py (their `view` and `evolve`), for
// what others may see: no authors, and own dots known from this device's own commands.

/** Rank a board's clusters and unclustered notes by dots (as rooms/results.py does). */
export function ranked(board) {
  const totals = board.totals || {};
  const rows = [];
  for (const c of board.clusters) {
    rows.push({ target: c.cluster, kind: "cluster", title: c.title,
      notes: board.notes.filter((n) => n.cluster === c.cluster).map((n) => n.text), dots: totals[c.cluster] || 0 });
  }
  for (const n of board.notes.filter((n) => n.cluster == null)) {
    rows.push({ target: n.note, kind: "note", title: n.text, notes: [n.text], dots: totals[n.note] || 0 });
  }
  return rows.map((r, i) => [r, i]).sort((a, b) => b[0].dots - a[0].dots || a[1] - b[1]).map(([r]) => r);
}

export function totalsVisible(table) {
  return !!table.board && (table.board.show_totals || table.phase === "results");
}

export function dotsLeft(board) {
  const used = Object.values(board.my_dots || {}).reduce((a, b) => a + b, 0);
  return board.dots - used;
}

function dropDots(board, target) {
  if (board.my_dots && board.my_dots[target]) {
    board.dots_used -= board.my_dots[target];
    delete board.my_dots[target];
  }
  if (board.totals && target in board.totals) delete board.totals[target];
}

/**
 * Fold one table event into `table` (in place). `own` says whether this device caused it, and
 * `args` are the args it sent then (an own dot's target while totals are hidden).
 */
export function evolveTable(table, ev, own = false, args = null) {
  const d = ev.data;
  const b = table.board;
  switch (ev.op) {
    case "table.open":
      table.name = d.name;
      return;
    case "activity.start":
      table.board = { activity: d.activity, prompt: d.prompt, dots: d.dots, max_per_target: d.max_per_target,
        show_totals: d.show_totals, notes: [], clusters: [], dots_used: 0, my_dots: {}, totals: d.show_totals ? {} : undefined };
      table.phase = "brainstorm";
      return;
    case "phase.set":
      table.phase = d.phase;
      if (b && d.totals) b.totals = { ...d.totals };
      return;
  }
  if (!b) return;
  switch (ev.op) {
    case "note.add":
      b.notes.push({ note: d.note, text: d.text, cluster: null, mine: own });
      break;
    case "note.edit": {
      const n = b.notes.find((x) => x.note === d.note);
      if (n) n.text = d.text;
      break;
    }
    case "note.remove":
      b.notes = b.notes.filter((x) => x.note !== d.note);
      dropDots(b, d.note);
      break;
    case "note.move": {
      const n = b.notes.find((x) => x.note === d.note);
      if (n) n.cluster = d.cluster;
      if (d.cluster != null) dropDots(b, d.note);
      break;
    }
    case "cluster.add":
      b.clusters.push({ cluster: d.cluster, title: d.title });
      break;
    case "cluster.rename": {
      const c = b.clusters.find((x) => x.cluster === d.cluster);
      if (c) c.title = d.title;
      break;
    }
    case "cluster.remove":
      b.clusters = b.clusters.filter((x) => x.cluster !== d.cluster);
      for (const n of b.notes) if (n.cluster === d.cluster) n.cluster = null;
      dropDots(b, d.cluster);
      break;
    case "dot.add":
    case "dot.remove": {
      const step = ev.op === "dot.add" ? 1 : -1;
      b.dots_used += step;
      const target = d.target ?? (own && args ? args.target : undefined);
      if (own && target != null) {
        b.my_dots[target] = (b.my_dots[target] || 0) + step;
        if (b.my_dots[target] <= 0) delete b.my_dots[target];
      }
      if (d.target != null && b.totals) {
        b.totals[d.target] = (b.totals[d.target] || 0) + step;
        if (b.totals[d.target] <= 0) delete b.totals[d.target];
      }
      break;
    }
  }
}

/** Fold one hall event into `hall` (in place). */
export function evolveHall(hall, ev) {
  const d = ev.data;
  switch (ev.op) {
    case "assembly.open":
      hall.name = d.name;
      hall.tables = d.tables;
      break;
    case "activity.start":
      hall.activity = { ...d };
      hall.phase = "brainstorm";
      break;
    case "phase.set":
      if (d.all) hall.phase = d.phase;
      break;
    case "timer.start":
      hall.timer = { seconds: d.seconds, ends_at: d.ends_at };
      break;
    case "timer.stop":
      hall.timer = null;
      break;
    case "spotlight":
      hall.spotlight = d.table == null ? null : { table: d.table, results: d.results };
      break;
    case "poll.open":
      hall.polls.push({ poll: d.poll, question: d.question, kind: d.kind, options: d.options, hidden: d.hidden,
        open: true, voters: 0, present: 0, counts: null });
      break;
    case "poll.close": {
      const p = hall.polls.find((x) => x.poll === d.poll);
      if (p) p.open = false;
      break;
    }
    case "poll.tally": {
      const p = hall.polls.find((x) => x.poll === d.poll);
      if (p) {
        p.voters = d.voters;
        p.present = d.present;
        if (d.counts) p.counts = d.counts;
        if (d.final) p.open = false;
      }
      break;
    }
  }
}

/**
 * Every room of one device: `rooms[name]` is the state of "hall" or "table:<id>".
 * Feed it the connection's "welcome" and "ev" frames; it calls `onChange(room)` after each.
 */
export class Rooms {
  constructor(live, onChange) {
    this.live = live;
    this.rooms = {};
    this.votes = {};
    this.onChange = onChange;
    live.addEventListener("welcome", (e) => this.welcome(e.detail));
    live.addEventListener("ev", (e) => this.event(e.detail));
  }

  welcome(frame) {
    this.votes = { ...(frame.votes || {}) };
    for (const [room, view] of Object.entries(frame.rooms)) {
      if (view.state) {
        this.rooms[room] = structuredClone(view.state);
        if (room.startsWith("table:") && this.rooms[room].board) {
          this.rooms[room].board.my_dots ??= {};
        }
      } else {
        for (const ev of view.events || []) this.apply(ev);
      }
    }
    this.onChange(null);
  }

  event(ev) {
    this.apply(ev);
    this.onChange(ev.room, ev);
  }

  apply(ev) {
    const state = this.rooms[ev.room];
    if (!state) return;
    if (ev.room === "hall") evolveHall(state, ev);
    else evolveTable(state, ev, this.live.isMine(ev.cmd), this.live.argsOf(ev.cmd));
  }
}
