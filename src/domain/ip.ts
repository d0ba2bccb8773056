/**
 * IP addresses and CIDR ranges, IPv4 and IPv6, as plain numbers. Pure: the engagement filter
 * (which opens come from a privacy proxy's network) runs inside the lead's workflow.
 */

export interface IpAddress {
  family: 4 | 6;
  value: bigint;
}

export interface IpRange {
  family: 4 | 6;
  /** The network address (host bits zero). */
  network: bigint;
  prefix: number;
}

function parseV4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = (value << 8n) | BigInt(Number(part));
  }
  return value;
}

function parseV6(text: string): bigint | undefined {
  let head = text;
  let tailV4: bigint | undefined;
  // A dotted IPv4 tail (::ffff:192.0.2.1) stands for the last two groups.
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    tailV4 = parseV4(text.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = `${text.slice(0, lastColon + 1)}${(tailV4 >> 16n).toString(16)}:${(tailV4 & 0xffffn).toString(16)}`;
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const groups = (half: string) => (half === '' ? [] : half.split(':'));
  const left = groups(halves[0]!);
  const right = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - left.length - right.length;
  if ((halves.length === 1 && missing !== 0) || (halves.length === 2 && missing < 1)) return undefined;
  let value = 0n;
  for (const group of [...left, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...right]) {
    if (!/^[0-9a-f]{1,4}$/i.test(group)) return undefined;
    value = (value << 16n) | BigInt(parseInt(group, 16));
  }
  return value;
}

/** An address, or undefined for anything else. IPv4-mapped IPv6 (`::ffff:17.1.2.3`, as Node reports IPv4 clients on a dual-stack socket) is the IPv4 address. */
export function parseIp(text: string): IpAddress | undefined {
  const trimmed = text.trim();
  const v4 = parseV4(trimmed);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = parseV6(trimmed);
  if (v6 === undefined) return undefined;
  if (v6 >> 32n === 0xffffn) return { family: 4, value: v6 & 0xffffffffn };
  return { family: 6, value: v6 };
}

/** `17.0.0.0/8`, `2620:149::/32`; undefined when it is not one. */
export function parseIpRange(text: string): IpRange | undefined {
  const [address, prefixText, extra] = text.trim().split('/');
  if (extra !== undefined || address === undefined || prefixText === undefined || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const ip = parseV4(address) !== undefined ? { family: 4 as const, value: parseV4(address)! } : parseV6(address) !== undefined ? { family: 6 as const, value: parseV6(address)! } : undefined;
  const prefix = Number(prefixText);
  if (!ip || prefix > (ip.family === 4 ? 32 : 128)) return undefined;
  const bits = BigInt((ip.family === 4 ? 32 : 128) - prefix);
  return { family: ip.family, network: (ip.value >> bits) << bits, prefix };
}

export function inRange(ip: IpAddress, range: IpRange): boolean {
  if (ip.family !== range.family) return false;
  const bits = BigInt((ip.family === 4 ? 32 : 128) - range.prefix);
  return ip.value >> bits === range.network >> bits;
}
