export { metricsRoutes } from './metrics-routes.ts'
export { healthRoute, type Probe } from './health-route.ts'
export { parseQuery, rangeParams, resolveRange } from './params.ts'
