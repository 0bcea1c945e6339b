/**
 * Whether a value can travel as one path segment. "." and ".." cannot, however
 * encoded: URL parsing removes them even as %2e, which would send the request to
 * another endpoint. Anything else can, as encodeURIComponent escapes "/", "?",
 * "#" and "%" itself (so "%2e" goes as "%252e", which no parser drops).
 */
export function isPathSegment(value: string): boolean {
  return value !== "" && value !== "." && value !== "..";
}

/** One encoded path segment; a RangeError for a value that cannot be one. */
export function pathSegment(value: string): string {
  if (!isPathSegment(value)) throw new RangeError("a path segment cannot be empty, '.' or '..'");
  return encodeURIComponent(value);
}
