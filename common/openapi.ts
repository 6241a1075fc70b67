// The OpenAPI registry: each route module registers its routes beside their definitions, with the
// zod schemas it validates with, and GET /openapi.json is generated from them (z.toJSONSchema).
// A route the Hono app serves but nobody registered fails test/integration/openapi.test.ts.
import { z } from 'zod'

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete'
export type Auth = 'none' | 'tenant' | 'admin'

export interface RouteDoc {
  method: HttpMethod
  /** Hono's form: `/v1/connectors/:id`. */
  path: string
  summary: string
  description?: string
  tags?: string[]
  /** Default: tenant. */
  auth?: Auth
  query?: z.ZodObject
  params?: z.ZodObject
  body?: z.ZodType
  /** Media types of the body; default application/json. */
  bodyTypes?: string[]
  /** The success response's schema (omit for non-JSON answers). */
  response?: z.ZodType
  /** Success status; default 200. */
  status?: number
  /** Media types of the success response besides JSON schema ones (CSV, text). */
  responseTypes?: string[]
  /** Error statuses worth naming besides 400/401/500. */
  errors?: Record<number, string>
}

export const errorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
})

const registry = new Map<string, RouteDoc>()

export function registerRoute(doc: RouteDoc): void {
  registry.set(`${doc.method.toUpperCase()} ${doc.path}`, doc)
}

export function registeredRoutes(): RouteDoc[] {
  return [...registry.values()]
}

/** `/v1/x/:id` → `/v1/x/{id}` */
export const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    target: 'draft-2020-12',
  }) as Record<string, unknown>
  return rest
}

function parameters(schema: z.ZodObject | undefined, where: 'query' | 'path') {
  if (!schema) return []
  const json = jsonSchema(schema, 'input') as {
    properties?: Record<string, Record<string, unknown>>
    required?: string[]
  }
  return Object.entries(json.properties ?? {}).map(([name, s]) => {
    const { description, ...rest } = s
    return {
      name,
      in: where,
      required: where === 'path' || (json.required ?? []).includes(name),
      schema: rest,
      ...(description ? { description } : {}),
    }
  })
}

const STATUS_TEXT: Record<number, string> = {
  101: 'Switching Protocols (WebSocket)',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  400: 'Invalid request',
  401: 'Missing or invalid credentials',
  404: 'Not found',
  409: 'Conflict',
  413: 'Too large',
  422: 'A limit was hit',
  429: 'Too many requests',
  500: 'Internal error',
  503: 'A dependency is down',
}

export function openApiDocument(info: { title: string; version: string; description?: string }) {
  const paths: Record<string, Record<string, unknown>> = {}
  const errorRef = { $ref: '#/components/schemas/Error' }
  for (const doc of [...registry.values()].sort((a, b) => (a.path + a.method < b.path + b.method ? -1 : 1))) {
    const auth = doc.auth ?? 'tenant'
    const pathParams = [...doc.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1])
    const params = doc.params
      ? parameters(doc.params, 'path')
      : pathParams.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } }))
    const status = doc.status ?? 200
    const content: Record<string, unknown> = {}
    if (doc.response) content['application/json'] = { schema: jsonSchema(doc.response, 'output') }
    for (const type of doc.responseTypes ?? []) content[type] = { schema: { type: 'string' } }
    const errors: Record<number, string> = { 400: STATUS_TEXT[400], 500: STATUS_TEXT[500], ...doc.errors }
    if (auth !== 'none') errors[401] = STATUS_TEXT[401]
    const responses: Record<string, unknown> = {
      [status]: { description: STATUS_TEXT[status] ?? 'Success', ...(Object.keys(content).length ? { content } : {}) },
    }
    for (const [code, description] of Object.entries(errors))
      responses[code] = { description, content: { 'application/json': { schema: errorRef } } }
    const operation: Record<string, unknown> = {
      operationId: `${doc.method}${doc.path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      summary: doc.summary,
      ...(doc.description ? { description: doc.description } : {}),
      tags: doc.tags ?? [doc.path.split('/').filter(Boolean).slice(0, 2).join('/') || 'root'],
      security: auth === 'none' ? [] : [{ [auth === 'admin' ? 'adminToken' : 'apiKey']: [] }],
      parameters: [...params, ...parameters(doc.query, 'query')],
      responses,
    }
    if (doc.body) {
      const schema = jsonSchema(doc.body, 'input')
      operation.requestBody = {
        required: true,
        content: Object.fromEntries((doc.bodyTypes ?? ['application/json']).map((t) => [t, { schema }])),
      }
    }
    ;(paths[openApiPath(doc.path)] ??= {})[doc.method] = operation
  }
  return {
    openapi: '3.1.0',
    info,
    paths,
    components: {
      schemas: { Error: jsonSchema(errorSchema, 'output') },
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: "The tenant's API key: Authorization: Bearer pk_…" },
        adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' },
      },
    },
  }
}
