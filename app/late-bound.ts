// app/main.ts creates each stage after the stages it needs. When two need each other (the stream
// consumer feeds the alerts, the alerts read the consumer's backlog), the one created first gets
// a late-bound function, set once the other exists, instead of a closure over a name declared
// further down, which a timer could reach before that declaration ran.

/** A function that answers like `fallback` until `set` gives it its real implementation. */
export function lateBound<A extends unknown[], R>(fallback: (...args: A) => R) {
  let target = fallback
  return {
    /** Hand this to the stage created first: it always calls the current implementation. */
    call: (...args: A): R => target(...args),
    set(implementation: (...args: A) => R): void {
      target = implementation
    },
  }
}
