// Plenary polls on the dashboard: write and open one (choices or a scale), watch its tally live,
// close it, and see the earlier polls with their final results.
import { t } from "../i18n.js";
import { isAdoption, labelled, paperForm, presentTurnout, resultView, ruleBadges } from "./adoption.js";
import { h, newId, pollBars, renderKeyed, bar, turnout } from "./common.js";

const LIMITS = { choice: [2, 12], scale: [3, 7] };

export function agreeScale() {
  return [t("Strongly disagree"), t("Disagree"), t("Neither agree nor disagree"), t("Agree"), t("Strongly agree")];
}

export class Polls {
  /** ctx: {rooms(), record, act(label, promise), send(op, args), note(text), info(text)} */
  constructor(ctx) {
    this.ctx = ctx;
    this.form = document.getElementById("poll-form");
    this.list = document.getElementById("poll-options");
    this.addButton = document.getElementById("option-add");
    this.presetButton = document.getElementById("scale-preset");
    this.openEl = document.getElementById("polls-open");
    this.pastEl = document.getElementById("polls-past");
    this.cards = new Map(); // open poll id -> {el, body}
    this.answers = { choice: ["", ""], scale: agreeScale() };
    this.kind = "choice";
    for (const radio of this.form.querySelectorAll("input[name=kind]")) {
      radio.addEventListener("change", () => {
        if (radio.checked) this.setKind(radio.value);
      });
    }
    this.addButton.addEventListener("click", () => {
      const list = this.answers[this.kind];
      if (list.length < LIMITS[this.kind][1]) list.push("");
      this.drawOptions(list.length - 1);
    });
    this.presetButton.addEventListener("click", () => {
      this.answers.scale = agreeScale();
      this.drawOptions();
    });
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.drawOptions();
  }

  setKind(kind) {
    this.kind = kind;
    this.presetButton.hidden = kind !== "scale";
    this.drawOptions();
  }

  drawOptions(focus = null) {
    const list = this.answers[this.kind];
    const [low, high] = LIMITS[this.kind];
    const label = (n) => (this.kind === "scale" ? t("Step {n}", { n }) : t("Answer {n}", { n }));
    this.list.replaceChildren(...list.map((value, i) => {
      const input = h("input", { type: "text", maxlength: 120, value, "aria-label": label(i + 1),
        placeholder: label(i + 1), "data-index": i });
      input.addEventListener("input", () => { list[i] = input.value; });
      const remove = h("button", { type: "button", class: "btn small", "aria-label": t("Remove {label}", { label: label(i + 1) }),
        disabled: list.length <= low },
      "✕");
      remove.addEventListener("click", () => {
        list.splice(i, 1);
        this.drawOptions();
      });
      return h("li", { class: "option" }, input, remove);
    }));
    this.addButton.disabled = list.length >= high;
    if (focus != null) this.list.querySelectorAll("input")[focus]?.focus();
  }

  submit() {
    const question = this.form.elements.question.value.trim();
    const answers = this.answers[this.kind].map((x) => x.trim());
    const [low, high] = LIMITS[this.kind];
    if (!question) {
      this.ctx.note(t("Write the question first."));
      this.form.elements.question.focus();
      return;
    }
    if (answers.some((x) => !x) || answers.length < low || answers.length > high) {
      this.ctx.note(this.kind === "scale"
        ? t("A scale needs 3–7 steps, each with a label.") : t("A poll needs 2–12 answers, none of them empty."));
      return;
    }
    const args = { poll: newId("p"), question, kind: this.kind, hidden: this.form.elements.hidden.checked };
    args[this.kind === "scale" ? "labels" : "options"] = answers;
    const submit = this.form.querySelector("[type=submit]");
    submit.disabled = true;
    this.ctx.act(t("Could not open the poll"), this.ctx.send("poll.open", args)).then((ok) => {
      submit.disabled = false;
      if (!ok) return;
      this.form.elements.question.value = "";
      this.form.elements.hidden.checked = false;
      this.answers.choice = ["", ""];
      this.drawOptions();
      document.getElementById("poll-new").open = false;
    });
  }

  close(id) {
    this.ctx.act(t("Could not close the poll"), this.ctx.send("poll.close", { poll: id })).then((ok) => {
      const hall = this.ctx.rooms().hall;
      if (ok && hall && !hall.polls.some((p) => p.open)) document.getElementById("poll-new").open = true;
    });
  }

  render() {
    const hall = this.ctx.rooms().hall;
    const polls = hall ? hall.polls : [];
    const open = polls.filter((p) => p.open);
    // Open polls: one card each, made once; only its numbers are redrawn, so Close stays clickable.
    for (const [id, card] of this.cards) {
      if (!open.some((p) => p.poll === id)) {
        card.el.remove();
        this.cards.delete(id);
      }
    }
    for (const poll of open) {
      let card = this.cards.get(poll.poll);
      if (!card) {
        card = this.card(poll);
        this.cards.set(poll.poll, card);
        this.openEl.append(card.el);
      }
      renderKeyed(card.body, JSON.stringify([poll.counts, poll.voters, poll.present]), () => liveBody(poll));
      card.paper.update();
    }
    const past = polls.filter((p) => !p.open).reverse();
    const record = this.ctx.record;
    const results = past.map((p) => (record.poll(p.poll) || {}).result || null);
    renderKeyed(this.pastEl, JSON.stringify([past, results]), () => past.length
      ? past.map((p, i) => {
        const info = record.poll(p.poll);
        return h("li", { class: "poll-past", "data-poll": p.poll },
          h("div", { class: "poll-head" }, ruleBadges(info)),
          h("p", { class: "poll-q" }, p.question),
          results[i] ? resultView(results[i]) : null,
          pollBars(labelled(p)),
          h("p", { class: "turnout" }, isAdoption(p) ? presentTurnout(p) : turnout(p)));
      })
      : h("li", { class: "empty" }, t("No closed polls yet.")));
  }

  card(poll) {
    const body = h("div", { class: "poll-body" });
    const paper = paperForm(poll, this.ctx);
    const el = h("article", { class: "poll-live", "data-poll": poll.poll },
      h("div", { class: "poll-head" },
        h("span", { class: "badge live-badge" }, "● " + t("Open")),
        ruleBadges(this.ctx.record.poll(poll.poll)),
        poll.hidden ? h("span", { class: "badge" }, t("Results hidden until closed")) : null,
        h("button", { type: "button", class: "btn btn-danger", onclick: () => this.close(poll.poll) }, t("Close poll"))),
      h("p", { class: "poll-q" }, poll.question),
      body,
      paper.el);
    return { el, body, paper };
  }
}

function liveBody(poll) {
  const count = isAdoption(poll) ? presentTurnout(poll) : turnout(poll);
  if (poll.hidden && poll.open) {
    return [h("p", { class: "turnout big-turnout" }, count),
      bar(poll.present ? poll.voters / poll.present : 0),
      h("p", { class: "form-note" }, t("Nobody sees the results until you close the poll."))];
  }
  return [pollBars(labelled(poll)), h("p", { class: "turnout" }, count)];
}
