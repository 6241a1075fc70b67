// Outbound targets (alert webhooks, connectors' API base URLs) must not reach inside the network
// Pulse runs in (SSRF): loopback, private, link-local (cloud metadata at 169.254.169.254 and
// fd00:ec2::254), carrier-grade NAT, multicast and reserved addresses are refused, unless the
// deployment allows private targets (ALERT_WEBHOOK_ALLOW_PRIVATE=1, CONNECTOR_ALLOW_PRIVATE=1, read
// in app/config.ts). A name is checked by what it resolves to, at creation (for a clear 400) and
// again at every call, where the connection goes to the very address that was checked (the
// `lookup` below), so DNS rebinding cannot swap it.
import { lookup as dnsLookup } from 'node:dns'
import { BlockList, isIP } from 'node:net'
import { messageOf } from './errors.ts'

export interface ResolvedAddress {
  address: string
  family: number
}

/** Resolves a host name to every address it has (dns.lookup by default; tests pass their own). */
export type Resolver = (host: string) => Promise<ResolvedAddress[]>

export const systemResolver: Resolver = (host) =>
  new Promise((resolve, reject) =>
    dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  )

const blocked = new BlockList()
const BLOCKED_V4 = [
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
] as const
for (const [net, bits] of BLOCKED_V4) {
  blocked.addSubnet(net, bits, 'ipv4')
  // The same IPv4 ranges embedded in IPv6: 6to4 (2002:AABB:CCDD::, the IPv4 in bits 16..47) and
  // IPv4-translated (::ffff:0:a.b.c.d). IPv4-mapped (::ffff:a.b.c.d) BlockList checks by itself.
  const [a, b, c, d] = net.split('.').map(Number)
  const hex = `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  blocked.addSubnet(`2002:${hex}::`, 16 + bits, 'ipv6')
  blocked.addSubnet(`::ffff:0:${hex}`, 96 + bits, 'ipv6')
}
// Teredo (2001::/32) carries its client's IPv4 obfuscated; no API lives there: refused whole.
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['::', 96],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 32],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const)
  blocked.addSubnet(net, bits, 'ipv6')

const BLOCKED_NAMES = /(^|\.)(localhost|localdomain|internal|local)$|^metadata$|^instance-data$/i

export class UnsafeTargetError extends Error {
  override name = 'UnsafeTargetError'
  constructor(
    message: string,
    /** The target is refused for where it points (a deployment may allow that), not for its form. */
    readonly privateTarget = false,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

/** True for an address an outbound call must not reach. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address)
  if (family === 0) return true // not an address at all: refuse rather than guess
  return blocked.check(address, family === 4 ? 'ipv4' : 'ipv6')
}

/** The URL's host as an address or a name (IPv6 without its brackets). */
const hostOf = (url: URL) => url.hostname.replace(/^\[|\]$/g, '')

/**
 * Throws UnsafeTargetError when the URL may not be an outbound target. With `strictDns` a name that
 * does not resolve is refused too (at send time); at creation it passes (checked again later).
 */
export async function checkTarget(
  raw: string,
  options: { allowPrivate: boolean; resolve?: Resolver; strictDns?: boolean },
): Promise<void> {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new UnsafeTargetError('not a URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UnsafeTargetError('only http and https URLs')
  if (url.username || url.password)
    throw new UnsafeTargetError('credentials in the URL are not allowed (sign with the secret instead)')
  if (options.allowPrivate) return
  const host = hostOf(url)
  if (isIP(host)) {
    if (isPrivateAddress(host)) {
      throw new UnsafeTargetError(`${host} is a loopback, private, link-local or reserved address`, true)
    }
    return
  }
  if (BLOCKED_NAMES.test(host.replace(/\.$/, ''))) throw new UnsafeTargetError(`${host} names an internal host`, true)
  let addresses: ResolvedAddress[]
  try {
    addresses = await (options.resolve ?? systemResolver)(host)
  } catch (err) {
    if (options.strictDns)
      throw new UnsafeTargetError(`${host} does not resolve (${messageOf(err)})`, false, { cause: err })
    return
  }
  const bad = addresses.find((a) => isPrivateAddress(a.address))
  if (bad) {
    throw new UnsafeTargetError(
      `${host} resolves to ${bad.address}, a loopback, private, link-local or reserved address`,
      true,
    )
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | ResolvedAddress[], family?: number) => void

/**
 * A `lookup` for http.request: resolves with `resolve`, refuses private answers, and hands the
 * socket exactly the addresses it checked.
 */
export function guardedLookup(options: { allowPrivate: boolean; resolve?: Resolver }) {
  const resolve = options.resolve ?? systemResolver
  return (host: string, opts: { all?: boolean }, callback: LookupCallback): void => {
    resolve(host).then(
      (addresses) => {
        const bad = options.allowPrivate ? undefined : addresses.find((a) => isPrivateAddress(a.address))
        if (bad) {
          const err = new UnsafeTargetError(`${host} resolves to ${bad.address}, a private address`, true)
          return callback(Object.assign(err, { code: 'EUNSAFE' }), '')
        }
        if (addresses.length === 0)
          return callback(Object.assign(new Error(`${host} has no address`), { code: 'ENOTFOUND' }), '')
        if (opts.all) callback(null, addresses)
        else callback(null, addresses[0].address, addresses[0].family)
      },
      (err: NodeJS.ErrnoException) => callback(err, ''),
    )
  }
}
