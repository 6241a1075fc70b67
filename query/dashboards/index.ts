export { createDashboards, type Dashboards, type DashboardsOptions, ACTIVITY_DEFAULT_LIMIT } from './service.ts'
export { dashboardRoutes, type DashboardRoutesOptions } from './routes.ts'
export { dashboardTopics, type DashboardTopicSource, type TopicContext } from './topics.ts'
export { createTenantQueues, type TenantQueues, type TenantQueuesOptions } from './tenant-queue.ts'
