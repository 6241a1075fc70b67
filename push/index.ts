export { createHub, type HubOptions } from './hub.ts'
export { createLivePublisher, type LivePublisher, type TopicSource } from './live-publisher.ts'
export { liveSubject, snapshotSubject } from './subjects.ts'
