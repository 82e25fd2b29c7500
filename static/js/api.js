// The HTTP API with a Bearer token: the one place where pages make authenticated requests (the
// dashboard's export and device removal, the printable sheet, the organiser's setup page).
// The token is opaque: it is sent back as it came, never read.

/**
 * fetch() `path` with `Authorization: Bearer <token>`. A `json` value is sent as a JSON body.
 * Resolves with the Response whatever its status; rejects only when the server cannot be reached.
 */
export function api(path, token, { method = "GET", json } = {}) {
  const headers = { Authorization: `Bearer ${token}` };
  const init = { method, headers };
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  return fetch(path, init);
}

/** The address of one assembly's API: assemblyPath("a1", "export.json") is /api/assemblies/a1/export.json. */
export function assemblyPath(assembly, rest) {
  return `/api/assemblies/${encodeURIComponent(assembly)}/${rest}`;
}

/** A refused request's body, {error, msg} (or {} when it is not a JSON object). */
export async function errorBody(response) {
  try {
    const body = await response.json();
    return body && typeof body === "object" ? body : {};
  } catch {
    return {};
  }
}
