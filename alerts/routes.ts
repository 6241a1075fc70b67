// GET /v1/alerts (the alert log and what is firing), GET /v1/alerts/deliveries (the webhook
// delivery log) and the rules CRUD under /v1/alerts/rules. Rules are validated with the same zod
// schemas the evaluator's types come from.
import { randomBytes } from 'node:crypto'
import { Hono } from 'hono'
import { z } from 'zod'
import { HttpError, badRequest, notFound } from '../common/errors.ts'
import { registerRoute } from '../common/openapi.ts'
import { type TenantEnv, type TenantRegistry, requireTenant } from '../tenants/index.ts'
import { parseQuery } from '../query/params.ts'
import type { AlertEngine } from './engine.ts'
import { type Rule, publicRule, ruleInput } from './rules.ts'
import type { AlertLog, RuleStore } from './store.ts'
import { type Resolver, UnsafeTargetError, checkTarget } from './url-guard.ts'

const MAX_RULES = 100

const listParams = z.object({
  state: z.enum(['firing', 'resolved']).optional(),
  rule_id: z.string().min(1).max(64).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
})
const deliveryParams = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) })
const figures = z.record(z.string(), z.union([z.string(), z.number(), z.null()]))
const alertChange = z.object({
  alert_id: z.string(),
  rule_id: z.string(),
  kind: z.string(),
  subject: z.string(),
  severity: z.string(),
  state: z.enum(['firing', 'resolved']),
  at: z.string(),
  fired_at: z.string(),
  recorded_at: z.string(),
  message: z.string(),
  figures,
})
const firingAlert = z.object({
  alert_id: z.string(),
  rule_id: z.string(),
  name: z.string().nullable(),
  kind: z.string(),
  subject: z.string(),
  severity: z.string(),
  state: z.literal('firing'),
  at: z.string(),
  message: z.string(),
  figures,
})
const publicRuleSchema = z
  .object({
    id: z.string(),
    kind: z.string(),
    webhook: z.object({ url: z.string(), secret_set: z.literal(true) }).optional(),
  })
  .loose()
const delivery = z.object({
  delivery_id: z.string(),
  alert_id: z.string(),
  rule_id: z.string(),
  state: z.string(),
  url: z.string(),
  attempt: z.number(),
  status: z.number(),
  ok: z.boolean(),
  error: z.string(),
  at: z.string(),
})

const evaluated = z
  .object({ events: z.number().int(), change_at: z.string().nullable(), timer_at: z.string().nullable() })
  .describe(
    "How far evaluation has got: how many of the tenant's events the latest evaluation of the event rules saw, " +
      'and when (wall clock) the latest evaluations of the event rules and of the absence rules started',
  )
export const alertsAnswer = z.object({ firing: z.array(firingAlert), items: z.array(alertChange), evaluated })
export const deliveriesAnswer = z.object({ deliveries: z.array(delivery) })
export const rulesAnswer = z.object({ rules: z.array(publicRuleSchema) })
export const ruleAnswer = z.object({ rule: publicRuleSchema })
registerRoute({
  method: 'get',
  path: '/v1/alerts',
  summary: 'Alerts firing now, and the log of alert state changes (newest first) with the figures that caused them',
  tags: ['alerts'],
  query: listParams,
  response: alertsAnswer,
})
registerRoute({
  method: 'get',
  path: '/v1/alerts/deliveries',
  summary: 'The outbound webhook delivery log, one row per attempt, newest first',
  tags: ['alerts'],
  query: deliveryParams,
  response: deliveriesAnswer,
})
registerRoute({
  method: 'get',
  path: '/v1/alerts/rules',
  summary: "The tenant's alert rules (the defaults until any is changed); webhook secrets are never shown",
  tags: ['alerts'],
  response: rulesAnswer,
})
registerRoute({
  method: 'post',
  path: '/v1/alerts/rules',
  summary:
    'Adds an alert rule (kind margin_floor, spend_spike, campaign_roas, refund_surge, gmv_stall, connector_failing or low_stock)',
  tags: ['alerts'],
  body: ruleInput,
  response: ruleAnswer,
  status: 201,
  errors: {
    400: 'Invalid rule, or a webhook URL that reaches a loopback, private, link-local or metadata address',
    409: 'A rule with this id exists',
    422: 'Too many rules',
  },
})
registerRoute({
  method: 'get',
  path: '/v1/alerts/rules/:id',
  summary: 'One alert rule',
  tags: ['alerts'],
  response: ruleAnswer,
  errors: { 404: 'No such rule' },
})
registerRoute({
  method: 'put',
  path: '/v1/alerts/rules/:id',
  summary: 'Replaces an alert rule (its alerts are then evaluated against the new rule)',
  tags: ['alerts'],
  body: ruleInput,
  response: ruleAnswer,
  errors: { 400: 'Invalid rule or unsafe webhook URL', 404: 'No such rule' },
})
registerRoute({
  method: 'delete',
  path: '/v1/alerts/rules/:id',
  summary: 'Deletes an alert rule; its firing alerts leave the firing list',
  tags: ['alerts'],
  status: 204,
  errors: { 404: 'No such rule' },
})

export interface AlertRoutesOptions {
  tenants: TenantRegistry
  rules: RuleStore
  alertLog: AlertLog
  engine: AlertEngine
  /** Webhook URLs may reach private addresses (ALERT_WEBHOOK_ALLOW_PRIVATE). */
  allowPrivateWebhooks: boolean
  resolve?: Resolver
}

/** Refuses a webhook URL that would reach inside the network, naming the field. */
async function checkWebhook(rule: Rule, options: AlertRoutesOptions): Promise<void> {
  if (!rule.webhook) return
  try {
    await checkTarget(rule.webhook.url, { allowPrivate: options.allowPrivateWebhooks, resolve: options.resolve })
  } catch (err) {
    if (!(err instanceof UnsafeTargetError)) throw err
    const hint = '(set ALERT_WEBHOOK_ALLOW_PRIVATE=1 to allow private targets)'
    const message = `not an allowed webhook target: ${err.message} ${hint}`
    throw badRequest(`invalid rule: webhook.url: ${message}`, [{ path: 'webhook.url', message }])
  }
}

async function parseRule(body: () => Promise<unknown>, id?: string): Promise<Rule> {
  let raw: unknown
  try {
    raw = await body()
  } catch {
    throw badRequest('expected a JSON body')
  }
  const parsed = ruleInput.safeParse(raw)
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }))
    throw badRequest(`invalid rule: ${details.map((d) => `${d.path || 'body'}: ${d.message}`).join('; ')}`, details)
  }
  if (id !== undefined && parsed.data.id !== undefined && parsed.data.id !== id)
    throw badRequest(`the body's id (${parsed.data.id}) is not the path's (${id})`)
  return { ...parsed.data, id: id ?? parsed.data.id ?? `rule-${randomBytes(6).toString('hex')}` } as Rule
}

export function alertRoutes(options: AlertRoutesOptions) {
  const { rules, alertLog, engine } = options
  return new Hono<TenantEnv>()
    .use('/v1/alerts', requireTenant(options.tenants))
    .use('/v1/alerts/*', requireTenant(options.tenants))
    .get('/v1/alerts', async (c) => {
      const tenant = c.get('tenant')
      const p = parseQuery(listParams, c.req.query())
      // How far evaluation got is read first: the list and the log read after it hold at least
      // what that evaluation changed, so a client waiting on `evaluated` never sees older ones.
      const evaluated = engine.evaluated(tenant.id)
      const firing = engine.firing(tenant.id)
      return c.json({ firing, items: await alertLog.list(tenant.id, p), evaluated })
    })
    .get('/v1/alerts/deliveries', async (c) => {
      const p = parseQuery(deliveryParams, c.req.query())
      return c.json({ deliveries: await alertLog.deliveries(c.get('tenant').id, p.limit) })
    })
    .get('/v1/alerts/rules', async (c) => c.json({ rules: (await rules.list(c.get('tenant').id)).map(publicRule) }))
    .post('/v1/alerts/rules', async (c) => {
      const tenant = c.get('tenant')
      const rule = await parseRule(() => c.req.json())
      await checkWebhook(rule, options)
      await rules.update(tenant.id, (list) => {
        if (list.some((r) => r.id === rule.id)) throw new HttpError(409, 'conflict', `rule ${rule.id} exists`)
        if (list.length >= MAX_RULES)
          throw new HttpError(422, 'too_many_rules', `at most ${MAX_RULES} rules per tenant`)
        return [...list, rule]
      })
      engine.evaluateNow(tenant.id)
      return c.json({ rule: publicRule(rule) }, 201)
    })
    .get('/v1/alerts/rules/:id', async (c) => {
      const rule = (await rules.list(c.get('tenant').id)).find((r) => r.id === c.req.param('id'))
      if (!rule) throw notFound(`no rule ${c.req.param('id')}`)
      return c.json({ rule: publicRule(rule) })
    })
    .put('/v1/alerts/rules/:id', async (c) => {
      const tenant = c.get('tenant')
      const id = c.req.param('id')
      const exists = (list: readonly Rule[]) => {
        if (!list.some((r) => r.id === id)) throw notFound(`no rule ${id}`)
      }
      exists(await rules.list(tenant.id))
      const rule = await parseRule(() => c.req.json(), id)
      await checkWebhook(rule, options)
      await rules.update(tenant.id, (list) => (exists(list), list.map((r) => (r.id === id ? rule : r))))
      engine.evaluateNow(tenant.id)
      return c.json({ rule: publicRule(rule) })
    })
    .delete('/v1/alerts/rules/:id', async (c) => {
      const tenant = c.get('tenant')
      const id = c.req.param('id')
      await rules.update(tenant.id, (list) => {
        if (!list.some((r) => r.id === id)) throw notFound(`no rule ${id}`)
        return list.filter((r) => r.id !== id)
      })
      engine.evaluateNow(tenant.id)
      return c.body(null, 204)
    })
}
