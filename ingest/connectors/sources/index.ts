import type { ConnectorType, Source } from '../types.ts'
import { amazonSp } from './amazon-sp.ts'
import { googleAds } from './google-ads.ts'
import { klaviyo } from './klaviyo.ts'
import { metaAds } from './meta-ads.ts'
import { postscript } from './postscript.ts'
import { quickbooks } from './quickbooks.ts'
import { walmart } from './walmart.ts'

export const SOURCES: Record<ConnectorType, Source> = {
  meta_ads: metaAds,
  google_ads: googleAds,
  amazon_sp: amazonSp,
  walmart,
  klaviyo,
  postscript,
  quickbooks,
}
