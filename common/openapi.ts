// The OpenAPI registry: each route module registers its routes beside their definitions, with the
// zod schemas it validates with, and GET /openapi.json is generated from them by zod-openapi.
// A route the Hono app serves but nobody registered fails test/integration/openapi.test.ts.
import { z } from 'zod'
import {
  type ZodOpenApiContentObject,
  type ZodOpenApiOperationObject,
  type ZodOpenApiPathsObject,
  type ZodOpenApiResponseObject,
  createDocument,
} from 'zod-openapi'

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
  /** Statuses answered with a body of their own instead of the error body (a degraded health report). */
  otherAnswers?: Record<number, { description: string; schema: z.ZodType }>
}

/** The body of every error answer (common/errors.ts errorBody); one component, referenced by every route. */
export const errorSchema = z
  .object({
    error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
  })
  .meta({ id: 'Error' })

const registry = new Map<string, RouteDoc>()

export function registerRoute(doc: RouteDoc): void {
  registry.set(`${doc.method.toUpperCase()} ${doc.path}`, doc)
}

/** `/v1/x/:id` → `/v1/x/{id}` */
export const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')

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

/** `post /v1/connectors/:id/sync` → `postV1ConnectorsIdSync` */
const operationId = (doc: RouteDoc) =>
  doc.method + doc.path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''))

/** One route as zod-openapi takes it: the library turns the zod schemas into JSON Schema (requests as
 * input, answers as output) and the query and path objects into parameters. */
function operation(doc: RouteDoc): ZodOpenApiOperationObject {
  const auth = doc.auth ?? 'tenant'
  const pathParams = [...doc.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1])
  // Path parameters the route does not describe are plain strings.
  const path = doc.params ?? z.object(Object.fromEntries(pathParams.map((name) => [name, z.string()])))
  const status = doc.status ?? 200
  const content: ZodOpenApiContentObject = {}
  if (doc.response) content['application/json'] = { schema: doc.response }
  for (const type of doc.responseTypes ?? []) content[type] = { schema: { type: 'string' } }
  const errors: Record<number, string> = { 400: STATUS_TEXT[400], 500: STATUS_TEXT[500], ...doc.errors }
  if (auth !== 'none') errors[401] = STATUS_TEXT[401]
  const responses: Record<string, ZodOpenApiResponseObject> = {
    [status]: { description: STATUS_TEXT[status] ?? 'Success', ...(Object.keys(content).length ? { content } : {}) },
  }
  for (const [code, description] of Object.entries(errors))
    responses[code] = { description, content: { 'application/json': { schema: errorSchema } } }
  for (const [code, { description, schema }] of Object.entries(doc.otherAnswers ?? {}))
    responses[code] = { description, content: { 'application/json': { schema } } }
  const body = doc.body
  return {
    operationId: operationId(doc),
    summary: doc.summary,
    ...(doc.description ? { description: doc.description } : {}),
    tags: doc.tags ?? [doc.path.split('/').filter(Boolean).slice(0, 2).join('/') || 'root'],
    security: auth === 'none' ? [] : [{ [auth === 'admin' ? 'adminToken' : 'apiKey']: [] }],
    requestParams: { path, ...(doc.query ? { query: doc.query } : {}) },
    ...(body
      ? {
          requestBody: {
            required: true,
            content: Object.fromEntries((doc.bodyTypes ?? ['application/json']).map((t) => [t, { schema: body }])),
          },
        }
      : {}),
    responses,
  }
}

export function openApiDocument(info: { title: string; version: string; description?: string }) {
  const paths: ZodOpenApiPathsObject = {}
  for (const doc of [...registry.values()].sort((a, b) => (a.path + a.method < b.path + b.method ? -1 : 1)))
    (paths[openApiPath(doc.path)] ??= {})[doc.method] = operation(doc)
  return createDocument({
    openapi: '3.1.0',
    info,
    paths,
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: "The tenant's API key: Authorization: Bearer pk_…" },
        adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' },
      },
    },
  })
}
