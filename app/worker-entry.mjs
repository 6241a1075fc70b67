// A worker thread's first module, in plain JavaScript: Node 20 starts a thread's entry before the
// `--import tsx` hooks apply to it, so the thread registers tsx itself and then loads its TypeScript.
import { register } from 'tsx/esm/api'

register()
await import('./worker.ts')
