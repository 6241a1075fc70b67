// Signed live tokens (push/live-token.ts): the tenant and expiry they carry cannot be changed.
import { describe, expect, it } from 'vitest'
import { createLiveTokens } from '../../push/index.ts'

const secretKey = 'unit-test-secret-key-0123456789-0123456789'

describe('live tokens', () => {
  let clock = Date.parse('2026-11-22T10:00:00Z')
  const tokens = createLiveTokens({ secretKey, ttlMs: 60_000, now: () => clock })

  it('names its tenant until it expires', () => {
    const { token, expires_at } = tokens.sign('acme')
    expect(expires_at).toBe('2026-11-22T10:01:00.000Z')
    expect(tokens.verify(token)).toBe('acme')
    clock += 59_999
    expect(tokens.verify(token)).toBe('acme')
    clock += 1
    expect(tokens.verify(token)).toBeUndefined()
  })

  it('refuses a token changed in any part, or signed with another key', () => {
    const { token } = tokens.sign('acme')
    const [prefix, body, sig] = token.split('.')
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString())
    const reencoded = (p: object) => Buffer.from(JSON.stringify(p)).toString('base64url')
    expect(tokens.verify(`${prefix}.${reencoded({ ...payload, tenant: 'globex' })}.${sig}`)).toBeUndefined()
    expect(tokens.verify(`${prefix}.${reencoded({ ...payload, exp: payload.exp + 3_600_000 })}.${sig}`)).toBeUndefined()
    expect(tokens.verify(`${prefix}.${body}.${sig.slice(0, -2)}`)).toBeUndefined()
    expect(tokens.verify(`lt2.${body}.${sig}`)).toBeUndefined()
    expect(tokens.verify('pk_acme_123')).toBeUndefined()
    expect(createLiveTokens({ secretKey: `${secretKey}x`, now: () => clock }).verify(token)).toBeUndefined()
  })
})
