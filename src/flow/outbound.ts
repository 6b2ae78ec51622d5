import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import net from 'node:net';
import type { FetchLike } from './http-request.js';

/**
 * The transport of `http` nodes and conversation tools: a fetch that refuses
 * internal destinations, so a flow (written by any builder) cannot reach the
 * server's own network, loopback services or a cloud metadata endpoint.
 *
 * - The host is resolved first and every address it resolves to is checked;
 *   the connection then goes to the address that was checked (no second DNS
 *   lookup that could answer differently: DNS rebinding).
 * - Redirects are followed here, one hop at a time, each hop checked the same way.
 * - Replies are read up to MAX_RESPONSE_BYTES.
 * - `HTTP_ALLOW_HOSTS` names exceptions: host names, IP addresses or CIDR ranges.
 */

/** Replies larger than this fail the request (`too_large`) instead of filling memory. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;
/** Redirect hops followed before giving up. */
export const MAX_REDIRECTS = 5;

/** The destination is internal and not on the allow-list. */
export class OutboundRefused extends Error {
  override name = 'OutboundRefused';
}

/** The reply was larger than MAX_RESPONSE_BYTES. */
export class OutboundTooLarge extends Error {
  override name = 'OutboundTooLarge';
}

// Loopback, private, link-local (which holds 169.254.169.254, the metadata endpoint
// of AWS, GCP and Azure), CGNAT, benchmarking, documentation, multicast and reserved.
const INTERNAL_V4: [string, number][] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];
// Unspecified, loopback, discard, Teredo, documentation, unique-local (holds AWS's
// fd00:ec2::254), link-local, site-local and multicast. Addresses that embed an
// IPv4 address (mapped, compatible, NAT64, 6to4) are checked by that address.
const INTERNAL_V6: [string, number][] = [
  ['::', 128],
  ['::1', 128],
  ['100::', 64],
  ['2001::', 32],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
];

const internal = new net.BlockList();
for (const [address, prefix] of INTERNAL_V4) internal.addSubnet(address, prefix, 'ipv4');
for (const [address, prefix] of INTERNAL_V6) internal.addSubnet(address, prefix, 'ipv6');

/** The eight 16-bit groups of an IPv6 address (with an optional dotted IPv4 tail). */
function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase().split('%')[0]!;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (s: string) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const h = parse(head);
  const t = parse(tail ?? '');
  return tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
}

function v4From(hi: number, lo: number): string {
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

/** The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), if any. */
export function embeddedIpv4(address: string): string | undefined {
  const g = ipv6Groups(address);
  if (g.length !== 8) return undefined;
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 5) && g[5] === 0xffff) return v4From(g[6]!, g[7]!); // ::ffff:a.b.c.d
  if (zeros(0, 6) && (g[6] !== 0 || g[7]! > 1)) return v4From(g[6]!, g[7]!); // ::a.b.c.d (deprecated)
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return v4From(g[6]!, g[7]!); // 64:ff9b::/96
  if (g[0] === 0x2002) return v4From(g[1]!, g[2]!); // 6to4
  return undefined;
}

/** True for loopback, private, link-local, CGNAT, unique-local, metadata and other non-public addresses. */
export function isInternalAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 4) return internal.check(address, 'ipv4');
  if (family === 6) {
    const v4 = embeddedIpv4(address);
    return v4 !== undefined ? internal.check(v4, 'ipv4') : internal.check(address, 'ipv6');
  }
  return true; // not an address at all: never connect to it
}

export interface AllowList {
  /** True when the operator allowed this host name or address. */
  allowsHost(hostname: string): boolean;
  allowsAddress(address: string): boolean;
}

/** `HTTP_ALLOW_HOSTS` entries: `api.internal`, `127.0.0.1`, `::1`, `10.0.0.0/8`. */
export function parseAllowList(entries: readonly string[]): AllowList {
  const names = new Set<string>();
  const addresses = new net.BlockList();
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
    if (!entry) continue;
    const [base, bits] = entry.split('/') as [string, string | undefined];
    const family = net.isIP(base);
    if (family && bits !== undefined) addresses.addSubnet(base, Number(bits), family === 4 ? 'ipv4' : 'ipv6');
    else if (family) addresses.addAddress(base, family === 4 ? 'ipv4' : 'ipv6');
    else names.add(entry);
  }
  const check = (address: string) => {
    const family = net.isIP(address);
    if (!family) return false;
    if (addresses.check(address, family === 4 ? 'ipv4' : 'ipv6')) return true;
    const v4 = family === 6 ? embeddedIpv4(address) : undefined;
    return v4 !== undefined && addresses.check(v4, 'ipv4');
  };
  return {
    allowsHost: (hostname) => names.has(hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1')),
    allowsAddress: check,
  };
}

/** Checks `HTTP_ALLOW_HOSTS` entries; returns a message for the first bad one. */
export function allowListProblem(entries: readonly string[]): string | undefined {
  for (const raw of entries) {
    const entry = raw.trim().replace(/^\[(.*)\]$/, '$1');
    const [base, bits, extra] = entry.split('/');
    const family = net.isIP(base ?? '');
    if (bits !== undefined || extra !== undefined) {
      const max = family === 4 ? 32 : 128;
      if (!family || extra !== undefined || !/^\d+$/.test(bits ?? '') || Number(bits) > max) return `"${raw}" is not a valid CIDR range`;
    } else if (!family && !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(entry)) {
      return `"${raw}" is not a host name, IP address or CIDR range`;
    }
  }
  return undefined;
}

export interface OutboundOptions {
  /** HTTP_ALLOW_HOSTS: internal destinations the operator allows. */
  allowHosts?: readonly string[];
  /** DNS resolution (tests); default: the system resolver, every address. */
  resolve?: (hostname: string) => Promise<{ address: string; family: number }[]>;
}

const systemResolve = (hostname: string) => dnsLookup(hostname, { all: true, verbatim: true });

/** A fetch for flows: refuses internal destinations (and their redirects) unless allowed. */
export function createOutboundFetch(options: OutboundOptions = {}): FetchLike {
  const allow = parseAllowList(options.allowHosts ?? []);
  const resolve = options.resolve ?? systemResolve;

  /** The address to connect to, after checking every address the host has. */
  const destination = async (url: URL): Promise<{ address: string; family: 4 | 6 }> => {
    const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const literal = net.isIP(hostname);
    const found = literal ? [{ address: hostname, family: literal }] : await resolve(hostname);
    if (found.length === 0) throw new Error(`${hostname} has no address`);
    if (!allow.allowsHost(hostname)) {
      // A name with any internal address is refused: which one a client picks is not ours to predict.
      for (const { address } of found) {
        if (isInternalAddress(address) && !allow.allowsAddress(address)) {
          throw new OutboundRefused(`${hostname} is an internal address; add it to HTTP_ALLOW_HOSTS to allow it`);
        }
      }
    }
    const first = found[0]!;
    return { address: first.address, family: first.family === 6 ? 6 : 4 };
  };

  return async (input, init) => {
    const signal = init.signal ?? undefined;
    let url = new URL(input);
    let method = (init.method ?? 'GET').toUpperCase();
    let body = typeof init.body === 'string' ? init.body : undefined;
    const headers = new Headers(init.headers);
    for (let hop = 0; ; hop++) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new OutboundRefused(`only http and https URLs are allowed`);
      const target = await abortable(destination(url), signal);
      const reply = await send(url, method, headers, body, target, signal);
      const location = reply.headers.get('location');
      if (![301, 302, 303, 307, 308].includes(reply.status) || !location) {
        const buffer = await reply.read();
        const empty = reply.status === 204 || reply.status === 205 || reply.status === 304 || buffer.length === 0;
        return new Response(empty ? null : buffer, { status: reply.status, headers: reply.headers });
      }
      reply.discard();
      if (hop >= MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects`);
      const next = new URL(location, url);
      // As fetch does: 303, and 301/302 after a POST, continue as a GET without the body.
      if (reply.status === 303 ? method !== 'HEAD' : (reply.status === 301 || reply.status === 302) && method === 'POST') {
        method = 'GET';
        body = undefined;
        headers.delete('content-type');
        headers.delete('content-length');
      }
      // Credentials meant for one origin are not handed to another.
      if (next.origin !== url.origin) {
        headers.delete('authorization');
        headers.delete('cookie');
      }
      url = next;
    }
  };
}

interface RawReply {
  status: number;
  headers: Headers;
  /** The whole body, at most MAX_RESPONSE_BYTES (else OutboundTooLarge). */
  read(): Promise<Buffer>;
  discard(): void;
}

function send(
  url: URL,
  method: string,
  headers: Headers,
  body: string | undefined,
  target: { address: string; family: 4 | 6 },
  signal: AbortSignal | undefined,
): Promise<RawReply> {
  // Node may ask for every address (autoSelectFamily) or one; either way it gets the checked one.
  const pinned: LookupFunction = (_hostname, opts, callback) => {
    if (opts.all) (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [target]);
    else callback(null, target.address, target.family);
  };
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise<RawReply>((resolve, reject) => {
    const req = transport.request(url, {
      method,
      headers: Object.fromEntries(headers),
      lookup: pinned,
      agent: false,
      ...(signal ? { signal } : {}),
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const replyHeaders = new Headers();
      for (const [name, value] of Object.entries(res.headers)) {
        if (Array.isArray(value)) for (const v of value) replyHeaders.append(name, v);
        else if (value !== undefined) replyHeaders.set(name, value);
      }
      const read = () =>
        new Promise<Buffer>((ok, fail) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_RESPONSE_BYTES) {
              const err = new OutboundTooLarge(`the reply is larger than ${MAX_RESPONSE_BYTES} bytes`);
              fail(err);
              req.destroy(err);
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => ok(Buffer.concat(chunks)));
          res.on('error', fail);
          res.on('close', () => {
            if (!res.complete) fail(signal?.aborted && signal.reason instanceof Error ? signal.reason : new Error('the reply was cut off'));
          });
        });
      resolve({
        status: res.statusCode ?? 502,
        headers: replyHeaders,
        read,
        discard: () => {
          res.resume();
          req.destroy();
        },
      });
    });
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
