import { ServiceError } from "../errors.ts";

// Powers of ten, as providers bill: a GB is 10^9 bytes.
const UNIT_BYTES: Record<string, number> = { mb: 1e6, gb: 1e9, tb: 1e12 };
const AMOUNT = /^(\d{1,9}(?:\.\d{1,6})?)\s*(mb|gb|tb)$/i;

/** "40GB", "1.5TB", "500MB" as bytes; undefined for anything else. */
export function parseAmount(text: string): number | undefined {
  const match = AMOUNT.exec(text.trim());
  if (!match) return undefined;
  const bytes = Math.round(Number(match[1]) * UNIT_BYTES[match[2].toLowerCase()]);
  return bytes > 0 ? bytes : undefined;
}

/** Bytes as people read them, in the units limits are written in. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1e12) return `${(bytes / 1e12).toFixed(2)} TB`;
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  return `${(bytes / 1e6).toFixed(2)} MB`;
}

/** An amount, or a ServiceError naming the variable (never the value) and the form it takes. */
export function requireAmount(name: string, text: string): number {
  const bytes = parseAmount(text);
  if (bytes === undefined) {
    throw new ServiceError("invalid_config", `${name} amounts must be a positive number with MB, GB or TB (powers of ten), such as 40GB`);
  }
  return bytes;
}
