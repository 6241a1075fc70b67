// ClickHouse failures by their error code, whichever engine answered, never by message text.
// A ClickHouse server's error is @clickhouse/client's ClickHouseError. The embedded chDB engine
// (chdb/connection) throws the ClickHouseError of @clickhouse/client-common instead: a separate
// copy of the same class, which `instanceof` against the first does not recognise. Both carry
// ClickHouse's numeric code as a string (`code`, e.g. '62') and its name (`type`, e.g. SYNTAX_ERROR).
import { ClickHouseError } from '@clickhouse/client'
import { ClickHouseError as ChdbClickHouseError } from '@clickhouse/client-common'

export interface ClickHouseFailure {
  /** ClickHouse's error code, e.g. 62. */
  code: number
  /** The code's name, e.g. SYNTAX_ERROR, when ClickHouse gave one. */
  type: string | undefined
  message: string
}

/** What ClickHouse said went wrong, or undefined when the failure is not ClickHouse's answer (network, ours). */
export function clickHouseFailure(err: unknown): ClickHouseFailure | undefined {
  if (!(err instanceof ClickHouseError || err instanceof ChdbClickHouseError)) return undefined
  const code = Number(err.code)
  return Number.isInteger(code) ? { code, type: err.type, message: err.message } : undefined
}
