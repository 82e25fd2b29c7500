// Small helpers shared by the facilitator's dashboard and the display: the token from the link,
// DOM building without innerHTML, words for phases, errors and connection states, and clocks.
import { lang, t } from "../i18n.js";

/**
 * The token of a facilitator or display link: taken from `#token=...` (then kept in localStorage
 * and wiped from the address bar), or the one kept from an earlier visit.
 */
export function takeToken(role) {
  const key = `samling.token.${role}`;
  const fragment = new URLSearchParams(location.hash.slice(1));
  const fresh = fragment.get("token");
  if (fresh) {
    try {
      localStorage.setItem(key, fresh);
    } catch {
      // storage disabled: the token still works for this visit
    }
    history.replaceState(history.state, "", location.pathname + location.search);
    return fresh;
  }
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

/** Build an element: h("li", {class: "x", "data-id": 3}, "text", child). null/false children are skipped. */
export function h(tag, attrs = {}, ...children) {
  const svg = tag === "svg" || tag === "rect";
  const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** Replace `el`'s children only when `key` differs from last time (keeps focus and clicks steady). */
export function renderKeyed(el, key, build) {
  if (el.dataset.key === key) return false;
  el.dataset.key = key;
  el.replaceChildren(...[build()].flat().filter((c) => c != null));
  return true;
}

/**
 * Open `dialog` as a modal. The page's messages (#messages) move into it while it is open: behind
 * a modal dialog they would be inert, neither read out nor dismissable.
 */
export function openModal(dialog) {
  if (dialog.open) return;
  const messages = document.getElementById("messages");
  if (messages) {
    const home = messages.parentNode;
    dialog.append(messages);
    dialog.addEventListener("close", () => home.append(messages), { once: true });
  }
  dialog.showModal();
}

/** Set text only when it changed. */
export function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

/** A client-made id: prefix + random, valid for the protocol's id syntax. */
export function newId(prefix) {
  const rand = crypto.getRandomValues(new Uint32Array(2));
  return `${prefix}-${rand[0].toString(36)}${rand[1].toString(36)}`;
}

export const PHASES = ["brainstorm", "cluster", "vote", "results"];

export function phaseName(phase) {
  switch (phase) {
    case "brainstorm": return t("Brainstorm");
    case "cluster": return t("Cluster");
    case "vote": return t("Vote");
    case "results": return t("Results");
    default: return t("Not started");
  }
}

/** An `err` frame (or anything thrown) in plain words. */
export function errorText(err) {
  const code = err && err.code;
  switch (code) {
    case "forbidden": return t("This link is not allowed to do that.");
    case "wrong_phase": return t("That is not possible yet: start an activity first, or check the phase.");
    case "unknown_target": return t("That table or poll does not exist (any more).");
    case "invalid_args": return t("Something in the form is not accepted: {detail}.", { detail: err.msg || "" });
    case "over_budget": return t("A limit has been reached: {detail}.", { detail: err.msg || "" });
    case "poll_closed": return t("That poll is already closed.");
    case "rate_limited": return t("Too many changes at once. Wait a moment and try again.");
    case "conflict":
    case "server_busy": return t("The server is busy. Try again in a moment.");
    case "duplicate_id": return t("That was already done once. Try again.");
    case "not_authenticated": return t("This link is not valid. Ask the organiser for a new one.");
    default:
      if (err && err.msg) return t("The server refused this: {detail}.", { detail: err.msg });
      return t("Something went wrong. Try again.");
  }
}

/** The connection state in words: "Online", "Reconnecting…", "Offline: 2 changes waiting". */
export function statusText(status, waiting, everOnline) {
  let text;
  if (status === "online") text = t("Online");
  else if (status === "connecting") text = everOnline ? t("Reconnecting…") : t("Connecting…");
  else text = t("Offline");
  if (waiting === 1) text += " · " + t("1 change waiting");
  else if (waiting > 1) text += " · " + t("{n} changes waiting", { n: waiting });
  return text;
}

/** "4:05" from milliseconds left (rounded up to the whole second, never below 0). */
export function clock(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const m = Math.floor(s / 60);
  const hours = Math.floor(m / 60);
  const ss = String(s % 60).padStart(2, "0");
  if (hours) return `${hours}:${String(m % 60).padStart(2, "0")}:${ss}`;
  return `${m}:${ss}`;
}

/** "just now", "2 min ago". */
export function ago(ms) {
  const s = Math.floor(Math.max(0, ms) / 1000);
  if (s < 60) return t("just now");
  const m = Math.floor(s / 60);
  if (m < 60) return t("{n} min ago", { n: m });
  return t("{n} h ago", { n: Math.floor(m / 60) });
}

const percent = new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 0 });
const number = new Intl.NumberFormat(lang);

export function pct(fraction) {
  return percent.format(fraction);
}

export function num(n) {
  return number.format(n);
}

/** A poll's numbers: each option's count and share of the votes cast (null counts while hidden). */
export function pollRows(poll) {
  const counts = poll.counts || null;
  const total = counts ? counts.reduce((a, b) => a + b, 0) : 0;
  return poll.options.map((label, i) => {
    const count = counts ? counts[i] || 0 : null;
    return { label, count, share: counts && total ? count / total : 0 };
  });
}

/** "3 of 30 have voted" (or "No votes yet"). */
export function turnout(poll) {
  // `present` arrives with the first tally, so until the first vote it is unknown.
  if (!poll.present) return poll.voters ? t("{voters} have voted", { voters: num(poll.voters) }) : t("No votes yet");
  return t("{voters} of {present} have voted", { voters: num(poll.voters || 0), present: num(poll.present || 0) });
}

/** One horizontal bar as SVG (no inline styles: the width is an SVG attribute). */
export function bar(share) {
  const w = Math.max(0, Math.min(100, share * 100));
  return h("svg", { class: "bar", viewBox: "0 0 100 10", preserveAspectRatio: "none", "aria-hidden": "true" },
    h("rect", { class: "bar-track", x: 0, y: 0, width: 100, height: 10 }),
    h("rect", { class: "bar-fill", x: 0, y: 0, width: w.toFixed(2), height: 10 }));
}

/** A poll's results as a list of bars, each with its count and percentage. */
export function pollBars(poll) {
  return h("ol", { class: "bars", "data-options": poll.options.length },
    pollRows(poll).map((row, i) => h("li", { class: "bar-row", "data-option": i },
      h("span", { class: "bar-label" }, row.label),
      bar(row.share),
      h("span", { class: "bar-num" },
        h("span", { class: "bar-count" }, num(row.count ?? 0)),
        h("span", { class: "bar-pct" }, pct(row.share))))));
}

/**
 * renderKeyed, keeping the focus: an element with `data-fkey` that had the focus before the redraw
 * gets it back after, if the new children hold one with the same key.
 */
export function rebuild(el, key, build) {
  const active = document.activeElement;
  const fkey = active && el.contains(active) ? active.dataset.fkey : null;
  const changed = renderKeyed(el, key, build);
  if (changed && fkey) {
    const again = [...el.querySelectorAll("[data-fkey]")].find((x) => x.dataset.fkey === fkey);
    if (again) again.focus();
  }
  return changed;
}
