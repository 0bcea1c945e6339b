import { handle } from "../../shared/handle.ts";

declare const Netlify: { env: { toObject(): Record<string, string> } };

// No inline `config.path` on purpose: the route is declared in netlify.toml, so the
// Deno runtime answers /api/ice-servers only when a deployment opts in there.
export default (request: Request) => handle(request, Netlify.env.toObject());
