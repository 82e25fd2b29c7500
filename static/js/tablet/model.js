// What the tablet shows: the room's state (the truth, from the server) with this device's own
// commands that are still on their way laid over it, so a note typed offline or a note just
// dropped in a group shows at once and never jumps back while the server answers.

/**
 * The board as the tablet draws it. `pending` are this device's commands for the table that have
 * not been seen as events yet (oldest first). Every note and cluster carries `pending: true`
 * while a change to it is still waiting.
 */
export function boardView(table, pending) {
  const b = table?.board;
  if (!b) return null;
  let notes = b.notes.map((n) => ({ ...n, pending: false }));
  let clusters = b.clusters.map((c) => ({ ...c, pending: false }));
  const myDots = { ...(b.my_dots || {}) };
  const pendingDots = {};
  for (const c of pending) {
    const a = c.args || {};
    switch (c.op) {
      case "note.add":
        if (!notes.some((n) => n.note === a.note)) {
          notes.push({ note: a.note, text: a.text, cluster: null, mine: true, pending: true });
        }
        break;
      case "note.edit": {
        const n = notes.find((x) => x.note === a.note);
        if (n) Object.assign(n, { text: a.text, pending: true });
        break;
      }
      case "note.remove":
        notes = notes.filter((x) => x.note !== a.note);
        break;
      case "note.move": {
        const n = notes.find((x) => x.note === a.note);
        const into = a.cluster ?? null;
        if (n && (into === null || clusters.some((k) => k.cluster === into))) {
          Object.assign(n, { cluster: into, pending: true });
        }
        break;
      }
      case "cluster.add":
        if (!clusters.some((k) => k.cluster === a.cluster)) {
          clusters.push({ cluster: a.cluster, title: a.title || "", pending: true });
        }
        break;
      case "cluster.rename": {
        const k = clusters.find((x) => x.cluster === a.cluster);
        if (k) Object.assign(k, { title: a.title || "", pending: true });
        break;
      }
      case "cluster.remove":
        clusters = clusters.filter((x) => x.cluster !== a.cluster);
        for (const n of notes) if (n.cluster === a.cluster) n.cluster = null;
        break;
      case "dot.add":
      case "dot.remove": {
        const step = c.op === "dot.add" ? 1 : -1;
        myDots[a.target] = (myDots[a.target] || 0) + step;
        pendingDots[a.target] = (pendingDots[a.target] || 0) + step;
        if (myDots[a.target] <= 0) delete myDots[a.target];
        break;
      }
    }
  }
  const used = Object.values(myDots).reduce((x, y) => x + y, 0);
  return {
    activity: b.activity,
    prompt: b.prompt,
    dots: b.dots,
    maxPerTarget: b.max_per_target,
    showTotals: b.show_totals,
    totals: b.totals,
    notes,
    clusters,
    myDots,
    pendingDots,
    dotsLeft: Math.max(0, b.dots - used),
  };
}

/** The newest open poll in the hall, or null. */
export function openPoll(hall) {
  const polls = hall?.polls || [];
  for (let i = polls.length - 1; i >= 0; i--) if (polls[i].open) return polls[i];
  return null;
}
