import { eventBridgeService } from '../protocol/event-bridge';
import type { RuntimeWiring } from '../../runtime';
import { EventBridgePublisher, InMemoryEventPublisher } from '../event-publisher';

/** Operational events on the deployment's bus (kept in memory without one). */
export const eventBridgeWiring: RuntimeWiring = {
  protocols: { eventBridge: eventBridgeService },
  events: (clients, config) =>
    config.eventBusName ? new EventBridgePublisher(clients.eventBridge, config.eventBusName) : new InMemoryEventPublisher(),
};
