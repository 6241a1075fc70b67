// GMV (area, left axis, tenant currency) and orders (bars, right axis) over time, drawn with uPlot
// in the tenant's timezone.
import uPlot from 'uplot'
import type { Formatters } from './format.ts'

export interface Point {
  t: string
  value: string | number | null
}

export function createSeriesChart(el: HTMLElement, fmt: Formatters) {
  let plot: uPlot | undefined
  let gmv: Point[] = []
  let orders: Point[] = []
  const height = 260

  function options(width: number): uPlot.Options {
    return {
      width,
      height,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), fmt.timezone),
      cursor: { drag: { x: true, y: false } },
      legend: { live: true },
      scales: {
        x: { time: true },
        money: { auto: true, range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
        count: { auto: true, range: (_u, _min, max) => [0, max > 0 ? max * 1.25 : 1] },
      },
      series: [
        {},
        {
          label: 'GMV',
          scale: 'money',
          stroke: '#3b5bdb',
          width: 2,
          fill: 'rgba(59, 91, 219, 0.12)',
          value: (_u, v) => (v == null ? '—' : fmt.money(v.toFixed(2))),
        },
        {
          label: 'Orders',
          scale: 'count',
          stroke: '#f08c00',
          fill: 'rgba(240, 140, 0, 0.35)',
          paths: uPlot.paths.bars!({ size: [0.6, 24] }),
          points: { show: false },
          value: (_u, v) => (v == null ? '—' : fmt.count(v)),
        },
      ],
      axes: [
        { stroke: '#667085', grid: { stroke: '#eef0f4' } },
        {
          scale: 'money',
          stroke: '#667085',
          grid: { stroke: '#eef0f4' },
          size: 70,
          values: (_u, vals) => vals.map((v) => fmt.moneyShort(v)),
        },
        {
          scale: 'count',
          side: 1,
          stroke: '#667085',
          grid: { show: false },
          values: (_u, vals) => vals.map((v) => (Number.isInteger(v) ? fmt.count(v) : '')),
        },
      ],
    }
  }

  function draw(): void {
    const ordersAt = new Map(orders.map((p) => [p.t, p.value]))
    const xs = gmv.map((p) => Date.parse(p.t) / 1000)
    const data: uPlot.AlignedData = [
      xs,
      gmv.map((p) => (p.value === null ? null : Number(p.value))),
      gmv.map((p) => (ordersAt.has(p.t) ? Number(ordersAt.get(p.t)) : null)),
    ]
    el.dataset.points = String(xs.length)
    if (!plot) plot = new uPlot(options(Math.max(300, el.clientWidth)), data, el)
    else plot.setData(data)
  }

  new ResizeObserver(() => plot?.setSize({ width: Math.max(300, el.clientWidth), height })).observe(el)

  return {
    setGmv(points: Point[]): void {
      gmv = points
      draw()
    },
    setOrders(points: Point[]): void {
      orders = points
      if (gmv.length > 0) draw()
    },
    clear(): void {
      gmv = []
      orders = []
      plot?.destroy()
      plot = undefined
    },
  }
}
