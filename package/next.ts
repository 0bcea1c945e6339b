/**
 * Next.js App Router: `app/api/ice-servers/[[...slug]]/route.ts` holding
 * `export { GET, POST, OPTIONS } from "turn-vend/next";` serves the endpoint and its /revoke.
 * The environment is process.env; on Vercel (VERCEL set) the client's address, the
 * deployment's own origins and the caller's location come from what Vercel sets, elsewhere
 * none is trusted.
 */
import { createHandler } from "./create-handler.ts";
import { vercelClientIp, vercelLocation, vercelOwnOrigins } from "./platforms.ts";

const onVercel = () => Boolean(globalThis.process?.env?.VERCEL);

const handler = createHandler({
  env: () => globalThis.process?.env ?? {},
  clientIp: (request) => (onVercel() ? vercelClientIp(request) : undefined),
  ownOrigins: (request) => (onVercel() ? vercelOwnOrigins(request) : []),
  location: (request) => (onVercel() ? vercelLocation(request) : undefined),
});

export const GET = handler;
export const POST = handler;
export const OPTIONS = handler;
