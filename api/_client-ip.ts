/**
 * The client's address on Vercel. Vercel sets x-real-ip and overwrites
 * x-forwarded-for at its edge, so neither can be forged from outside; the first
 * x-forwarded-for hop is the client. (Files starting with _ are not functions.)
 */
export function vercelClientIp(headers: Headers): string | undefined {
  const real = headers.get("x-real-ip")?.trim();
  if (real) return real;
  const first = headers.get("x-forwarded-for")?.split(",")[0]?.trim();
  return first || undefined;
}
