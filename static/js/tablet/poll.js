// The plenary poll: while the hall has an open poll, a full-screen card with the question and one
// big button per answer. The tablet's vote is marked, can be changed until the poll closes, and
// "Your vote is registered" is said only once the server has acknowledged it.
import { t } from "../i18n.js";
import { h } from "./dom.js";
import { openPoll } from "./model.js";

export class PollCard {
  constructor(app, el) {
    this.app = app;
    this.el = el;
    this.current = null;   // poll id on the card
    this.sig = null;
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
    const poll = openPoll(hall);
    if (!poll) {
      if (this.current) {
        this.app.announce(t("The poll is closed."));
        this.current = null;
        this.sig = null;
        this.el.replaceChildren();
        this.el.hidden = true;
        this.app.setInert(false);
      }
      return;
    }
    const { pending, registered } = this.choices(poll.poll);
    const online = this.app.live.status === "online";
    const sig = JSON.stringify([poll.poll, poll.options, pending, registered, online, poll.voters, poll.present]);
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
    const answers = poll.options.map((label, i) => h("button", {
      type: "button",
      class: `answer${shown === i ? " chosen" : ""}${pending === i ? " sending" : ""}`,
      "aria-pressed": shown === i ? "true" : "false",
      on: { click: () => this.cast(poll, i) },
    },
    poll.kind === "scale" ? h("span", { class: "answer-step", "aria-hidden": "true", text: String(i + 1) }) : null,
    h("span", { class: "answer-label", text: label }),
    shown === i ? h("span", { class: "answer-mark", text: pending === i ? t("Sending…") : t("Your vote") }) : null));

    const focused = document.activeElement;
    const focusIndex = focused && this.el.contains(focused) ? [...this.el.querySelectorAll(".answer")].indexOf(focused) : -1;
    const headingFocused = focused?.id === "poll-question";
    this.el.replaceChildren(h("div", { class: "poll-card" },
      h("p", { class: "poll-kicker", text: t("Question for everyone in the hall") }),
      h("h2", { id: "poll-question", class: "poll-question", tabindex: -1, text: poll.question }),
      h("div", { class: `answers ${poll.kind}` }, answers),
      h("p", { class: `poll-status${registered != null && pending == null ? " done" : ""}`, text: status }),
      poll.present ? h("p", { class: "poll-count",
        text: t("{voters} of {present} have voted", { voters: poll.voters, present: poll.present }) }) : null));
    this.el.hidden = false;
    this.app.setInert(true);
    if (fresh || headingFocused) this.el.querySelector("#poll-question").focus();
    else if (focusIndex >= 0) this.el.querySelectorAll(".answer")[focusIndex]?.focus();
  }

  cast(poll, choice) {
    const { pending, registered } = this.choices(poll.poll);
    if ((pending ?? registered) === choice) {
      this.app.announce(pending != null ? t("Sending your vote…") : t("Your vote is registered."));
      return;
    }
    this.app.send("vote.cast", { poll: poll.poll, choice }, "hall");
  }
}
