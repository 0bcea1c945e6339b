/**
 * Text from the network made safe to print: an endpoint's error message, an ICE URL, a STUN
 * reason phrase, a TLS error quoting a certificate. A terminal acts on control characters
 * (ESC sequences can retitle the window, rewrite earlier lines or hide text; C1 controls are
 * escapes on some terminals), and bidirectional overrides reorder what is read, so each is
 * written as a visible \uXXXX escape; and no such string may flood the output.
 */

/** Longer than any real URL, reason phrase or error message; what is past it is cut. */
export const MAX_PRINTED_CHARS = 256;

// C0 and DEL, C1, zero-width and bidirectional formatting, line and paragraph separators, BOM.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it replaces, so no string can drive the terminal.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

export function printable(text: string, maxChars = MAX_PRINTED_CHARS): string {
  const capped = text.length > maxChars ? `${text.slice(0, maxChars)}… (${text.length - maxChars} more characters)` : text;
  return capped.replace(UNSAFE, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** `value` with every string in it made printable (for a report on its way out). */
export function printableDeep<T>(value: T): T {
  if (typeof value === "string") return printable(value) as T;
  if (Array.isArray(value)) return value.map(printableDeep) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, printableDeep(field)])) as T;
  }
  return value;
}
