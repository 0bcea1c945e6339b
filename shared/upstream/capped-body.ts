/**
 * Every upstream body (a provider's answer, the JWKS, an Upstash reply) is read
 * against one cap, so that a broken or hostile upstream cannot fill the
 * instance's memory: a Content-Length past it is refused before a byte of the
 * body is read, and a body without one is counted as it streams in and cut off
 * at the cap.
 */
/** The part of a fetch Response that is read: a Response fits. */
export interface UpstreamResponse {
  readonly status: number;
  readonly headers: Headers;
  /** A fetch Response's stream, read chunk by chunk up to the cap; absent where the client buffers the body itself. */
  readonly body?: ReadableStream<Uint8Array> | null;
  text(): Promise<string>;
}

/** Real answers are a few KiB (Cloudflare's ICE servers about 1.5 KiB); this is far above any of them. */
export const MAX_UPSTREAM_BODY_BYTES = 256 * 1024;

/** An upstream body over the cap; the read stopped there. */
export class UpstreamBodyTooLarge extends Error {
  constructor(readonly maxBytes: number) {
    super(`the upstream body is over ${maxBytes} bytes`);
    this.name = "UpstreamBodyTooLarge";
  }
}

/** True when the headers already promise more than `maxBytes`. */
export function declaredOver(contentLength: string | null | undefined, maxBytes: number): boolean {
  const value = contentLength?.trim();
  return value !== undefined && /^\d+$/.test(value) && Number(value) > maxBytes;
}

/**
 * The body as text, at most `maxBytes` of it. A fetch Response is read from its
 * stream chunk by chunk, and cancelled at the cap; a client without a stream
 * (node/http-fetch.ts, which stops at the cap on its own, or a test double) is
 * read with text() and checked after.
 */
export async function readCapped(response: UpstreamResponse, maxBytes = MAX_UPSTREAM_BODY_BYTES): Promise<string> {
  const stream = response.body;
  if (declaredOver(response.headers.get("content-length"), maxBytes)) {
    stream?.cancel().catch(() => {});
    throw new UpstreamBodyTooLarge(maxBytes);
  }
  if (!stream) {
    const text = await response.text();
    if (text.length > maxBytes / 3 && new TextEncoder().encode(text).byteLength > maxBytes) throw new UpstreamBodyTooLarge(maxBytes);
    return text;
  }
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let size = 0;
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      reader.cancel().catch(() => {});
      throw new UpstreamBodyTooLarge(maxBytes);
    }
    text += decoder.decode(value, { stream: true });
  }
  return text + decoder.decode();
}

// Statuses whose Response cannot carry a body, even an empty one.
const NULL_BODY_STATUSES: ReadonlySet<number> = new Set([101, 103, 204, 205, 304]);

/**
 * The global fetch with its body capped and redirects not followed, for a library that fetches on
 * its own (jose, for the key set): what it receives has been read in full already.
 */
export async function cappedFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  // Never followed, whatever the library asks: a redirect is the key set's answer, and not a 200.
  const response = await fetch(input, { ...init, redirect: "manual" });
  const text = await readCapped(response);
  return new Response(NULL_BODY_STATUSES.has(response.status) ? null : text, {
    status: response.status,
    headers: { "content-type": response.headers.get("content-type") ?? "application/json" },
  });
}
