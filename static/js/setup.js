// The organiser's setup page (/new): create an assembly from the browser.
//
// The organiser's link (printed by `samling serve`) is /new#token=<organiser token>. The token is
// kept in localStorage and taken out of the address bar at once, so it is not bookmarked, shared
// or printed by accident. On success the facilitator's token is kept under
// `samling.token.facilitator` (the dashboard and the printable sheet read it from there) and the
// assembly's id under `samling.assembly.facilitator`.
import { api, errorBody } from "./api.js";
import { copy } from "./clipboard.js";
import { loadCatalog, t } from "./i18n.js";

export const ORGANISER_KEY = "samling.token.organiser";
export const FACILITATOR_KEY = "samling.token.facilitator";
export const ASSEMBLY_KEY = "samling.assembly.facilitator";
const MAX_TABLES = 500;
const NAME_MAX = 120;
const TABLE_NAME_MAX = 40;
const LOCAL = new Set(["localhost", "127.0.0.1", "[::1]"]);  // names only this computer can reach

const $ = (id) => document.getElementById(id);

function store(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // private mode or storage full: the links on the page still work
  }
}

function stored(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

/** The token from #token=... (kept, then removed from the address bar), else the kept one. */
function takeToken() {
  const fromLink = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromLink) {
    store(ORGANISER_KEY, fromLink);
    history.replaceState(null, "", location.pathname + location.search);
    return fromLink;
  }
  return stored(ORGANISER_KEY);
}

function showError(message, field = null) {
  $("setup-error").textContent = message;
  for (const input of document.querySelectorAll("#setup-form [aria-invalid]")) input.removeAttribute("aria-invalid");
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }
}

/** What the form asks for, or null (with the reason shown) when something is not right. */
function readForm() {
  const nameInput = $("setup-name");
  const tablesInput = $("setup-tables");
  const namesInput = $("setup-table-names");
  const name = nameInput.value.trim();
  if (!name) {
    showError(t("Please give the assembly a name."), nameInput);
    return null;
  }
  if (name.length > NAME_MAX) {
    showError(t("The name is too long: at most {n} letters.", { n: NAME_MAX }), nameInput);
    return null;
  }
  const tables = Number(tablesInput.value);
  if (!Number.isInteger(tables) || tables < 1 || tables > MAX_TABLES) {
    showError(t("The number of tables must be a whole number from 1 to {max}.", { max: MAX_TABLES }), tablesInput);
    return null;
  }
  const tableNames = namesInput.value.split("\n").map((s) => s.trim()).filter((s) => s);
  if (tableNames.length > tables) {
    namesInput.closest("details").open = true;
    showError(t("There are more table names than tables."), namesInput);
    return null;
  }
  const tooLong = tableNames.find((s) => s.length > TABLE_NAME_MAX);
  if (tooLong) {
    namesInput.closest("details").open = true;
    showError(t("A table name is too long: at most {n} letters.", { n: TABLE_NAME_MAX }), namesInput);
    return null;
  }
  const body = { name, tables };
  if (tableNames.length) body.table_names = tableNames;
  return body;
}

function sheetLink(made) {
  const url = new URL("/facilitator/sheet", location.href);
  url.searchParams.set("assembly", made.assembly);
  url.hash = `token=${made.facilitator_token}`;
  return url.pathname + url.search + url.hash;
}

function showDone(made) {
  store(FACILITATOR_KEY, made.facilitator_token);
  store(ASSEMBLY_KEY, made.assembly);
  const n = made.tables.length;
  $("setup-done-name").textContent = n === 1 ? t("{name}, with 1 table.", { name: made.name })
    : t("{name}, with {n} tables.", { name: made.name, n });
  $("setup-fac-url").value = made.facilitator_url;
  $("setup-fac-open").href = made.facilitator_url;
  $("setup-display-url").value = made.display_url;
  $("setup-display-open").href = made.display_url;
  $("setup-sheet-open").href = sheetLink(made);
  $("setup-localhost").hidden = !LOCAL.has(new URL(made.facilitator_url).hostname);
  $("setup-form").hidden = true;
  $("setup-done").hidden = false;
  $("setup-done").focus();
}

async function create(token, body) {
  const button = $("setup-submit");
  button.disabled = true;
  showError("");
  try {
    const r = await api("/api/assemblies", token, { method: "POST", json: body });
    if (r.ok) {
      showDone(await r.json());
      return;
    }
    const answer = await errorBody(r);
    if (r.status === 403) {
      showError(t("This organiser link is not valid any more. Use the link the server showed when it started."));
    } else if (r.status === 400 || r.status === 413) {
      showError(t("The server did not accept this: {detail}", { detail: answer.msg || r.status }));
    } else {
      showError(t("Something went wrong. Please try again."));
    }
  } catch {
    showError(t("No connection to the server. Check the network and try again."));
  } finally {
    button.disabled = false;
  }
}

async function main() {
  await loadCatalog();
  let token = null;
  const form = $("setup-form");
  const refresh = () => {
    token = takeToken() || token;
    $("setup-no-token").hidden = !!token;
    $("setup-submit").disabled = !token;
  };
  refresh();
  addEventListener("hashchange", refresh);  // the link pasted into a tab already on /new
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const body = readForm();
    if (body && token) create(token, body);
  });
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", () => copy(button, $(button.dataset.copy), $("setup-copied")));
  }
  $("setup-again").addEventListener("click", () => {
    form.reset();
    $("setup-done").hidden = true;
    form.hidden = false;
    $("setup-name").focus();
  });
}

main();
