// The guard is shared with the connectors' outbound calls; it lives in common/.
export * from '../common/url-guard.ts'
