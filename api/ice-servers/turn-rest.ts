// /api/ice-servers/turn-rest on Vercel: the same function; the core routes by path.
export { default } from "../ice-servers.ts";
