import type { DeliveryQueue } from '../../core/ports';

/** Wraps the real queue; while `failing` is set every send fails, as in a queue outage or a crash right after a write. */
export class SwitchableQueue implements DeliveryQueue {
  failing = false;

  constructor(private readonly inner: DeliveryQueue) {}

  async send(...args: Parameters<DeliveryQueue['send']>) {
    if (this.failing) throw new Error('injected queue outage');
    return this.inner.send(...args);
  }

  delay(...args: Parameters<DeliveryQueue['delay']>) {
    return this.inner.delay(...args);
  }

  generation() {
    return this.inner.generation();
  }
}
