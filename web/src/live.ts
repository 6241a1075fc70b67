// The page's one WebSocket to /v1/live, authenticated with a short-lived token. It reconnects with
// backoff (a new token each time) and subscribes again, which brings fresh snapshots.
export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'signed-out'

export interface TopicHandler {
  data(data: unknown, type: 'snapshot' | 'update', seq: number): void
  error(code: string, message: string): void
}

interface ServerMessage {
  type: string
  topic?: string
  seq?: number
  data?: unknown
  code?: string
  message?: string
}

export function createLive(options: {
  token: () => Promise<string>
  onState: (state: ConnectionState, detail: string) => void
}) {
  const handlers = new Map<string, TopicHandler>()
  let ws: WebSocket | undefined
  let attempt = 0
  let stopped = false
  let retry: ReturnType<typeof setTimeout> | undefined
  const keepalive = setInterval(() => send({ op: 'ping' }), 20_000)

  function send(message: unknown): void {
    if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message))
  }

  function onMessage(event: MessageEvent): void {
    const m = JSON.parse(String(event.data)) as ServerMessage
    if (m.type === 'snapshot' || m.type === 'update') handlers.get(m.topic ?? '')?.data(m.data, m.type, m.seq ?? 0)
    else if (m.type === 'error' && m.topic !== undefined)
      handlers.get(m.topic)?.error(m.code ?? 'error', m.message ?? '')
  }

  async function connect(): Promise<void> {
    if (stopped) return
    options.onState(
      attempt === 0 ? 'connecting' : 'reconnecting',
      attempt === 0 ? 'Connecting…' : `Reconnecting (attempt ${attempt})…`,
    )
    let token: string
    try {
      token = await options.token()
    } catch (err) {
      if ((err as { status?: number }).status === 401)
        return options.onState('signed-out', 'API key no longer accepted')
      return scheduleReconnect()
    }
    const socket = new WebSocket(
      `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/live?token=${encodeURIComponent(token)}`,
    )
    ws = socket
    socket.onopen = () => {
      attempt = 0
      options.onState('live', 'Live')
      if (handlers.size > 0) send({ op: 'subscribe', topics: [...handlers.keys()] })
    }
    socket.onmessage = onMessage
    socket.onclose = () => {
      if (ws === socket) scheduleReconnect()
    }
  }

  function scheduleReconnect(): void {
    if (stopped) return
    attempt++
    const delay = Math.min(15_000, 500 * 2 ** Math.min(attempt, 5))
    options.onState('reconnecting', `Offline, retrying in ${Math.round(delay / 1000)} s`)
    retry = setTimeout(() => void connect(), delay)
  }

  void connect()

  return {
    /** Subscribes (or re-subscribes: a fresh snapshot) and returns the unsubscribe. */
    subscribe(topic: string, handler: TopicHandler): () => void {
      handlers.set(topic, handler)
      send({ op: 'subscribe', topics: [topic] })
      return () => {
        if (handlers.get(topic) !== handler) return
        handlers.delete(topic)
        send({ op: 'unsubscribe', topics: [topic] })
      }
    },
    close(): void {
      stopped = true
      clearInterval(keepalive)
      clearTimeout(retry)
      ws?.close()
    },
  }
}

export type Live = ReturnType<typeof createLive>
