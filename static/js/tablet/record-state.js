// The hall's record as a device sees it: the synthesis board, the recommendations, the days and
// the adoption votes' rule and result. This folds the record's public events into the hall's
// state the way rooms/synthesis.py, rooms/recommendations.py, rooms/attendance.py and
// rooms/hall.py do (their `view`), beside state.js's `evolveHall`, which knows the plenary only.
// Used by the tablet and the display; it could move into state.js.

/** Empty parts for a hall snapshot from a server that does not send them. */
export function withRecord(hall) {
  hall.synthesis ??= { cards: [], themes: [], unsorted: [], duplicates: [] };
  hall.recommendations ??= [];
  hall.attendance ??= { days: [], open_day: null, present: 0 };
  return hall;
}

/** A theme's cards, tables and dots, and the unsorted cards, from the cards (as synthesis.view). */
function regroup(s) {
  for (const theme of s.themes) {
    const cards = s.cards.filter((k) => k.theme === theme.theme);
    theme.cards = cards.map((k) => k.card);
    theme.tables = [...new Set(cards.map((k) => k.table))];
    theme.dots = cards.reduce((sum, k) => sum + (k.dots || 0), 0);
  }
  s.unsorted = s.cards.filter((k) => k.theme == null).map((k) => k.card);
}

function synthesis(s, op, d) {
  switch (op) {
    case "card.send":
      if (!s.cards.some((k) => k.card === d.card)) {
        s.cards.push({ card: d.card, table: d.table, activity: d.activity, cluster: d.cluster, title: d.title,
          notes: [...(d.notes || [])], dots: d.dots || 0, theme: null });
      }
      break;
    case "theme.add":
      if (!s.themes.some((x) => x.theme === d.theme)) s.themes.push({ theme: d.theme, title: d.title });
      break;
    case "theme.rename": {
      const theme = s.themes.find((x) => x.theme === d.theme);
      if (theme) theme.title = d.title;
      break;
    }
    case "card.move": {
      const card = s.cards.find((k) => k.card === d.card);
      if (card) card.theme = d.theme ?? null;
      break;
    }
    case "theme.merge":
    case "theme.remove":
      for (const k of s.cards) if (k.theme === d.theme) k.theme = op === "theme.merge" ? d.into : null;
      s.themes = s.themes.filter((x) => x.theme !== d.theme);
      break;
    case "card.withdraw":
      s.cards = s.cards.filter((k) => k.card !== d.card);
      break;
    default:
      return false;
  }
  regroup(s);
  return true;
}

function recommendations(list, op, d) {
  if (op === "recommendation.add") {
    if (!list.some((r) => r.recommendation === d.recommendation)) {
      const by = { role: d.role, table: d.table ?? null };
      list.push({ recommendation: d.recommendation, title: d.title, text: d.text, theme: d.theme ?? null,
        table: d.table ?? null, versions: [{ title: d.title, text: d.text, at: d.at, by }],
        withdrawn: false, locked: null, adopted: null });
    }
    return true;
  }
  if (!op.startsWith("recommendation.")) return false;
  const rec = list.find((r) => r.recommendation === d.recommendation);
  if (!rec) return true;
  switch (op) {
    case "recommendation.edit":
      rec.title = d.title;
      rec.text = d.text;
      rec.versions.push({ title: d.title, text: d.text, at: d.at, by: { role: d.role, table: d.table ?? null } });
      break;
    case "recommendation.withdraw":
      rec.withdrawn = true;
      break;
    case "recommendation.lock":
      rec.locked = d.poll;
      break;
    case "recommendation.unlock":
      rec.locked = null;
      if (d.adopted) rec.adopted = d.poll;
      break;
  }
  return true;
}

function attendance(a, op, d) {
  switch (op) {
    case "day.open": {
      let day = a.days.find((x) => x.day === d.day);
      if (day) {
        day.label = d.label;
        day.closed_at = null;
      } else {
        day = { day: d.day, label: d.label, opened_at: d.at, closed_at: null, present: 0 };
        a.days.push(day);
      }
      a.open_day = d.day;
      a.present = day.present;
      return true;
    }
    case "day.close": {
      const day = a.days.find((x) => x.day === d.day);
      if (day) day.closed_at = d.at;
      if (a.open_day === d.day) {
        a.open_day = null;
        a.present = 0;
      }
      return true;
    }
    case "day.checkin":
    case "day.mark": {
      const day = a.days.find((x) => x.day === d.day);
      if (day) day.present = d.present;
      if (a.open_day === d.day) a.present = d.present;
      return true;
    }
    case "poll.paper":
      return true;
    default:
      return false;
  }
}

/** Fold one hall event's record part into `hall` (after state.js's evolveHall has run). */
export function foldRecord(hall, ev) {
  withRecord(hall);
  const d = ev.data || {};
  if (ev.op === "poll.open" && d.kind === "adoption") {
    const poll = hall.polls.find((p) => p.poll === d.poll);
    if (poll) Object.assign(poll, { recommendation: d.recommendation, rule: d.rule, slate: d.slate ?? null, result: null });
    return;
  }
  if (ev.op === "poll.tally") {
    const poll = hall.polls.find((p) => p.poll === d.poll);
    if (poll && d.result) poll.result = d.result;
    return;
  }
  synthesis(hall.synthesis, ev.op, d) || recommendations(hall.recommendations, ev.op, d)
    || attendance(hall.attendance, ev.op, d);
}

/**
 * Keep `rooms.rooms.hall`'s record current. Call after `new Rooms(live, ...)`: these listeners run
 * after Rooms has folded the same frame, and before the page draws (it draws later, in a microtask
 * or an animation frame).
 */
export function followRecord(live, rooms) {
  live.addEventListener("welcome", (e) => {
    const view = e.detail.rooms.hall;
    const hall = rooms.rooms.hall;
    if (!view || !hall) return;
    withRecord(hall);
    if (!view.state) for (const ev of view.events || []) foldRecord(hall, ev);
  });
  live.addEventListener("ev", (e) => {
    const hall = rooms.rooms.hall;
    if (e.detail.room === "hall" && hall) foldRecord(hall, e.detail);
  });
}

/** The recommendation an adoption vote is about, or null. */
export function recommendationOf(hall, poll) {
  return (hall.recommendations || []).find((r) => r.recommendation === poll.recommendation) || null;
}
