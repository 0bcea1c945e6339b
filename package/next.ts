/**
 * Next.js App Router: `app/api/ice-servers/[[...slug]]/route.ts` holding
 * `export { GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS } from "turn-vend/next";` serves the
 * endpoint and its /revoke, answering every method
 * Next.js routes to a route handler with the same JSON as every other host. The environment is
 * process.env; the client's address comes from the platform's own header where createHandler
 * finds one (Vercel, Netlify, Cloudflare), and on Vercel (VERCEL set) the deployment's own
 * origins from Vercel's system variables.
 */
import { createHandler } from "./create-handler.ts";
import { detectPlatform, vercelOwnOrigins } from "./platforms.ts";

const handler = createHandler({
  env: () => globalThis.process?.env ?? {},
  ownOrigins: (request) => (detectPlatform() === "vercel" ? vercelOwnOrigins(request) : []),
});

// Next.js answers a method the file does not export with its own empty 405: every method it routes is here.
export const GET = handler;
export const HEAD = handler;
export const POST = handler;
export const PUT = handler;
export const DELETE = handler;
export const PATCH = handler;
export const OPTIONS = handler;
