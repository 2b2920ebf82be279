import type { StoredMessage } from '../adapters/aws/message-store';
import type { Runtime } from '../adapters/runtime';

/** A message's original payload bytes, wherever they were kept at acceptance. */
export async function messagePayload(
  runtime: Runtime,
  message: Pick<StoredMessage, 'flowId' | 'messageId' | 'payload' | 'inlineBody'>,
): Promise<Buffer> {
  if (message.payload.kind === 'object') return runtime.payloads.get(message.payload.key);
  if (message.inlineBody) return message.inlineBody;
  const reread = await runtime.messages.get(message.flowId, message.messageId, true);
  if (!reread?.inlineBody) throw new Error(`inline payload of ${message.flowId}/${message.messageId} is missing`);
  return reread.inlineBody;
}
