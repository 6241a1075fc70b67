// The SSRF guard for outbound targets (alert webhooks, connectors' APIs): which addresses are
// refused, names judged by what they resolve to (a resolver passed in), and the opt-in for
// private targets.
import { describe, expect, it } from 'vitest'
import { type Resolver, checkTarget, isPrivateAddress } from '../../alerts/url-guard.ts'

describe('webhook target guard', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['10.1.2.3', true],
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['172.32.0.1', false],
    ['192.168.1.1', true],
    ['169.254.169.254', true],
    ['100.64.0.1', true],
    ['0.0.0.0', true],
    ['224.0.0.1', true],
    ['255.255.255.255', true],
    ['8.8.8.8', false],
    ['93.184.216.34', false],
    ['::1', true],
    ['::', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:7f00:1', true],
    ['::ffff:8.8.8.8', false],
    ['fd00:ec2::254', true],
    ['fe80::1', true],
    ['fc00::1', true],
    ['2606:4700:4700::1111', false],
    ['not-an-ip', true],
    // 6to4 (2002::/16) carrying an IPv4 in bits 16..47, IPv4-translated (::ffff:0:0/96), Teredo (2001::/32)
    ['2002:7f00:1::', true],
    ['2002:a9fe:a9fe::', true],
    ['2002:c0a8:101::1', true],
    ['2002:808:808::', false],
    ['::ffff:0:7f00:1', true],
    ['::ffff:0:a00:1', true],
    ['::ffff:0:808:808', false],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', true],
    ['2001:4860:4860::8888', false],
  ])('%s private: %s', (address, expected) => {
    expect(isPrivateAddress(address)).toBe(expected)
  })

  const resolver =
    (table: Record<string, string[]>): Resolver =>
    async (host) => {
      const found = table[host]
      if (!found) throw new Error(`ENOTFOUND ${host}`)
      return found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
    }
  const dns = resolver({
    'hooks.example.com': ['93.184.216.34'],
    'evil.example.com': ['93.184.216.34', '10.0.0.5'],
    'meta.example.com': ['169.254.169.254'],
  })
  const refused = (url: string, opts = {}) =>
    checkTarget(url, { allowPrivate: false, resolve: dns, ...opts }).then(
      () => 'ok',
      (e: Error) => e.message,
    )

  it.each([
    ['https://hooks.example.com/x', 'ok'],
    ['http://127.0.0.1:8080/x', '127.0.0.1 is a loopback, private, link-local or reserved address'],
    ['http://2130706433/', '127.0.0.1 is a loopback, private, link-local or reserved address'],
    ['http://0177.0.0.1/', '127.0.0.1 is a loopback, private, link-local or reserved address'],
    ['http://0x7f.0.0.1/', '127.0.0.1 is a loopback, private, link-local or reserved address'],
    ['http://[::1]:8080/', '::1 is a loopback, private, link-local or reserved address'],
    ['http://[::ffff:127.0.0.1]/', '::ffff:7f00:1 is a loopback, private, link-local or reserved address'],
    ['http://[::ffff:0:127.0.0.1]/', '::ffff:0:7f00:1 is a loopback, private, link-local or reserved address'],
    ['http://[2002:7f00:1::]/', '2002:7f00:1:: is a loopback, private, link-local or reserved address'],
    ['http://[2001:0:a00:1::1]/', '2001:0:a00:1::1 is a loopback, private, link-local or reserved address'], // Teredo
    [
      'http://169.254.169.254/latest/meta-data/',
      '169.254.169.254 is a loopback, private, link-local or reserved address',
    ],
    ['http://localhost:9000/', 'localhost names an internal host'],
    ['http://metadata.google.internal/', 'metadata.google.internal names an internal host'],
    [
      'https://evil.example.com/',
      'evil.example.com resolves to 10.0.0.5, a loopback, private, link-local or reserved address',
    ],
    [
      'https://meta.example.com/',
      'meta.example.com resolves to 169.254.169.254, a loopback, private, link-local or reserved address',
    ],
    ['https://user:pw@hooks.example.com/', 'credentials in the URL are not allowed (sign with the secret instead)'],
    ['ftp://hooks.example.com/', 'only http and https URLs'],
    ['file:///etc/passwd', 'only http and https URLs'],
    ['gopher://127.0.0.1:6379/_INFO', 'only http and https URLs'],
  ])('%s → %s', async (url, expected) => {
    expect(await refused(url)).toBe(expected)
  })

  it('a name that does not resolve passes at creation, is refused at send time', async () => {
    expect(await refused('https://nowhere.example.com/')).toBe('ok')
    expect(await refused('https://nowhere.example.com/', { strictDns: true })).toMatch(
      /^nowhere.example.com does not resolve/,
    )
  })

  it('private targets pass when the deployment allows them', async () => {
    expect(await refused('http://127.0.0.1:8080/x', { allowPrivate: true })).toBe('ok')
    expect(await refused('http://localhost/x', { allowPrivate: true })).toBe('ok')
  })
})
