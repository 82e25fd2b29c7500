// The printable sheet (/facilitator/sheet): one card per table with its name, QR code, code and
// host code, for the organiser to print and put on the tables.
//
// The facilitator's token comes from #token=... (then it is kept in localStorage under
// `samling.token.facilitator` and removed from the address bar, so the browser does not print it
// in the page's footer) or from localStorage. The assembly's id comes from ?assembly=<id>, else
// #assembly=<id>, else localStorage `samling.assembly.facilitator`. The token itself is opaque:
// nothing is read out of it here.
import { loadAsFacilitator } from "./credentials.js";
import { copy } from "./clipboard.js";
import { loadCatalog, t } from "./i18n.js";

const LOCAL = new Set(["localhost", "127.0.0.1", "[::1]"]);  // names only this computer can reach
const $ = (id) => document.getElementById(id);

function fail(message) {
  $("sheet-status").hidden = true;
  $("sheet-error").textContent = message;
  $("sheet-error").hidden = false;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

function svgUri(svg) {
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

/** "Scan ... or go to <strong>host/join</strong> and type the code" with the address in bold. */
function howTo(joinUrl) {
  const address = `${new URL(joinUrl).host}/join`;
  const p = el("p", "sheet-how");
  const text = t("Scan the QR code, or go to {address} and type the code.", { address: "\u0000" });
  const [before, after = ""] = text.split("\u0000");
  p.append(before, el("strong", null, address), after);
  return p;
}

function card(table) {
  const article = el("article", "card sheet-card");
  article.setAttribute("aria-label", table.name);
  article.append(el("h2", null, table.name));
  if (table.qr_svg) {
    const img = el("img", "sheet-qr");
    img.src = svgUri(table.qr_svg);
    img.alt = t("QR code for {table}", { table: table.name });
    img.width = 256;
    img.height = 256;
    article.append(img);
  }
  if (table.code) {
    const code = el("p", "sheet-code", table.code);
    code.setAttribute("aria-label", t("Code: {code}", { code: table.code.split("").join(" ") }));
    article.append(code, howTo(table.join_url));
  }
  if (table.host_code) {
    const host = el("p", "sheet-host", t("Host code (for the table's facilitator):") + " ");
    host.append(el("span", "code", table.host_code));
    article.append(host);
  }
  return article;
}

function render(sheet) {
  document.title = [t("Cards for the tables"), sheet.name, "Samling"].join(" · ");
  $("sheet-name").textContent = sheet.name;
  $("sheet-name").hidden = false;
  $("sheet-status").textContent = sheet.tables.length === 1 ? t("1 card")
    : t("{n} cards", { n: sheet.tables.length });
  $("sheet-display-url").value = sheet.display_url;
  $("sheet-display-open").href = sheet.display_url;
  $("sheet-tools").hidden = false;
  $("sheet-cards").replaceChildren(...sheet.tables.map(card));
  const first = sheet.tables.find((table) => table.join_url);
  $("sheet-localhost").hidden = !first || !LOCAL.has(new URL(first.join_url).hostname);
}

function wire() {
  const cards = $("sheet-cards");
  $("sheet-print").addEventListener("click", () => window.print());
  $("sheet-one-per-page").addEventListener("change", (e) => cards.classList.toggle("one-per-page", e.target.checked));
  $("sheet-show-host").addEventListener("change", (e) => cards.classList.toggle("hide-host-codes", !e.target.checked));
  $("sheet-display-copy").addEventListener("click", (e) => copy(e.currentTarget, $("sheet-display-url")));
}

async function main() {
  await loadCatalog();
  wire();
  const data = await loadAsFacilitator("sheet", {
    noLink: t("This page needs the facilitator's link. Open the cards from the dashboard or from the organiser's page."),
    forbidden: t("This link does not give access to this assembly's cards. Use the facilitator's link."),
  }, fail);
  if (data) render(data);
}

main();
