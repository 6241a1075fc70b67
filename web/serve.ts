// The dashboard page at `/`: plain TypeScript under web/src, bundled by esbuild when the app starts
// (in memory, well under a second, so a fresh clone, `npm start` and the Docker image need no build
// step and no written files), served beside index.html and the CSS. No CDN: uPlot and luxon are
// bundled from node_modules.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'
import { Hono } from 'hono'
import { type Log, silentLog } from '../common/log.ts'

const root = import.meta.dirname

interface Asset {
  body: string
  type: string
  etag: string
}

const etagOf = (body: string) => `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`

/** Bundles the page; `assets` maps a URL path to its body. */
export async function buildDashboard(): Promise<Map<string, Asset>> {
  const result = await build({
    entryPoints: { app: join(root, 'src', 'main.ts'), style: join(root, 'styles.css') },
    bundle: true,
    write: false,
    outdir: '/assets',
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'silent',
  })
  const assets = new Map<string, Asset>()
  for (const file of result.outputFiles) {
    const name = file.path.slice(file.path.lastIndexOf('/') + 1)
    const body = file.text
    assets.set(`/assets/${name}`, {
      body,
      type: name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8',
      etag: etagOf(body),
    })
  }
  // Version the asset URLs so a browser never runs a new page with an old script.
  let html = readFileSync(join(root, 'index.html'), 'utf8')
  for (const [path, asset] of assets) html = html.replaceAll(`"${path}"`, `"${path}?v=${asset.etag.slice(1, 9)}"`)
  assets.set('/', { body: html, type: 'text/html; charset=utf-8', etag: etagOf(html) })
  return assets
}

/** GET / and /assets/*. A failed build leaves the API up and says so on the page. */
export async function dashboardRoute(log: Log = silentLog) {
  let assets: Map<string, Asset>
  try {
    assets = await buildDashboard()
  } catch (err) {
    log.error({ err }, 'dashboard build failed')
    assets = new Map([
      [
        '/',
        {
          body:
            '<!doctype html><title>Pulse</title>' +
            '<p>The dashboard failed to build; see the server log. The API works.</p>',
          type: 'text/html; charset=utf-8',
          etag: '"failed"',
        },
      ],
    ])
  }
  const serveAsset = (path: string) => (c: import('hono').Context) => {
    const asset = assets.get(path)
    if (!asset) return c.notFound()
    if (c.req.header('if-none-match') === asset.etag) return c.body(null, 304)
    return c.body(asset.body, 200, {
      'Content-Type': asset.type,
      ETag: asset.etag,
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
      ...(path === '/'
        ? {
            'Content-Security-Policy':
              "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
          }
        : {}),
    })
  }
  const app = new Hono().get('/', serveAsset('/'))
  app.get('/index.html', serveAsset('/'))
  app.get('/assets/:file', (c) => serveAsset(`/assets/${c.req.param('file')}`)(c))
  return app
}
