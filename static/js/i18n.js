// The scripts' strings, from the same Babel catalogue as the pages (/i18n/<lang>.json).
// Source strings are English; `t("Dots left: {n}", {n: 3})` fills in named values.
let table = {};

export const lang = document.body.dataset.lang || "da";

let loading = null;

/** Fetch the catalogue once; every module importing this one waits for it (top-level await below),
 * so no string is ever drawn in English on a Danish page. */
export function loadCatalog() {
  loading ??= (async () => {
    try {
      const r = await fetch(`/i18n/${lang}.json`);
      if (r.ok) table = await r.json();
    } catch {
      // offline at load: English source strings still read fine
    }
  })();
  return loading;
}

await loadCatalog();

export function t(message, values = {}) {
  const text = table[message] || message;
  return text.replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));
}
