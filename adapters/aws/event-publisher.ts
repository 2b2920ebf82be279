import type { AwsClient } from './protocol/client';
import { PutEventsCommand } from './protocol/event-bridge';
import type { EventPublisher, OperationalEvent } from '../../core/ports';

export const EVENT_SOURCE = 'sluice';

export class EventBridgePublisher implements EventPublisher {
  constructor(
    private readonly eventBridge: AwsClient,
    private readonly eventBusName: string,
  ) {}

  async publish(event: OperationalEvent): Promise<void> {
    await this.eventBridge.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: this.eventBusName,
            Source: EVENT_SOURCE,
            DetailType: event.type,
            Time: new Date(event.at),
            Detail: JSON.stringify(event.detail),
          },
        ],
      }),
    );
  }
}

/** Local mode: events are kept in memory and handed to subscribers (the local server streams them). */
export class InMemoryEventPublisher implements EventPublisher {
  readonly events: OperationalEvent[] = [];
  private readonly listeners = new Set<(event: OperationalEvent) => void>();

  async publish(event: OperationalEvent): Promise<void> {
    this.events.push(event);
    if (this.events.length > 10_000) this.events.shift();
    for (const listener of this.listeners) listener(event);
  }

  subscribe(listener: (event: OperationalEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
