// Readers (queries merging history with live state) and the writer (a flush landing in ClickHouse
// and leaving live state) must not overlap, or an event would be counted in both or in neither.
// Fair: a waiting writer holds back new readers, so flushes are never starved.

type Waiter = { write: boolean; grant: () => void }

export class ReadWriteLock {
  private readers = 0
  private writing = false
  private readonly queue: Waiter[] = []

  read<T>(fn: () => Promise<T>): Promise<T> {
    return this.run(false, fn)
  }

  write<T>(fn: () => Promise<T>): Promise<T> {
    return this.run(true, fn)
  }

  private async run<T>(write: boolean, fn: () => Promise<T>): Promise<T> {
    await this.acquire(write)
    try {
      return await fn()
    } finally {
      if (write) this.writing = false
      else this.readers--
      this.drain()
    }
  }

  private acquire(write: boolean): Promise<void> {
    if (this.queue.length === 0 && this.canEnter(write)) {
      this.enter(write)
      return Promise.resolve()
    }
    return new Promise((grant) => this.queue.push({ write, grant }))
  }

  private canEnter(write: boolean): boolean {
    return !this.writing && (!write || this.readers === 0)
  }

  private enter(write: boolean): void {
    if (write) this.writing = true
    else this.readers++
  }

  private drain(): void {
    while (this.queue.length > 0 && this.canEnter(this.queue[0].write)) {
      const next = this.queue.shift()!
      this.enter(next.write)
      next.grant()
    }
  }
}
