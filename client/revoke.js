// POST /api/ice-servers/revoke, and the tokens a source has yet to revoke.
import { buildHeaders, DEFAULT_ENDPOINT, defaultFetch, resolveHeaders } from "./fetch-ice-servers.js";
import { IceServersError } from "./ice-servers-error.js";

/** `${endpoint}/revoke`, without the endpoint's query. */
export function revokeUrl(endpoint = DEFAULT_ENDPOINT) {
  return `${endpoint.split("?")[0].replace(/\/+$/, "")}/revoke`;
}

/**
 * POSTs `{"revokeToken": …}` to `${endpoint}/revoke`. Resolves when the server accepted it;
 * rejects with an IceServersError (`revoke_failed`, `headers_failed`, or the server's code) otherwise.
 * With `headers` that are not a function, the request is sent before this returns.
 */
export function revokeIceServers(revokeToken, options = {}) {
  if (typeof options.headers === "function") {
    return resolveHeaders(options.headers).then((headers) => sendRevoke(revokeToken, headers, options));
  }
  return sendRevoke(revokeToken, options.headers, options);
}

// Calls fetch synchronously: on pagehide, nothing awaited would still run.
function sendRevoke(revokeToken, headers, options) {
  const { endpoint = DEFAULT_ENDPOINT } = options;
  const fetchImpl = options.fetch ?? defaultFetch;
  const url = revokeUrl(endpoint);
  let sent;
  try {
    const requestHeaders = buildHeaders(headers);
    requestHeaders.set("content-type", "application/json");
    sent = fetchImpl(url, {
      method: "POST",
      headers: requestHeaders,
      body: JSON.stringify({ revokeToken }),
      // Lets the request outlive the page when the revocation happens as it unloads.
      keepalive: true,
    });
  } catch (error) {
    if (error instanceof IceServersError) return Promise.reject(error);
    sent = Promise.reject(error);
  }
  return Promise.resolve(sent).then(
    async (response) => {
      if (response.ok) return;
      let code = "revoke_failed";
      let message = `${url} answered HTTP ${response.status}`;
      try {
        const error = (await response.json()).error;
        if (typeof error?.code === "string") {
          code = error.code;
          if (typeof error.message === "string") message = error.message;
        }
      } catch {}
      throw new IceServersError(code, message, { status: response.status });
    },
    (error) => {
      throw new IceServersError("revoke_failed", `could not reach ${url}`, { cause: error });
    },
  );
}

/**
 * The revokeTokens a source has seen, until their credentials expire. `revokeAll(sync)` POSTs
 * each one; with `sync` (pagehide) every fetch is called before it returns, with the headers a
 * headers function gave last (`resolvedHeaders`), since nothing awaited would still run.
 */
export function createTokenStore({ fetchOptions, headers, report }) {
  /** revokeToken → when its credentials expire, on this device's clock. */
  const tokens = new Map();
  let resolvedHeaders = typeof headers === "function" ? undefined : headers;

  // Revoking an expired token only earns a 403 revoke_token_expired (and uses up the rate limit).
  function prune() {
    const now = Date.now();
    for (const [token, expiresAt] of tokens) if (expiresAt <= now) tokens.delete(token);
  }

  function revokeAll(sync) {
    prune();
    const list = [...tokens.keys()];
    tokens.clear();
    const send = (resolved) =>
      Promise.all(
        list.map((token) =>
          sendRevoke(token, resolved, fetchOptions).catch((error) => {
            // Expired since it was last pruned: nothing left to revoke.
            if (error?.code !== "revoke_token_expired") report(error);
          }),
        ),
      ).then(() => undefined);
    if (sync || typeof headers !== "function") return send(sync ? resolvedHeaders : headers);
    return resolveHeaders(headers).then(send, (error) => report(error));
  }

  return {
    remember(result) {
      if (result?.revokeToken) tokens.set(result.revokeToken, result.fetchedAt.getTime() + result.ttl * 1000);
      prune();
    },
    /** Headers a headers function gave, kept for a pagehide revocation. */
    headersResolved(value) {
      resolvedHeaders = value;
    },
    /** Asks a headers function ahead, so that a pagehide before the first refresh can revoke. */
    prefetchHeaders() {
      if (typeof headers !== "function" || tokens.size === 0) return;
      resolveHeaders(headers).then(
        (value) => (resolvedHeaders ??= value),
        () => {},
      );
    },
    get size() {
      return tokens.size;
    },
    revokeAll,
  };
}
