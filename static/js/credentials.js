// The facilitator's credentials on a page opened from the dashboard (the printable sheet, the
// report): the token from #token=... (then kept in localStorage under `samling.token.facilitator`
// and removed from the address bar, so the browser does not print it in the page's footer) or
// from localStorage; the assembly's id from ?assembly=<id>, else #assembly=<id>, else localStorage
// `samling.assembly.facilitator`. The token itself is opaque: nothing is read out of it here.

import { api, assemblyPath } from "./api.js";
import { t } from "./i18n.js";

const FACILITATOR_KEY = "samling.token.facilitator";
const ASSEMBLY_KEY = "samling.assembly.facilitator";

function stored(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function store(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // private mode: the page still works until it is closed
  }
}

/** {token, assembly} from the link or from what this browser kept. */
export function facilitatorCredentials() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const query = new URLSearchParams(location.search);
  const token = fragment.get("token") || stored(FACILITATOR_KEY);
  const assembly = query.get("assembly") || fragment.get("assembly") || stored(ASSEMBLY_KEY);
  if (fragment.get("token")) {
    store(FACILITATOR_KEY, token);
    if (assembly) store(ASSEMBLY_KEY, assembly);
    const url = new URL(location.href);
    url.hash = "";
    if (assembly) url.searchParams.set("assembly", assembly);
    history.replaceState(null, "", url.pathname + url.search);
  }
  return { token, assembly };
}

/**
 * The facilitator's `what` of the assembly (an API path under /api/assemblies/<id>/) as JSON, or
 * null after telling `fail` why in plain words: `noLink` when this browser has no facilitator's
 * link, `forbidden` when the link does not open this assembly. A link pasted into a tab already
 * on the page starts it again with that link.
 */
export async function loadAsFacilitator(what, { noLink, forbidden }, fail) {
  addEventListener("hashchange", () => {
    if (new URLSearchParams(location.hash.slice(1)).get("token")) location.reload();
  });
  const { token, assembly } = facilitatorCredentials();
  if (!token || !assembly) {
    fail(noLink);
    return null;
  }
  let r;
  try {
    r = await api(assemblyPath(assembly, what), token);
  } catch {
    fail(t("No connection to the server. Check the network and try again."));
    return null;
  }
  if (r.status === 403) fail(forbidden);
  else if (r.status === 404) fail(t("This assembly does not exist on this server."));
  else if (!r.ok) fail(t("Something went wrong. Please try again."));
  else return r.json();
  return null;
}
