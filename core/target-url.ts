import { isIP } from 'node:net';

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
  /** Private ranges (10/8, 172.16/12, 192.168/16, fc00::/7). @default false */
  allowPrivateTargets: boolean;
}

function ipv4Octets(address: string): number[] {
  return address.split('.').map(Number);
}

/** Classifies an IP literal: the ranges the security rules care about. */
export function addressClass(address: string): 'loopback' | 'link-local' | 'unspecified' | 'private' | 'public' {
  const bare = address.replace(/^\[|\]$/g, '').toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
  if (mapped) return addressClass(mapped[1]!);
  // The URL parser writes IPv4-mapped addresses in hex (`::ffff:7f00:1`): decode them too.
  const mappedHex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(bare);
  if (mappedHex) {
    const high = parseInt(mappedHex[1]!, 16);
    const low = parseInt(mappedHex[2]!, 16);
    return addressClass(`${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`);
  }
  if (isIP(bare) === 4) {
    const [a, b] = ipv4Octets(bare) as [number, number];
    if (a === 127) return 'loopback';
    if (a === 0) return 'unspecified';
    if (a === 169 && b === 254) return 'link-local';
    if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return 'private';
    return 'public';
  }
  if (bare === '::1') return 'loopback';
  if (bare === '::') return 'unspecified';
  if (/^fe[89ab]/.test(bare)) return 'link-local';
  if (/^f[cd]/.test(bare)) return 'private';
  return 'public';
}

/** Throws `UnsafeTargetError` when an address may not be delivered to under the policy. */
export function assertAllowedAddress(address: string, policy: TargetPolicy): void {
  const kind = addressClass(address);
  if (kind === 'public') return;
  if (policy.localMode && (kind === 'loopback' || kind === 'private')) return;
  if (kind === 'private' && policy.allowPrivateTargets) return;
  throw new UnsafeTargetError(`target address ${address} is ${kind}, which this deployment does not deliver to`);
}

/** Validates a connection URL when it is set; host names are checked again at delivery time. */
export function assertAllowedUrl(raw: string, policy: TargetPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UnsafeTargetError(`"${raw}" is not an absolute URL`);
  }
  const schemes = policy.localMode ? ['https:', 'http:'] : ['https:'];
  if (!schemes.includes(url.protocol)) {
    throw new UnsafeTargetError(`URL scheme ${url.protocol.replace(':', '')} is not allowed; use ${policy.localMode ? 'http or https' : 'https'}`);
  }
  if (url.username || url.password) throw new UnsafeTargetError('credentials belong in auth, not in the URL');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) assertAllowedAddress(host, policy);
  else if (!policy.localMode && (host === 'localhost' || host.endsWith('.localhost'))) {
    throw new UnsafeTargetError(`host ${host} is loopback`);
  }
  return url;
}
