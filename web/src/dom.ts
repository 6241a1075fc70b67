// A tiny element builder: h('div', { class: 'tile', 'data-kpi': 'gmv', onclick: fn }, child, …).
type Attr = string | number | boolean | null | undefined | ((event: any) => void)
export type Child = Node | string | number | null | undefined | false

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, Attr> | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value)
    else if (value === true) el.setAttribute(name, '')
    else el.setAttribute(name, String(value))
  }
  append(el, children)
  return el
}

export function append(el: Element, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    el.append(child instanceof Node ? child : String(child))
  }
}

/** Replaces an element's content. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren()
  append(el, children)
}

/** `ad_spend` → `Ad spend`. */
export const humanize = (key: string) => {
  const words = key
    .replace(/_data$/, '')
    .replace(/[_:]+/g, ' ')
    .trim()
  return words.charAt(0).toUpperCase() + words.slice(1)
}
