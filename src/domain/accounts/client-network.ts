import { isIPv4, isIPv6 } from 'node:net';

/**
 * The network a client address stands for when counting attempts: an IPv4 address as itself,
 * an IPv6 address by its /64, since one subscriber usually holds a whole /64 and could
 * otherwise take a fresh address for every guess. IPv4-mapped IPv6 addresses count as IPv4.
 */
export function clientNetwork(ip: string | undefined | null): string {
  if (!ip) return 'unknown';
  if (isIPv4(ip)) return ip;
  const zoneless = ip.split('%', 1)[0]!;
  if (!isIPv6(zoneless)) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(zoneless);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  return `${expandIPv6(zoneless).slice(0, 4).join(':')}::/64`;
}

/** The eight groups of an IPv6 address, each as 4 lower-case hex digits. */
function expandIPv6(ip: string): string[] {
  let text = ip.toLowerCase();
  // A trailing dotted quad (::1.2.3.4) is two groups.
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = text.slice(0, quad.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.map((g) => g.padStart(4, '0'));
}
