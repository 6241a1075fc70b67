// What every node of one deployment must share, checked at start against what the first node
// recorded in NATS KV: its secrets (a node with another ADMIN_TOKEN would refuse the operators of
// the others; one with another SECRET_KEY could not open the connectors' sealed credentials nor
// check the live tokens the others minted), and the demo tenant, made once for all of them.
//
// The secrets themselves never leave the node: the record holds a salted scrypt hash of each.
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { type KV, Kvm } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/transport-node'
import { isWrongLastSequence } from '../common/nats-errors.ts'
import { CLUSTER_BUCKET } from '../ingest/index.ts'
import { createSealer } from '../ingest/connectors/crypto.ts'
import { TenantExistsError, type TenantRegistry } from '../tenants/index.ts'

const SECRETS_KEY = 'secrets'
const DEMO_KEY = 'demo'
/** How long a node waits for the node that made the demo tenant to keep its key. */
const DEMO_WAIT_MS = 30_000

/** This node's secrets are not the deployment's: said with the variable to set. */
export class SecretsMismatchError extends Error {
  override name = 'SecretsMismatchError'
}

interface SecretsRecord {
  salt: string
  ADMIN_TOKEN: string
  SECRET_KEY: string
}

const hashOf = (secret: string, salt: string) => scryptSync(secret, Buffer.from(salt, 'base64url'), 32)

async function clusterKv(nc: NatsConnection): Promise<KV> {
  return new Kvm(nc).create(CLUSTER_BUCKET, { history: 1 })
}

/** Records the secrets' hashes at the deployment's first start; later starts must match them. */
export async function checkDeploymentSecrets(
  nc: NatsConnection,
  secrets: { adminToken: string; secretKey: string },
): Promise<void> {
  const kv = await clusterKv(nc)
  let entry = await kv.get(SECRETS_KEY)
  if (!entry) {
    const salt = randomBytes(16).toString('base64url')
    const record: SecretsRecord = {
      salt,
      ADMIN_TOKEN: hashOf(secrets.adminToken, salt).toString('base64url'),
      SECRET_KEY: hashOf(secrets.secretKey, salt).toString('base64url'),
    }
    try {
      await kv.create(SECRETS_KEY, JSON.stringify(record))
      return
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err
      entry = await kv.get(SECRETS_KEY) // another node's first start was quicker
    }
  }
  const record = entry!.json<SecretsRecord>()
  const values = { ADMIN_TOKEN: secrets.adminToken, SECRET_KEY: secrets.secretKey }
  for (const name of ['ADMIN_TOKEN', 'SECRET_KEY'] as const) {
    if (!timingSafeEqual(hashOf(values[name], record.salt), Buffer.from(record[name], 'base64url')))
      throw new SecretsMismatchError(
        `${name} differs from the one this deployment's nodes use (recorded in NATS KV at its first start): ` +
          `start this node with the same ${name} as the others`,
      )
  }
}

export const DEMO_TENANT = {
  id: 'demo',
  name: 'Demo Marketplace (India)',
  timezone: 'Asia/Kolkata',
  currency: 'INR',
} as const

/**
 * The demo tenant's API key. The first node to ask creates the tenant; its key (shown once by the
 * registry) is kept in NATS KV sealed with SECRET_KEY, so every node can print it and send the
 * demo traffic. A key kept in DATA_DIR by an earlier version is moved there.
 */
export async function demoTenantKey(options: {
  nc: NatsConnection
  tenants: TenantRegistry
  secretKey: string
  dataDir: string
}): Promise<string> {
  const kv = await clusterKv(options.nc)
  const sealer = createSealer(options.secretKey)
  const file = join(options.dataDir, 'demo-tenant.json')
  const deadline = Date.now() + DEMO_WAIT_MS
  for (;;) {
    const entry = await kv.get(DEMO_KEY)
    if (entry) return sealer.open(entry.string(), DEMO_KEY)
    let apiKey: string
    try {
      if (existsSync(file)) apiKey = JSON.parse(readFileSync(file, 'utf8')).api_key
      else apiKey = (await options.tenants.create({ ...DEMO_TENANT })).apiKey
    } catch (err) {
      if (!(err instanceof TenantExistsError)) throw err
      // Made by another node, which keeps its key next: wait for it.
      if (Date.now() > deadline)
        throw new Error(
          `the demo tenant exists but no node kept its key in NATS KV (${CLUSTER_BUCKET}.${DEMO_KEY}): start with DEMO=0`,
        )
      await new Promise((resolve) => setTimeout(resolve, 100))
      continue
    }
    try {
      await kv.create(DEMO_KEY, sealer.seal(apiKey, DEMO_KEY))
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err
    }
  }
}
