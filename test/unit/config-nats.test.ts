// NATS_URL takes one server or a cluster's, comma-separated; JETSTREAM_REPLICAS is 1 to 5, or unset.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../app/config.ts'

const load = (env: Record<string, string>) =>
  loadConfig({ DATA_DIR: mkdtempSync(join(tmpdir(), 'pulse-config-')), NODE_ID: 'n', ...env })

describe('NATS_URL and JETSTREAM_REPLICAS', () => {
  it('takes a cluster as a comma-separated list, split for the client', () => {
    const config = load({ NATS_URL: 'nats://n1:4222,nats://n2:4222,tls://n3:4222', JETSTREAM_REPLICAS: '3' })
    expect(config.natsUrl?.split(',')).toEqual(['nats://n1:4222', 'nats://n2:4222', 'tls://n3:4222'])
    expect(config.jetstreamReplicas).toBe(3)
  })

  it('leaves the replicas to the streams when unset (new ones get 1, existing ones keep theirs)', () => {
    expect(load({}).jetstreamReplicas).toBeUndefined()
  })

  it.each([
    ['NATS_URL', 'nats://n1:4222,'],
    ['NATS_URL', 'nats://n1:4222, nats://n2:4222'],
    ['NATS_URL', 'nats://n1:4222,n2:4222'],
    ['JETSTREAM_REPLICAS', '0'],
    ['JETSTREAM_REPLICAS', '6'],
    ['JETSTREAM_REPLICAS', '2.5'],
  ])('refuses %s=%s, naming it', (name, value) => {
    expect(() => load({ [name]: value })).toThrow(ConfigError)
    expect(() => load({ [name]: value })).toThrow(new RegExp(`^invalid configuration:\\n  ${name}: `))
  })
})
