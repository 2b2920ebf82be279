import ipaddr from 'ipaddr.js';

/** Why a connection URL or a resolved target address is refused (SPEC "Security"). */
export class UnsafeTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeTargetError';
  }
}

export interface TargetPolicy {
  /** Local mode: `http` and loopback targets are allowed. @default false */
  localMode: boolean;
  /** Private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7). @default false */
  allowPrivateTargets: boolean;
}

/**
 * What the security rules care about. `reserved` covers multicast, broadcast,
 * documentation, benchmarking and other ranges no target lives in; it is always refused.
 */
export type AddressClass = 'loopback' | 'link-local' | 'unspecified' | 'private' | 'reserved' | 'public';

const IPV4_CLASS: Partial<Record<string, AddressClass>> = {
  unspecified: 'unspecified',
  loopback: 'loopback',
  linkLocal: 'link-local',
  private: 'private',
  carrierGradeNat: 'private',
  broadcast: 'reserved',
  multicast: 'reserved',
  reserved: 'reserved',
  benchmarking: 'reserved',
};

const IPV6_CLASS: Partial<Record<string, AddressClass>> = {
  unspecified: 'unspecified',
  loopback: 'loopback',
  linkLocal: 'link-local',
  uniqueLocal: 'private',
  deprecatedSiteLocal: 'private',
  multicast: 'reserved',
  discard: 'reserved',
  reserved: 'reserved',
  benchmarking: 'reserved',
  deprecatedOrchid: 'reserved',
  orchid2: 'reserved',
  segmentRouting: 'reserved',
};

function ipv4From(high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 255, low >> 8, low & 255]);
}

/**
 * The IPv4 address an IPv6 address carries, for every form that reaches an IPv4 host:
 * IPv4-mapped (::ffff:a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d), IPv4-compatible
 * (::a.b.c.d), NAT64 (64:ff9b::/96), 6to4 (2002:aabb:ccdd::/48) and Teredo (the
 * client address, stored inverted).
 */
function embeddedIPv4(address: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const p = address.parts as [number, number, number, number, number, number, number, number];
  switch (address.range() as string) {
    case 'ipv4Mapped':
    case 'rfc6145':
      return ipv4From(p[6], p[7]);
    case 'rfc6052':
      // The well-known prefix puts the IPv4 address in the last 32 bits; the local-use
      // prefix 64:ff9b:1::/48 may place it anywhere, so it is classed on its own below.
      return p[2] === 0 && p[3] === 0 && p[4] === 0 && p[5] === 0 ? ipv4From(p[6], p[7]) : undefined;
    case '6to4':
      return ipv4From(p[1], p[2]);
    case 'teredo':
      return ipv4From(~p[6] & 0xffff, ~p[7] & 0xffff);
    default:
      if (p.slice(0, 6).every((part) => part === 0) && (p[6] !== 0 || p[7] > 1)) return ipv4From(p[6], p[7]);
      return undefined;
  }
}

/**
 * Classifies an IP literal (with or without brackets), after normalising every IPv6
 * form that embeds an IPv4 address. Anything that is not an IP address is `reserved`.
 */
export function addressClass(address: string): AddressClass {
  const bare = address.replace(/^\[|\]$/g, '');
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // `parse` also takes the short IPv4 forms (127.1, 0x7f.1) that the URL parser and
    // some resolvers accept, so they are judged by the address they stand for.
    parsed = ipaddr.parse(bare);
  } catch {
    return 'reserved';
  }
  if (parsed.kind() === 'ipv6') {
    const v6 = parsed as ipaddr.IPv6;
    const embedded = embeddedIPv4(v6);
    if (embedded) return IPV4_CLASS[embedded.range()] ?? 'public';
    const range = v6.range() as string;
    // NAT64 local-use prefix: translated to some IPv4 host inside the network.
    if (range === 'rfc6052') return 'private';
    return IPV6_CLASS[range] ?? 'public';
  }
  return IPV4_CLASS[(parsed as ipaddr.IPv4).range()] ?? 'public';
}

/** Throws `UnsafeTargetError` when an address may not be delivered to under the policy. */
export function assertAllowedAddress(address: string, policy: TargetPolicy): void {
  const kind = addressClass(address);
  if (kind === 'public') return;
  if (policy.localMode && (kind === 'loopback' || kind === 'private')) return;
  if (kind === 'private' && policy.allowPrivateTargets) return;
  throw new UnsafeTargetError(`target address ${address} is ${kind}, which this deployment does not deliver to`);
}

/** Names every resolver maps to the loopback interface, with or without the root dot. */
export function isLoopbackName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.+$/, '');
  return (
    name === 'localhost' ||
    name.endsWith('.localhost') ||
    name === 'localhost.localdomain' ||
    name === 'ip6-localhost' ||
    name === 'ip6-loopback'
  );
}

function isIpLiteral(host: string): boolean {
  return ipaddr.isValid(host);
}

/**
 * Validates a connection URL when it is saved, and again before each request; host
 * names are checked once more after DNS resolution, with `assertAllowedAddress`.
 */
export function assertAllowedUrl(raw: string, policy: TargetPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UnsafeTargetError(`"${raw.replace(/\/\/[^/@]*@/, '//')}" is not an absolute URL`);
  }
  const schemes = policy.localMode ? ['https:', 'http:'] : ['https:'];
  if (!schemes.includes(url.protocol)) {
    throw new UnsafeTargetError(
      `URL scheme ${url.protocol.replace(':', '')} is not allowed; use ${policy.localMode ? 'http or https' : 'https'}`,
    );
  }
  if (url.username || url.password) throw new UnsafeTargetError('credentials belong in auth, not in the URL');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIpLiteral(host)) assertAllowedAddress(host, policy);
  else if (!policy.localMode && isLoopbackName(host)) throw new UnsafeTargetError(`host ${host} is loopback`);
  return url;
}

/** Longest accepted `probe.path`. */
export const MAX_PROBE_PATH_LENGTH = 1024;

/**
 * SPEC: `probe.path` is a path on the connection's own origin: one leading `/`, never
 * `//` or a backslash (both read as "another host" by URL parsers), no whitespace or
 * control characters.
 */
export function probePathProblem(path: string): string | undefined {
  if (path.length > MAX_PROBE_PATH_LENGTH) return `must be at most ${MAX_PROBE_PATH_LENGTH} characters`;
  if (!path.startsWith('/')) return 'must start with /';
  if (path.startsWith('//')) return 'must start with a single / (// names another host)';
  if (path.includes('\\')) return 'must not contain a backslash';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what it refuses
  if (/[\s\u0000-\u001f\u007f]/.test(path)) return 'must not contain whitespace or control characters';
  return undefined;
}

/**
 * The URL a probe requests: `probe.path` on the connection URL's origin. Refuses
 * anything that would leave that origin, so a probe never carries the connection's
 * credentials elsewhere, whatever was stored.
 */
export function probeTargetUrl(connectionUrl: string, path: string | undefined): string {
  if (!path) return connectionUrl;
  const problem = probePathProblem(path);
  if (problem) throw new UnsafeTargetError(`probe path ${problem}`);
  const base = new URL(connectionUrl);
  const target = new URL(`${base.origin}${path}`);
  if (target.origin !== base.origin) throw new UnsafeTargetError('probe path leaves the connection origin');
  return target.toString();
}
