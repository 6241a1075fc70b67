// Which ad channel won a Shopify order: the landing page's utm_source, else a click id it carries
// (gclid, fbclid, ttclid, ...), else a sales channel named in source_name, else the referring
// site's platform; otherwise organic. The campaign is utm_campaign.
const ALIASES: [RegExp, string][] = [
  [/^(fb|facebook|meta|facebook\.com|m\.facebook\.com|l\.facebook\.com)$/, 'facebook'],
  [/^(ig|instagram|instagram\.com|l\.instagram\.com)$/, 'instagram'],
  [/^(google|adwords|googleads|google_ads|google\.\w+(\.\w+)?)$/, 'google'],
  [/^(tiktok|tiktok\.com)$/, 'tiktok'],
  [/^(bing|microsoft|bing\.com)$/, 'bing'],
  [/^(pinterest|pinterest\.com)$/, 'pinterest'],
  [/^(snapchat|snap)$/, 'snapchat'],
  [/^(klaviyo|email|newsletter)$/, 'email'],
  [/^(postscript|sms|attentive)$/, 'sms'],
]
const CLICK_IDS: [string, string][] = [
  ['gclid', 'google'],
  ['gbraid', 'google'],
  ['wbraid', 'google'],
  ['fbclid', 'facebook'],
  ['ttclid', 'tiktok'],
  ['msclkid', 'bing'],
]
/** Only these referrers mean an ad platform sent the shopper; a search engine's is organic. */
const REFERRER_PLATFORMS = new Set(['facebook', 'instagram', 'tiktok', 'pinterest', 'snapchat'])

function platform(name: string | undefined | null): string | undefined {
  const key = (name ?? '')
    .trim()
    .toLowerCase()
    .replace(/^www\./, '')
  if (!key) return undefined
  return ALIASES.find(([pattern]) => pattern.test(key))?.[1]
}

function query(url: string | null | undefined): URLSearchParams {
  if (!url) return new URLSearchParams()
  try {
    return new URL(url, 'https://shop.invalid').searchParams
  } catch {
    return new URLSearchParams()
  }
}

function host(url: string | null | undefined): string | undefined {
  if (!url) return undefined
  try {
    return new URL(url).hostname
  } catch {
    return undefined
  }
}

const label = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '_')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 64) || 'organic'

export function attribution(order: {
  landing_site?: string | null
  referring_site?: string | null
  source_name?: string | null
}): { channel: string; campaign_id?: string } {
  const params = query(order.landing_site)
  const campaign = params.get('utm_campaign') || undefined
  const utm = params.get('utm_source')
  if (utm) return { channel: platform(utm) ?? label(utm), campaign_id: campaign }
  for (const [param, channel] of CLICK_IDS) if (params.has(param)) return { channel, campaign_id: campaign }
  const sourceName = platform(order.source_name)
  if (sourceName) return { channel: sourceName, campaign_id: campaign }
  const referrer = platform(host(order.referring_site))
  if (referrer && REFERRER_PLATFORMS.has(referrer)) return { channel: referrer, campaign_id: campaign }
  return { channel: 'organic', campaign_id: campaign }
}
