// The live activity feed: the newest orders, refunds, carts and checkouts per tenant, in a
// bounded ring (arrival order, newest first on read).

export interface ActivityItem {
  event_id: string
  type: string
  ts: string
  customer_id: string | null
  amount: string | null
  description: string
}

export function createActivityFeed(capacity = 500) {
  const feeds = new Map<string, ActivityItem[]>()
  return {
    push(tenant: string, item: ActivityItem): void {
      let feed = feeds.get(tenant)
      if (!feed) feeds.set(tenant, (feed = []))
      feed.push(item)
      if (feed.length > capacity * 2) feed.splice(0, feed.length - capacity)
    },
    /** A tenant's items for a snapshot, oldest first (at most twice the capacity: one record). */
    exportTenant: (tenant: string): ActivityItem[] => feeds.get(tenant)?.slice() ?? [],
    /** Forgets a tenant's items (its partition moved to another node). */
    drop(tenant: string): void {
      feeds.delete(tenant)
    },
    importTenant(tenant: string, items: ActivityItem[]): void {
      feeds.set(tenant, items.slice())
    },
    latest(tenant: string, limit: number): ActivityItem[] {
      const feed = feeds.get(tenant) ?? []
      if (limit <= 0) return []
      return feed.slice(-Math.min(limit, capacity)).reverse()
    },
  }
}
