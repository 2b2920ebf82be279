import type { StoredMessage } from '../adapters/aws/message-store';
import type { Runtime } from '../adapters/runtime';

/** A message's original payload bytes, wherever they were kept at acceptance. */
export async function messagePayload(runtime: Runtime, message: Pick<StoredMessage, 'flowId' | 'messageId' | 'payload'>): Promise<Buffer> {
  return message.payload.kind === 'inline'
    ? runtime.messages.inlinePayload(message.flowId, message.messageId)
    : runtime.payloads.get(message.payload.key);
}
