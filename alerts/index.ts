export { createAlertEngine, type AlertEngine, type FiringAlert } from './engine.ts'
export { alertRoutes } from './routes.ts'
export {
  openRuleStore,
  createAlertLog,
  type RuleStore,
  type AlertLog,
  type AlertRecord,
  type DeliveryRecord,
} from './store.ts'
export { createWebhookSender, signBody, type WebhookSender } from './webhooks.ts'
export { createAlertAggregate, type AlertAggregate } from './aggregate.ts'
export { openOutbox, type Outbox, type PendingDelivery } from './outbox.ts'
export { checkTarget, isPrivateAddress, UnsafeTargetError } from './url-guard.ts'
export {
  ruleInput,
  defaultRules,
  publicRule,
  horizonMs,
  TIMER_KINDS,
  type Rule,
  type RuleInput,
  type RuleKind,
} from './rules.ts'
export { step, type AlertState, type AlertStatus } from './state.ts'
export * as evaluate from './evaluate.ts'
