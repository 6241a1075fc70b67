// The tenants stage: who the tenants are (NATS KV), their API keys, and the auth every other
// stage's routes use. Depends only on common/ and NATS.
export { isTenantId, tenantId, newTenant, type NewTenant, type Tenant, type TenantRef } from './tenant.ts'
export { openTenantRegistry, TenantExistsError, type TenantRegistry } from './registry.ts'
export { sameSecret } from './api-keys.ts'
export { requireTenant, requireAdmin, bearerToken, type TenantEnv } from './auth.ts'
