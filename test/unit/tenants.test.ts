// The tenants stage's pure parts: the one tenant-id rule, bearer tokens and secret comparison.
import { describe, expect, it } from 'vitest'
import { bearerToken, isTenantId, newTenant, sameSecret, tenantId } from '../../tenants/index.ts'

describe('the tenant id rule', () => {
  it.each([
    ['acme', true],
    ['t-inr', true],
    ['0shop', true],
    ['a'.repeat(63), true],
    ['a'.repeat(64), false],
    ['', false],
    ['-acme', false],
    ['Acme', false],
    ['ac.me', false],
    ['ac_me', false],
    ["a'b", false],
  ])('%s: %s', (id, valid) => {
    expect(isTenantId(id)).toBe(valid)
    expect(tenantId.safeParse(id).success).toBe(valid)
  })

  it('is the rule a new tenant is created under', () => {
    const base = { name: 'Acme', timezone: 'UTC', currency: 'USD' }
    expect(newTenant.safeParse({ ...base, id: 'acme' }).success).toBe(true)
    expect(newTenant.safeParse({ ...base, id: 'ac.me' }).success).toBe(false)
  })
})

describe('bearerToken', () => {
  it.each([
    ['Bearer pk_acme_x', 'pk_acme_x'],
    ['bearer   pk_acme_x', 'pk_acme_x'],
    ['Bearer', undefined],
    ['Basic pk_acme_x', undefined],
    ['Bearer a b', undefined],
    [undefined, undefined],
    [null, undefined],
  ])('%s → %s', (header, token) => {
    expect(bearerToken(header)).toBe(token)
  })
})

describe('sameSecret', () => {
  it('compares secrets of any length', () => {
    expect(sameSecret('admin-token', 'admin-token')).toBe(true)
    expect(sameSecret('admin-token', 'admin-tokeN')).toBe(false)
    expect(sameSecret('admin-token', 'admin')).toBe(false)
  })
})
