// Browser client for GET /api/ice-servers: plain ESM, no dependencies, no build step.
// Types: ./turn-client.d.ts. Documentation: docs/client.md. This is the entry point
// (`turn-vend/client`); each concern lives in its own module beside it:
//   fetch-ice-servers.js  the request and its answer       revoke.js      revocation
//   ice-servers-error.js  the error type and what is retried  schedule.js  timers and backoff
//   connection.js         restart, verification, recovery  ice-source.js  one source, many connections
//   keep-fresh.js         the one-connection form           options.js     option checks and defaults
export { DEFAULT_ENDPOINT, getIceServers } from "./fetch-ice-servers.js";
export { createIceSource } from "./ice-source.js";
export { IceServersError } from "./ice-servers-error.js";
export { keepFresh } from "./keep-fresh.js";
export { revokeIceServers, revokeUrl } from "./revoke.js";
