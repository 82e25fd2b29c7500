// Joining a table: one code, an optional first name, one big button. The token that comes back is
// kept in localStorage (never in a URL) and the tablet goes on to /table.
import { loadCatalog, t } from "./i18n.js";

export const TOKEN_KEY = "samling.token.member";
export const JOIN_KEY = "samling.join";
export const NAME_KEY = "samling.name";

const $ = (id) => document.getElementById(id);

function stored() {
  try {
    const token = localStorage.getItem(TOKEN_KEY);
    const join = JSON.parse(localStorage.getItem(JOIN_KEY) || "null");
    return token ? { token, join } : null;
  } catch {
    return null;
  }
}

/** What the server will accept: case, spaces and dashes do not matter (the server says the same). */
export function cleanCode(raw) {
  return raw.toUpperCase().replace(/[\s-]+/g, "");
}

function showError(message) {
  const box = $("join-error");
  box.textContent = message;
  $("code").setAttribute("aria-invalid", message ? "true" : "false");
}

async function join(event) {
  event.preventDefault();
  const button = $("join-button");
  const code = cleanCode($("code").value);
  const name = $("name").value.trim();
  if (!code) {
    showError(t("Please type the code from your table's card."));
    $("code").focus();
    return;
  }
  button.disabled = true;
  button.textContent = t("Joining…");
  showError("");
  try {
    const body = { code };
    if (name) body.name = name;
    const r = await fetch("/api/join", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (r.ok) {
      const answer = await r.json();
      localStorage.setItem(TOKEN_KEY, answer.token);
      localStorage.setItem(JOIN_KEY, JSON.stringify(answer));
      if (name) localStorage.setItem(NAME_KEY, name);
      else localStorage.removeItem(NAME_KEY);
      location.replace("/table");
      return;
    }
    if (r.status === 404) showError(t("That code is not right. Check the card on your table and try again."));
    else if (r.status === 429) showError(t("Too many tries. Please wait a moment, then try again."));
    else if (r.status === 400 || r.status === 413) showError(t("Your name is too long. Use at most 40 letters."));
    else showError(t("Something went wrong. Please try again."));
  } catch {
    showError(t("No connection. Check the WiFi and try again."));
  }
  button.disabled = false;
  button.textContent = t("Join");
  $("code").focus();
}

function showForm() {
  $("resume").hidden = true;
  $("join-form").hidden = false;
  $("code").focus();
}

async function main() {
  const form = $("join-form");
  form.addEventListener("submit", join);
  $("code").addEventListener("input", () => showError(""));
  $("join-other").addEventListener("click", showForm);
  await loadCatalog();
  const seat = stored();
  if (seat) {
    const join = seat.join || {};
    $("resume-link").textContent = join.table_name
      ? t("Continue at {name}", { name: join.table_name })
      : join.table
        ? t("Continue at table {table}", { table: join.table })
        : t("Continue at your table");
    $("resume").hidden = false;
    form.hidden = true;
    $("resume-link").focus();
  } else if (!$("code").value) {
    $("code").focus();
  } else {
    $("name").focus();
  }
}

main();
