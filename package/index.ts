// The package's main entry: `import { createHandler } from "turn-vend"`.
export { createHandler, type CreateHandlerOptions, type IceServersHandler, type RequestFacts } from "./create-handler.ts";
export {
  cloudflareClientIp,
  detectPlatform,
  netlifyClientIp,
  netlifyOwnOrigins,
  platformClientIp,
  vercelClientIp,
  vercelLocation,
  vercelOwnOrigins,
  type Platform,
} from "./platforms.ts";
export type { CallerLocation } from "../shared/routing/location.ts";
export type { Env } from "../shared/config.ts";
export type { Logger } from "../shared/handle.ts";
export type { Fetch } from "../shared/upstream/upstream.ts";
