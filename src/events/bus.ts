// The in-process event bus. Revocations, policy reloads and audit events are published here;
// a cross-replica transport (PostgreSQL LISTEN/NOTIFY) subscribes and republishes.

import { EventEmitter } from 'node:events';
import type { Revocation } from '../storage/types.js';

export interface MandateEvents {
  'task.revoked': Revocation;
  'policy.reloaded': { version: string };
}

export class EventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(100);
  }

  emit<K extends keyof MandateEvents>(name: K, payload: MandateEvents[K]): void {
    this.emitter.emit(name, payload);
  }

  on<K extends keyof MandateEvents>(name: K, listener: (payload: MandateEvents[K]) => void): () => void {
    this.emitter.on(name, listener);
    return () => this.emitter.off(name, listener);
  }
}
