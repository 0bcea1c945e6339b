/**
 * What one client address is counted as. An IPv6 subscriber is routed a whole /64
 * (often more) and may pick any address in it, so counting per address would give
 * them 2^64 allowances: IPv6 is counted per /64. IPv4, and IPv4 carried in IPv6
 * (`::ffff:192.0.2.1`, as a dual-stack socket reports it), per address.
 */
export function addressKey(address: string): string {
  const text = address
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, "$1")
    .replace(/%.*$/, "");
  if (!text.includes(":")) return text;
  const groups = ipv6Groups(text);
  // Not an address we can read: counted as the platform gave it.
  if (!groups) return text;
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join(".");
  }
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(":")}::/64`;
}

const HEX_GROUP = /^[0-9a-f]{1,4}$/;
// An IPv4 address as the last 32 bits (::ffff:192.0.2.1): rewritten as two hex groups.
const DOTTED_TAIL = /:(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The eight 16-bit groups of an IPv6 address in any of its textual forms, or undefined. */
function ipv6Groups(text: string): number[] | undefined {
  const dotted = DOTTED_TAIL.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number);
    if ([a, b, c, d].some((octet) => octet > 255)) return undefined;
    text = `${text.slice(0, dotted.index)}:${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const [before, after = []] = halves.map((half) => (half === "" ? [] : half.split(":")));
  if (![...before, ...after].every((group) => HEX_GROUP.test(group))) return undefined;
  const missing = 8 - before.length - after.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  return [...before, ...new Array<string>(missing).fill("0"), ...after].map((group) => parseInt(group, 16));
}
