// The record as the dashboard keeps it: the hall's synthesis board, the recommendations, the days,
// and what an adoption vote adds to a poll (its recommendation, rule, slate, result, paper). It is
// its own copy, taken from the hall's snapshot at a welcome and folded from the hall's events after
// (as rooms/synthesis.py, recommendations.py, attendance.py and hall.py fold them), so it does not
// depend on what state.js folds of these parts.
import { lang, t } from "../i18n.js";

export function emptyRecord() {
  return {
    cards: [],            // [{card, table, activity, cluster, title, notes, dots, theme}] in the order sent
    themes: [],           // [{theme, title}] in the order added
    duplicates: [],       // [[card a, card b, score]]: a was sent before b
    recommendations: [],  // as the snapshot's part `recommendations`
    attendance: { days: [], open_day: null, present: 0 },
    polls: {},            // poll id -> {recommendation, rule, slate, result, paper: {counts, voters} | null, paperVoters}
  };
}

export class Record {
  /** Feed it the connection's frames; `onChange()` after each change. */
  constructor(live, onChange) {
    this.data = emptyRecord();
    this.onChange = onChange;
    live.addEventListener("welcome", (e) => this.welcome(e.detail));
    live.addEventListener("ev", (e) => {
      if (e.detail.room !== "hall") return;
      this.apply(e.detail);
      this.onChange();
    });
  }

  welcome(frame) {
    const view = frame.rooms && frame.rooms.hall;
    if (!view) return;
    if (view.state) this.data = fromSnapshot(view.state);
    else for (const ev of view.events || []) this.apply(ev);
    this.onChange();
  }

  apply(ev) {
    try {
      fold(this.data, ev.op, ev.data || {});
    } catch {
      // an event this copy cannot place (it missed the start): the next welcome snapshot repairs it
    }
  }

  card(id) {
    return this.data.cards.find((k) => k.card === id) || null;
  }

  theme(id) {
    return this.data.themes.find((x) => x.theme === id) || null;
  }

  recommendation(id) {
    return this.data.recommendations.find((r) => r.recommendation === id) || null;
  }

  poll(id) {
    return this.data.polls[id] || null;
  }

  /** The cards a card is likely a duplicate of (either way round): [[other card, score]]. */
  alike(id) {
    const out = [];
    for (const [a, b, score] of this.data.duplicates) {
      if (a === id) out.push([b, score]);
      else if (b === id) out.push([a, score]);
    }
    return out;
  }
}

export function fromSnapshot(hall) {
  const r = emptyRecord();
  const syn = hall.synthesis || {};
  r.cards = structuredClone(syn.cards || []);
  r.themes = (syn.themes || []).map((x) => ({ theme: x.theme, title: x.title }));
  r.duplicates = structuredClone(syn.duplicates || []);
  r.recommendations = structuredClone(hall.recommendations || []);
  r.attendance = structuredClone(hall.attendance || r.attendance);
  for (const p of hall.polls || []) {
    r.polls[p.poll] = { recommendation: p.recommendation ?? null, rule: p.rule ?? null, slate: p.slate ?? null,
      result: p.result ?? null,
      paper: p.paper && p.paper.counts ? { counts: [...p.paper.counts], voters: p.paper.voters } : null,
      paperVoters: p.paper ? p.paper.voters : 0 };
  }
  return r;
}

function version(d) {
  return { title: d.title, text: d.text, at: d.at, by: { role: d.role, table: d.table ?? null } };
}

/** Fold one hall event's public data into the record (in place). */
export function fold(r, op, d) {
  switch (op) {
    case "card.send":
      if (r.cards.some((k) => k.card === d.card)) return;
      r.cards.push({ card: d.card, table: d.table, activity: d.activity, cluster: d.cluster, title: d.title,
        notes: [...(d.notes || [])], dots: d.dots, theme: null });
      for (const [other, score] of d.duplicates || []) r.duplicates.push([other, d.card, score]);
      return;
    case "theme.add":
      if (!r.themes.some((x) => x.theme === d.theme)) r.themes.push({ theme: d.theme, title: d.title });
      return;
    case "theme.rename": {
      const x = r.themes.find((y) => y.theme === d.theme);
      if (x) x.title = d.title;
      return;
    }
    case "card.move": {
      const k = r.cards.find((c) => c.card === d.card);
      if (k) k.theme = d.theme ?? null;
      return;
    }
    case "theme.merge":
    case "theme.remove":
      for (const k of r.cards) if (k.theme === d.theme) k.theme = op === "theme.merge" ? d.into : null;
      r.themes = r.themes.filter((x) => x.theme !== d.theme);
      return;
    case "card.withdraw":
      r.cards = r.cards.filter((k) => k.card !== d.card);
      r.duplicates = r.duplicates.filter(([a, b]) => a !== d.card && b !== d.card);
      return;
    case "recommendation.add":
      if (r.recommendations.some((x) => x.recommendation === d.recommendation)) return;
      r.recommendations.push({ recommendation: d.recommendation, title: d.title, text: d.text, theme: d.theme ?? null,
        table: d.table ?? null, versions: [version(d)], withdrawn: false, withdrawn_by: null, withdrawn_at: null,
        locked: null, adopted: null });
      return;
    case "recommendation.edit":
    case "recommendation.withdraw":
    case "recommendation.lock":
    case "recommendation.unlock": {
      const rec = r.recommendations.find((x) => x.recommendation === d.recommendation);
      if (!rec) return;
      if (op === "recommendation.edit") {
        rec.versions.push(version(d));
        rec.title = d.title;
        rec.text = d.text;
      } else if (op === "recommendation.withdraw") {
        rec.withdrawn = true;
        rec.withdrawn_by = { role: d.role, table: d.table ?? null };
        rec.withdrawn_at = d.at;
      } else if (op === "recommendation.lock") {
        rec.locked = d.poll;
      } else {
        rec.locked = null;
        if (d.adopted) rec.adopted = d.poll;
      }
      return;
    }
    case "day.open": {
      const a = r.attendance;
      let day = a.days.find((x) => x.day === d.day);
      if (!day) {
        day = { day: d.day, label: d.label, opened_at: d.at, closed_at: null, present: 0 };
        a.days.push(day);
      } else {
        day.label = d.label;
        day.closed_at = null;
      }
      a.open_day = d.day;
      a.present = day.present;
      return;
    }
    case "day.close": {
      const a = r.attendance;
      const day = a.days.find((x) => x.day === d.day);
      if (day) day.closed_at = d.at;
      if (a.open_day === d.day) {
        a.open_day = null;
        a.present = 0;
      }
      return;
    }
    case "day.checkin":
    case "day.mark": {
      const a = r.attendance;
      const day = a.days.find((x) => x.day === d.day);
      if (day) day.present = d.present;
      if (a.open_day === d.day) a.present = d.present;
      return;
    }
    case "poll.open":
      r.polls[d.poll] = { recommendation: d.recommendation ?? null, rule: d.rule ?? null, slate: d.slate ?? null,
        result: null, paper: null, paperVoters: 0 };
      return;
    case "poll.paper": {
      const p = r.polls[d.poll];
      if (p) p.paperVoters = d.paper_voters;
      return;
    }
    case "poll.tally": {
      const p = r.polls[d.poll];
      if (!p) return;
      if (d.paper) p.paper = { counts: [...d.paper.counts], voters: d.paper.voters };
      if (d.result) p.result = { ...d.result };
      return;
    }
    default:
  }
}

// -- words for the record's stable keys

export const RULES = ["majority", "two_thirds", "threshold", "consent", "gradients"];

export function ruleName(rule) {
  switch (rule) {
    case "majority": return t("Simple majority");
    case "two_thirds": return t("Two-thirds majority");
    case "threshold": return t("Custom threshold");
    case "consent": return t("Consent (no objections)");
    case "gradients": return t("Gradients of agreement");
    default: return rule || "";
  }
}

/** The rule in words, with its threshold and quorum: "Two-thirds majority · quorum 20". */
export function ruleText(rule) {
  if (!rule) return "";
  const parts = [ruleName(rule.rule)];
  if (rule.threshold != null) parts.push(t("at least {n} % for", { n: rule.threshold }));
  if (rule.quorum != null) parts.push(t("quorum: {n} ballots", { n: rule.quorum }));
  if (rule.quorum_percent != null) parts.push(t("quorum: {n} % of those present", { n: rule.quorum_percent }));
  return parts.join(" · ");
}

/** An adoption vote's option key in words. */
export function optionLabel(key) {
  switch (key) {
    case "for": return t("For");
    case "against": return t("Against");
    case "abstain": return t("Abstain");
    case "consent": return t("Consent");
    case "object": return t("Object");
    case "endorse": return t("Endorse wholeheartedly");
    case "endorse_with_minor_point": return t("Agree, with a minor point");
    case "agree_with_reservations": return t("Support, with reservations");
    case "more_discussion_needed": return t("More discussion needed");
    case "dont_like_but_will_not_block": return t("Don't like it, but will not block");
    case "serious_disagreement": return t("Serious disagreement");
    case "veto": return t("Veto (block)");
    default: return key;
  }
}

/** Why an adoption vote ended as it did, in words. */
export function reasonText(key) {
  switch (key) {
    case "no_quorum": return t("The quorum was not reached.");
    case "no_votes": return t("Nobody voted.");
    case "all_abstained": return t("Everyone abstained.");
    case "majority_for": return t("More voted for than against.");
    case "majority_against": return t("More voted against than for.");
    case "tie": return t("As many voted for as against: a tie is not adopted.");
    case "threshold_met": return t("Enough voted for: the required share was reached.");
    case "below_threshold": return t("Too few voted for: the required share was not reached.");
    case "consent": return t("Nobody objected.");
    case "objection": return t("Someone objected.");
    case "veto": return t("Someone used a veto.");
    default: return key || "";
  }
}

const oneDecimal = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 });

/** A percentage from the server (66.7) as "66,7 %" / "66.7%"; "–" when there was nothing to count. */
export function percentText(value) {
  if (value == null) return "–";
  return t("{n} %", { n: oneDecimal.format(value) });
}

const timeFormat = new Intl.DateTimeFormat(lang, { weekday: "short", hour: "2-digit", minute: "2-digit" });

export function when(ms) {
  return ms == null ? "" : timeFormat.format(new Date(ms));
}

/** Who wrote or changed something, by role and table: "the facilitator", "Bord 2 (host)". */
export function byText(by, tableName) {
  if (!by || by.role === "facilitator") return t("the facilitator");
  if (by.table != null) return t("{table} (host)", { table: tableName(by.table) });
  return by.role;
}
