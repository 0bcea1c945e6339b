import type { Config, Context } from "@netlify/functions";
import { handle } from "../shared/handle.ts";

export default (request: Request, _context: Context) => handle(request, process.env);

export const config: Config = { path: "/api/ice-servers" };
