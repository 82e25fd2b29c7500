// The facilitator's credentials on a page opened from the dashboard (the printable sheet, the
// report): the token from #token=... (then kept in localStorage under `samling.token.facilitator`
// and removed from the address bar, so the browser does not print it in the page's footer) or
// from localStorage; the assembly's id from ?assembly=<id>, else #assembly=<id>, else localStorage
// `samling.assembly.facilitator`. The token itself is opaque: nothing is read out of it here.

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
