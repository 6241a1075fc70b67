// Serving the HTTP app, for the Pulse process and the standalone hub alike.
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'

/** Serves `fetch` on host:port; resolves once listening, with the server (the hub attaches to it) and its URL. */
export async function listen(
  fetch: (request: Request) => Response | Promise<Response>,
  host: string,
  port: number,
): Promise<{ server: Server; url: string }> {
  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch, port, hostname: host }, () => resolve(s as Server)) as Server
  })
  return { server, url: `http://${host}:${(server.address() as AddressInfo).port}` }
}
