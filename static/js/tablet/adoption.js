// Adoption votes in words: the options' stable keys (rooms/adoption.py) as the member reads them,
// which ballots must say why, and a result's verdict. Shared by the tablet and the display.
import { t } from "../i18n.js";

/** The words for an option key of an adoption vote (unknown keys are shown as they are). */
export function optionLabel(key) {
  switch (key) {
    case "for": return t("For");
    case "against": return t("Against");
    case "abstain": return t("Abstain");
    case "consent": return t("I consent");
    case "object": return t("I object");
    case "endorse": return t("I fully agree");
    case "endorse_with_minor_point": return t("I agree, with a minor point");
    case "agree_with_reservations": return t("I agree, with reservations");
    case "more_discussion_needed": return t("We need to talk more");
    case "dont_like_but_will_not_block": return t("I don't like it, but I will not block it");
    case "serious_disagreement": return t("I strongly disagree");
    case "veto": return t("I block it (veto)");
    default: return String(key);
  }
}

/** The options of a poll as shown: an adoption vote's keys translated, any other poll's as written. */
export function optionLabels(poll) {
  return poll.kind === "adoption" ? poll.options.map(optionLabel) : poll.options;
}

/** Whether a ballot for `key` must carry a reason: an objection (consent) or a veto (gradients). */
export function needsReason(key) {
  return key === "object" || key === "veto";
}

/** The rule in one plain sentence, for the member before voting. */
export function ruleText(rule) {
  switch (rule?.rule) {
    case "majority": return t("Adopted if more vote for than against.");
    case "two_thirds": return t("Adopted if at least two thirds of those who vote for or against vote for.");
    case "threshold": return t("Adopted if at least {n} % of those who vote for or against vote for.",
      { n: rule.threshold });
    case "consent": return t("Adopted if no one objects.");
    case "gradients": return t("Adopted if at least {n} % agree and no one blocks it.", { n: rule.threshold ?? 75 });
    default: return "";
  }
}

/** Why a vote ended as it did, from the result's `reason` key. */
export function reasonText(reason) {
  switch (reason) {
    case "no_quorum": return t("Too few voted.");
    case "no_votes": return t("No one voted.");
    case "all_abstained": return t("Everyone abstained.");
    case "majority_for": return t("More voted for than against.");
    case "majority_against": return t("More voted against than for.");
    case "tie": return t("As many voted for as against.");
    case "threshold_met": return t("Enough voted for.");
    case "below_threshold": return t("Too few voted for.");
    case "consent": return t("No one objected.");
    case "objection": return t("Someone objected.");
    case "veto": return t("Someone blocked it.");
    default: return "";
  }
}

/** A percentage from the result (one decimal, or none when whole), in the page's language. */
export function percentText(value) {
  if (value == null) return "–";
  const lang = document.body.dataset.lang || "da";
  return `${new Intl.NumberFormat(lang, { maximumFractionDigits: 1 }).format(value)} %`;
}
