// Messaging platforms report sends, not money: a send costs the tenant's unit price for that
// platform and channel (settings.marketing_unit_costs), looked up as `<platform>_<channel>`, then
// `<platform>`, then `<channel>`; none set means a cost of 0 until one is (the next poll restates).
import type { Settings } from '../../../common/settings.ts'
import { mulDec } from '../values.ts'

export function unitCostOf(settings: Settings, platform: string, channel: string): string {
  const costs = settings.marketing_unit_costs
  return costs[`${platform}_${channel}`] ?? costs[platform] ?? costs[channel] ?? '0'
}

export const costOfSends = (settings: Settings, platform: string, channel: string, sends: number) =>
  mulDec(unitCostOf(settings, platform, channel), sends)
