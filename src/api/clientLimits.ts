// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Per-client bounds of the HTTP server (docs/api.md, "Bounded work"): who a client is (its address,
 * an IPv6 client by its /64, since one host commonly holds a whole /64), and a counter of what each
 * client holds (open connections, requests in progress) with a cap. Pure: the server and the app
 * call them as sockets and requests come and go.
 */

/** The HTTP server's bounds. */
export interface HttpLimits {
  /** Open connections one client address may hold; a connection past it is closed at once. */
  readonly maxConnectionsPerAddress: number;
  /** Requests one client address may have in progress; past it, 503 TOO_MANY_REQUESTS. */
  readonly maxRequestsPerAddress: number;
  /**
   * Time to receive a request's headers, from its first byte (Node's `headersTimeout`); also how
   * long a new connection may stay silent before it is closed.
   */
  readonly headersTimeoutMs: number;
  /**
   * Time to receive a whole request, headers and body (Node's `requestTimeout`: it stops counting
   * once the request is in, so a write waiting up to `answerBoundMs` for its verdict is not cut).
   */
  readonly requestTimeoutMs: number;
  /** How long an idle kept-alive connection stays open between two requests. */
  readonly keepAliveTimeoutMs: number;
}

/** Defaults: 64 connections and 32 requests in progress per address, 10 s for headers, 30 s for a request, 5 s keep-alive. */
export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  maxConnectionsPerAddress: 64,
  maxRequestsPerAddress: 32,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
};

const IPV4_MAPPED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/**
 * The key a client is counted under: an IPv4 address as it is (also when it reaches an IPv6
 * socket as ::ffff:a.b.c.d), an IPv6 address by its first 64 bits, "unknown" without an address
 * (a socket already closed).
 */
export function clientKey(address: string | undefined): string {
  if (address === undefined || address === "") return "unknown";
  const mapped = IPV4_MAPPED.exec(address);
  if (mapped !== null) return mapped[1] ?? address;
  if (!address.includes(":")) return address;
  const groups = expandIpv6(address.split("%")[0] ?? address);
  return groups === undefined ? address : `${groups.slice(0, 4).join(":")}::/64`;
}

/** The 8 groups of an IPv6 address (lowercase, no leading zeros), or undefined when it is not one. */
function expandIpv6(address: string): string[] | undefined {
  const halves = address.toLowerCase().split("::");
  if (halves.length > 2) return undefined;
  const part = (text: string | undefined): string[] => (text === undefined || text === "" ? [] : text.split(":"));
  const head = part(halves[0]);
  const tail = part(halves[1]);
  // An embedded IPv4 tail (::1.2.3.4) counts as two groups; it only ever falls in the last 64 bits.
  const width = (groups: string[]): number => groups.reduce((n, g) => n + (g.includes(".") ? 2 : 1), 0);
  const missing = 8 - width(head) - width(tail);
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array.from({ length: halves.length === 2 ? missing : 0 }, () => "0"), ...tail];
  const out: string[] = [];
  for (const g of groups) {
    if (g.includes(".")) {
      out.push("0", "0");
      continue;
    }
    if (!/^[0-9a-f]{1,4}$/.test(g)) return undefined;
    out.push(Number.parseInt(g, 16).toString(16));
  }
  return out.length === 8 ? out : undefined;
}

/** How many things each client holds, with a cap per client. */
export class ClientCounter {
  readonly #max: number;
  readonly #held = new Map<string, number>();

  /** `max`: what one client may hold at once (a positive integer). */
  constructor(max: number) {
    this.#max = max;
  }

  /** Takes one for `key`; false (and nothing taken) when `key` already holds the cap. */
  tryAcquire(key: string): boolean {
    const held = this.#held.get(key) ?? 0;
    if (held >= this.#max) return false;
    this.#held.set(key, held + 1);
    return true;
  }

  /** Gives one back (one per successful tryAcquire). */
  release(key: string): void {
    const held = this.#held.get(key) ?? 0;
    if (held <= 1) this.#held.delete(key);
    else this.#held.set(key, held - 1);
  }

  /** What `key` holds now. */
  held(key: string): number {
    return this.#held.get(key) ?? 0;
  }

  /** Clients holding anything. */
  get clients(): number {
    return this.#held.size;
  }
}
