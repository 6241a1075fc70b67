// Limits on the shape of JSON that comes in from outside, checked before anything recurses into it
// or stores it. ClickHouse refuses text that is not well-formed Unicode (a lone UTF-16 surrogate,
// which JSON can carry as "\ud800"), and deep nesting overflows the stack of every recursive walk
// (JSON.stringify, a merge patch), so both are refused at the door, where a 400 can name them.

export interface ShapeProblem {
  /** Dotted path to the offending value ('' for the root). */
  path: string
  message: string
}

/**
 * The first problem in a parsed JSON value: a string or key that is not well-formed UTF-16, or
 * nesting deeper than `maxDepth` (an array or object at the root is depth 1). Walks iteratively,
 * so a value nested a million deep is refused, not a stack overflow.
 */
export function shapeProblem(value: unknown, maxDepth: number): ShapeProblem | undefined {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: '', depth: 0 }]
  while (stack.length > 0) {
    const item = stack.pop()!
    if (typeof item.value === 'string') {
      if (!item.value.isWellFormed())
        return { path: item.path, message: 'text is not well-formed Unicode (a lone surrogate)' }
      continue
    }
    if (item.value === null || typeof item.value !== 'object') continue
    const depth = item.depth + 1
    if (depth > maxDepth) return { path: item.path, message: `nested deeper than ${maxDepth} levels` }
    const entries = Array.isArray(item.value) ? item.value.entries() : Object.entries(item.value)
    for (const [key, child] of entries) {
      const path = item.path === '' ? String(key) : `${item.path}.${key}`
      if (typeof key === 'string' && !key.isWellFormed())
        return { path, message: 'a key is not well-formed Unicode (a lone surrogate)' }
      stack.push({ value: child, path, depth })
    }
  }
  return undefined
}
