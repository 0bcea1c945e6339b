import type { Env } from "../shared/config.ts";

type Globals = {
  process?: { env?: Env };
  Deno?: { env: { toObject(): Record<string, string> } };
};

/**
 * The runtime's own environment, without importing node:process: Node's (and Bun's, and
 * Deno 2's) process.env, else Deno.env where --allow-env permits, else nothing.
 */
export function runtimeEnv(): Env {
  const globals = globalThis as Globals;
  if (globals.process?.env) return globals.process.env;
  try {
    return globals.Deno?.env.toObject() ?? {};
  } catch {
    // Deno without --allow-env: the configuration check then names what is missing.
    return {};
  }
}
