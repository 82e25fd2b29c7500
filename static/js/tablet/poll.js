// The plenary poll: while the hall has an open poll, a full-screen card with the question and one
// big button per answer. The tablet's vote is marked, can be changed until the poll closes, and
// "Your vote is registered" is said only once the server has acknowledged it.
//
// An adoption vote (kind "adoption") shows the recommendation's title and full text, the rule in
// one sentence, and its answers in words; an objection (consent) or a veto (gradients) asks why
// before it is sent. After the close the card shows the result until the member goes back.
import { t } from "../i18n.js";
import { needsReason, optionLabel, percentText, reasonText, ruleText } from "./adoption.js";
import { h } from "./dom.js";
import { recommendationOf } from "./record-state.js";

const REASON_MAX = 500;

export class PollCard {
  constructor(app, el) {
    this.app = app;
    this.el = el;
    this.current = null;   // poll id on the card
    this.sig = null;
    this.asking = null;    // {poll, choice}: the objection or veto whose reason is being written
    this.reason = "";
    this.dismissed = new Set(); // adoption results the member has gone back from
    this.countEl = null;
    this.seen = new Set();      // polls that have been open on this tablet
  }

  voted(poll) {
    const { pending, registered } = this.choices(poll);
    return (pending ?? registered) != null;
  }

  /**
   * Which open poll the card shows. Several are open at once when the facilitator puts a slate of
   * recommendations to the vote (one ballot each): a newly opened one comes first (unless it is of
   * the slate on the card), then the one on the card, then the first without this tablet's vote,
   * else the newest.
   */
  pick(open) {
    const fresh = open.filter((p) => !this.seen.has(p.poll));
    for (const p of open) this.seen.add(p.poll);
    const current = open.find((p) => p.poll === this.current);
    // the rest of a slate arriving after its first poll leaves the card on the first
    const sameSlate = current && current.slate != null && fresh.every((p) => p.slate === current.slate);
    if (fresh.length && !sameSlate) return fresh[0];
    return current || open.find((p) => !this.voted(p.poll)) || open[open.length - 1];
  }

  /** With several open polls: one button per poll (its number, and a mark once voted), and "Next". */
  navigation(open, poll) {
    if (open.length < 2) return null;
    const at = open.indexOf(poll);
    const next = open.slice(at + 1).concat(open.slice(0, at)).find((p) => !this.voted(p.poll));
    return h("nav", { class: "poll-nav", "aria-label": t("The votes open now") },
      h("p", { class: "poll-nav-where", text: t("Vote {i} of {n}", { i: at + 1, n: open.length }) }),
      h("div", { class: "poll-nav-buttons" }, open.map((p, i) => h("button", {
        type: "button",
        class: `button small poll-nav-button${p === poll ? " current" : ""}${this.voted(p.poll) ? " voted" : ""}`,
        "aria-current": p === poll ? "true" : null,
        "aria-label": this.voted(p.poll) ? t("Vote {i}: voted", { i: i + 1 }) : t("Vote {i}: not voted yet", { i: i + 1 }),
        on: { click: () => this.show(p.poll) },
      }, String(i + 1), this.voted(p.poll) ? h("span", { "aria-hidden": "true", text: " ✓" }) : null))),
      next && this.voted(poll.poll)
        ? h("button", { type: "button", class: "button primary poll-next", text: t("Next vote"),
          on: { click: () => this.show(next.poll) } })
        : null);
  }

  show(pollId) {
    this.current = pollId;
    this.asking = null;
    this.sig = null;
    this.focusHeading = true;
    this.app.render();
  }

  /** This device's vote: the latest one still on its way, else the one the server has. */
  choices(poll) {
    let pending = null;
    for (const c of this.app.live.outbox) {
      if (c.op === "vote.cast" && c.args?.poll === poll) pending = c.args.choice;
    }
    const registered = this.app.rooms.votes[poll] ?? null;
    return { pending, registered };
  }

  render(hall) {
    const open = (hall.polls || []).filter((p) => p.open);
    const poll = open.length ? this.pick(open) : null;
    if (!poll) {
      const was = this.current && hall.polls.find((p) => p.poll === this.current);
      if (was && was.kind === "adoption" && !this.dismissed.has(was.poll)) {
        this.renderResult(hall, was);
        return;
      }
      if (this.current) this.hide(t("The poll is closed."));
      return;
    }
    if (this.asking && this.asking.poll !== poll.poll) this.asking = null;
    const { pending, registered } = this.choices(poll.poll);
    const online = this.app.live.status === "online";
    const rec = poll.kind === "adoption" ? recommendationOf(hall, poll) : null;
    const sig = JSON.stringify([poll.poll, poll.options, pending, registered, online, this.asking,
      rec && [rec.title, rec.text], open.length > 1 ? open.map((p) => [p.poll, this.voted(p.poll)]) : null]);
    this.updateCount(poll);
    if (sig === this.sig) return;
    this.sig = sig;
    const fresh = this.current !== poll.poll;
    this.current = poll.poll;
    const shown = pending ?? registered;

    let status;
    if (pending != null) {
      status = online ? t("Sending your vote…") : t("Your vote will be sent when the connection is back.");
    } else if (registered != null) {
      status = t("Your vote is registered. You can change it until the poll closes.");
    } else {
      status = t("Tap your answer.");
    }
    const adoption = poll.kind === "adoption";
    const answers = poll.options.map((option, i) => h("button", {
      type: "button",
      class: `answer${shown === i ? " chosen" : ""}${pending === i ? " sending" : ""}`
        + `${this.asking?.choice === i ? " asking" : ""}`,
      "aria-pressed": shown === i ? "true" : "false",
      "data-option": adoption ? option : null,
      on: { click: () => this.choose(poll, i) },
    },
    poll.kind === "scale" ? h("span", { class: "answer-step", "aria-hidden": "true", text: String(i + 1) }) : null,
    h("span", { class: "answer-label", text: adoption ? optionLabel(option) : option }),
    shown === i ? h("span", { class: "answer-mark", text: pending === i ? t("Sending…") : t("Your vote") }) : null));

    const focused = document.activeElement;
    const focusIndex = focused && this.el.contains(focused) ? [...this.el.querySelectorAll(".answer")].indexOf(focused) : -1;
    const headingFocused = focused?.id === "poll-question";
    const reasonFocused = focused?.id === "poll-reason";
    this.countEl = h("p", { class: "poll-count" });
    const kind = adoption ? `adoption rule-${poll.rule?.rule || "majority"}` : poll.kind;
    this.el.replaceChildren(h("div", { class: "poll-card" },
      this.navigation(open, poll),
      h("p", { class: "poll-kicker", text: adoption ? t("Vote on a recommendation") : t("Question for everyone in the hall") }),
      h("h2", { id: "poll-question", class: "poll-question", tabindex: -1, text: rec?.title || poll.question }),
      rec ? h("p", { class: "recommendation-text", text: rec.text }) : null,
      adoption && ruleText(poll.rule) ? h("p", { class: "rule-text", text: ruleText(poll.rule) }) : null,
      h("div", { class: `answers ${kind}` }, answers),
      this.asking ? this.reasonForm(poll) : null,
      h("p", { class: `poll-status${registered != null && pending == null ? " done" : ""}`, text: status }),
      this.countEl));
    this.updateCount(poll, true);
    this.el.hidden = false;
    this.app.setInert(true);
    const field = this.el.querySelector("#poll-reason");
    if (field && (reasonFocused || this.focusReason)) {
      field.focus();
      field.setSelectionRange(field.value.length, field.value.length);
      this.focusReason = false;
    } else if (fresh || headingFocused || this.focusHeading) {
      this.focusHeading = false;
      this.el.querySelector("#poll-question").focus();
    } else if (focusIndex >= 0) {
      this.el.querySelectorAll(".answer")[focusIndex]?.focus();
    }
  }

  /** "3 of 30 present have voted", kept current without redrawing the card (a reason being typed stays). */
  updateCount(poll, force = false) {
    if (!this.countEl || (!force && this.current !== poll.poll)) return;
    const text = !poll.present ? ""
      : poll.kind === "adoption"
        ? t("{voters} of {present} present have voted", { voters: poll.voters, present: poll.present })
        : t("{voters} of {present} have voted", { voters: poll.voters, present: poll.present });
    if (this.countEl.textContent !== text) this.countEl.textContent = text;
    this.countEl.hidden = !text;
  }

  /** Why the member objects or blocks: 1-500 letters, required, sent with the vote. */
  reasonForm(poll) {
    const key = poll.options[this.asking.choice];
    const field = h("textarea", { id: "poll-reason", class: "reason-field", rows: 3, maxlength: REASON_MAX,
      "aria-describedby": "poll-reason-hint poll-reason-error" });
    field.value = this.reason;
    const counter = h("span", { class: "counter", "aria-hidden": "true" });
    const error = h("p", { id: "poll-reason-error", class: "reason-error", role: "alert" });
    const count = () => {
      counter.textContent = t("{n} of {max} letters", { n: field.value.length, max: REASON_MAX });
      counter.classList.toggle("near-limit", field.value.length > REASON_MAX - 50);
    };
    field.addEventListener("input", () => {
      this.reason = field.value;
      error.textContent = "";
      count();
    });
    count();
    const send = (e) => {
      e.preventDefault();
      const reason = field.value.trim();
      if (!reason) {
        error.textContent = t("Please write a few words about why.");
        field.focus();
        return;
      }
      const choice = this.asking.choice;
      this.asking = null;
      this.reason = "";
      this.app.send("vote.cast", { poll: poll.poll, choice, reason: reason.slice(0, REASON_MAX) }, "hall");
    };
    return h("form", { class: "reason-form", on: { submit: send } },
      h("label", { class: "field-label", for: "poll-reason",
        text: key === "veto" ? t("Why do you block it?") : t("Why do you object?") }),
      h("p", { id: "poll-reason-hint", class: "hint",
        text: t("Required. Your reason is kept in the assembly's record as a minority statement, never with your name.") }),
      field,
      h("div", { class: "reason-row" },
        counter,
        h("button", { type: "button", class: "button", text: t("Cancel"),
          on: { click: () => { this.asking = null; this.reason = ""; this.sig = null; this.app.render(); } } }),
        h("button", { type: "submit", class: "button primary", text: t("Send my vote") })),
      error);
  }

  /** An answer tapped: an objection or a veto asks why first; anything else is sent at once. */
  choose(poll, choice) {
    const key = poll.options[choice];
    if (poll.kind === "adoption" && needsReason(key)) {
      if (this.asking?.choice !== choice) {
        this.asking = { poll: poll.poll, choice };
        this.focusReason = true;
        this.sig = null;
        this.app.render();
      }
      return;
    }
    if (this.asking) {
      this.asking = null;
      this.sig = null;
    }
    this.cast(poll, choice);
  }

  cast(poll, choice) {
    const { pending, registered } = this.choices(poll.poll);
    if ((pending ?? registered) === choice) {
      this.app.announce(pending != null ? t("Sending your vote…") : t("Your vote is registered."));
      this.app.render();
      return;
    }
    this.app.send("vote.cast", { poll: poll.poll, choice }, "hall");
  }

  /** After an adoption vote closes: adopted or not, the shares, turnout, objections; until the member goes back. */
  renderResult(hall, poll) {
    const result = poll.result;
    const sig = JSON.stringify([poll.poll, "result", result]);
    if (sig === this.sig) return;
    const first = this.resultOf !== poll.poll;
    this.resultOf = poll.poll;
    this.sig = sig;
    this.asking = null;
    this.countEl = null;
    const rec = recommendationOf(hall, poll);
    const parts = [
      h("p", { class: "poll-kicker", text: t("Result of the vote") }),
      h("h2", { id: "poll-question", class: "poll-question", tabindex: -1, text: rec?.title || poll.question }),
    ];
    if (!result) {
      parts.push(h("p", { class: "verdict counting", text: t("The votes are being counted…") }));
    } else {
      const rule = poll.rule?.rule;
      parts.push(
        h("p", { class: `verdict ${result.adopted ? "adopted" : "not-adopted"}`,
          text: result.adopted ? t("Adopted") : t("Not adopted") }),
        reasonText(result.reason) ? h("p", { class: "verdict-reason", text: reasonText(result.reason) }) : null,
        h("dl", { class: "result-figures" },
          figure(t("For"), percentText(result.for_percent), result.for),
          figure(t("Against"), percentText(result.against_percent), result.against),
          figure(t("Abstained"), percentText(result.abstain_percent), result.abstain),
          rule === "consent" ? figure(t("Objections"), String(result.objections)) : null,
          rule === "gradients" ? figure(t("Vetoes"), String(result.objections)) : null),
        h("p", { class: "turnout-line", text: t("Turnout: {pct} ({cast} of {present} present voted)",
          { pct: percentText(result.turnout_percent), cast: result.cast, present: result.present }) }));
    }
    parts.push(h("button", { type: "button", class: "button primary big", text: t("Back to the table"),
      on: { click: () => this.dismiss(poll.poll) } }));
    this.el.replaceChildren(h("div", { class: "poll-card result-card" }, parts));
    this.el.hidden = false;
    this.app.setInert(true);
    if (first) {
      this.el.querySelector("#poll-question").focus();
      this.app.announce(t("The poll is closed."), { quiet: true });
    }
  }

  dismiss(pollId) {
    this.dismissed.add(pollId);
    this.hide(null);
  }

  hide(message) {
    if (message) this.app.announce(message);
    this.current = null;
    this.resultOf = null;
    this.sig = null;
    this.asking = null;
    this.countEl = null;
    this.el.replaceChildren();
    this.el.hidden = true;
    this.app.setInert(false);
  }
}

function figure(label, value, count = null) {
  return h("div", { class: "figure" },
    h("dt", { text: label }),
    h("dd", {}, h("span", { class: "figure-value", text: value }),
      count != null ? h("span", { class: "figure-count", text: count === 1 ? t("1 vote") : t("{n} votes", { n: count }) })
        : null));
}
