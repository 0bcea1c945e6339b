export type EnvChange = Record<string, string | undefined>;

/**
 * A new process.env with the change, as a new deployment gets: a service compares another
 * environment object at once, where a change to the same one is noticed within a second
 * (shared/config.ts), and a test changes it between two requests.
 */
function apply(change: EnvChange): void {
  const next = { ...process.env };
  for (const [name, value] of Object.entries(change)) {
    if (value === undefined) delete next[name];
    else next[name] = value;
  }
  process.env = next;
}

/**
 * Sets process.env variables (undefined unsets one) for the functions under
 * test, which read process.env, and returns the undo.
 */
export function useProcessEnv(change: EnvChange): () => void {
  const saved: EnvChange = Object.fromEntries(Object.keys(change).map((name) => [name, process.env[name]]));
  apply(change);
  return () => apply(saved);
}

/** `env` seen through a proxy that adds the name of every variable read to `read`. */
export function recordingReads<E extends Record<string, string>>(env: E, read: Set<string>): E {
  return new Proxy(env, {
    get(target, name) {
      if (typeof name === "string") read.add(name);
      return Reflect.get(target, name);
    },
  });
}

/** A change that unsets each of `names`, to build on. */
export const unset = (names: readonly string[]): EnvChange => Object.fromEntries(names.map((name) => [name, undefined]));
