import { createHash, timingSafeEqual } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/** `restapi.authentication`: required for unsafe methods when set. */
export interface BasicAuth {
  username: string;
  password: string;
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * Checks an `Authorization: Basic ...` header in constant time. The password is never logged
 * or echoed.
 *
 * @example
 * ```ts
 * import { checkBasicAuth } from '@pgtools/health-api';
 * checkBasicAuth('Basic ' + Buffer.from('u:p').toString('base64'), { username: 'u', password: 'p' }); // true
 * ```
 */
export function checkBasicAuth(header: string | undefined, auth: BasicAuth): boolean {
  if (!header) return false;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m || m[1] === undefined) return false;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const expected = `${auth.username}:${auth.password}`;
  // Compare digests so that the comparison time does not depend on where the strings differ.
  return timingSafeEqual(digest(decoded), digest(expected));
}

/**
 * Strips the IPv4-mapped IPv6 prefix Node reports on dual-stack sockets.
 *
 * @example
 * ```ts
 * import { normalizeAddress } from '@pgtools/health-api';
 * normalizeAddress('::ffff:127.0.0.1'); // '127.0.0.1'
 * ```
 */
export function normalizeAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * Builds the `restapi.allowlist` matcher: IP addresses, CIDR networks and host names (resolved
 * once, when the server starts).
 *
 * @example
 * ```ts
 * import { buildAllowlist } from '@pgtools/health-api';
 * const allowed = await buildAllowlist(['127.0.0.1', '10.0.0.0/8']);
 * allowed('10.1.2.3'); // true
 * ```
 */
export async function buildAllowlist(entries: readonly string[]): Promise<(address: string) => boolean> {
  const list = new BlockList();
  for (const raw of entries) {
    const entry = raw.trim();
    const [net, bits] = entry.split('/');
    if (net !== undefined && bits !== undefined && isIP(net)) {
      list.addSubnet(net, Number(bits), isIP(net) === 6 ? 'ipv6' : 'ipv4');
    } else if (isIP(entry)) {
      list.addAddress(entry, isIP(entry) === 6 ? 'ipv6' : 'ipv4');
    } else {
      for (const { address, family } of await lookup(entry, { all: true })) {
        list.addAddress(address, family === 6 ? 'ipv6' : 'ipv4');
      }
    }
  }
  return (address) => {
    const a = normalizeAddress(address);
    const family = isIP(a);
    return family !== 0 && list.check(a, family === 6 ? 'ipv6' : 'ipv4');
  };
}

/** How long a member host name's addresses are reused before it is resolved again. */
const MEMBER_DNS_TTL_MS = 60_000;

/**
 * The addresses of a changing set of hosts (the members' REST API hosts for
 * `restapi.allowlist_include_members`): IPs as they are, names resolved and cached for a minute.
 * A name that does not resolve allows nothing.
 *
 * @example
 * ```ts
 * // inside @pgtools/health-api
 * await new HostAddresses().allows(['10.0.0.2', 'node3.internal'], '10.0.0.2'); // true
 * ```
 */
export class HostAddresses {
  private readonly resolved = new Map<string, { addresses: string[]; at: number }>();

  async allows(hosts: readonly string[], client: string, now = Date.now()): Promise<boolean> {
    const c = normalizeAddress(client);
    for (const host of hosts) {
      if (isIP(host)) {
        if (normalizeAddress(host) === c) return true;
        continue;
      }
      let entry = this.resolved.get(host);
      if (!entry || now - entry.at > MEMBER_DNS_TTL_MS) {
        const addresses = await lookup(host, { all: true }).then(
          (all) => all.map((a) => normalizeAddress(a.address)),
          () => [],
        );
        entry = { addresses, at: now };
        this.resolved.set(host, entry);
      }
      if (entry.addresses.includes(c)) return true;
    }
    return false;
  }
}
