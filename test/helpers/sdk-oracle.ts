// The AWS SDK as the oracle of the protocol tests: the request its client would send for
// a command, taken at the end of the finalizeRequest step, just before it would go out.

/** The parts of the SDK's HttpRequest the protocol tests compare. */
export interface SdkHttpRequest {
  method: string;
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
  query: Record<string, any>;
  headers: Record<string, string>;
  body?: unknown;
}

interface SdkClientLike {
  middlewareStack: { add: (middleware: any, options: any) => void };
  send: (command: any) => Promise<unknown>;
  destroy: () => void;
}

/** Sends `command` through `client` without sending it anywhere, and returns the request it laid out. */
export async function sdkRequestOf(client: SdkClientLike, command: any): Promise<SdkHttpRequest> {
  let captured: SdkHttpRequest | undefined;
  client.middlewareStack.add(
    () => async (args: { request: unknown }) => {
      captured = args.request as SdkHttpRequest;
      // `$metadata` keeps the SDK's retry step content with the answer.
      return { output: { $metadata: {} }, response: {} };
    },
    { step: 'finalizeRequest', priority: 'low' },
  );
  try {
    await client.send(command);
  } finally {
    client.destroy();
  }
  if (!captured) throw new Error('the SDK built no request');
  return captured;
}
