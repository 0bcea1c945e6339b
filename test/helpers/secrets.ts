/**
 * Every secret a test configures is made with secret(), so that the suite-wide
 * scan (test/setup/secret-scan.ts) can look for it in everything logged.
 */
const registered = new Set<string>();

export function secret(value: string): string {
  registered.add(value);
  return value;
}

export function registeredSecrets(): ReadonlySet<string> {
  return registered;
}
