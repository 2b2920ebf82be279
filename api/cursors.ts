import { createHmac, timingSafeEqual } from 'node:crypto';
import { loadCursorSecret } from '../adapters/aws/cursor-secret';
import type { Runtime } from '../adapters/runtime';
import { ProblemError } from '../core/problems';

/**
 * Pagination cursors: opaque to clients, bound to the listing that issued them.
 *
 * A cursor is `<position>.<mac>`: the store's resume position (itself opaque) and an
 * HMAC-SHA256 over the listing's name, its parameters (flow, status, filters) and the
 * position, keyed with a per-deployment secret. A cursor that is garbage, was edited,
 * or comes from another listing (another flow, another filter) fails the check and is
 * a 400 `invalid-query`, before any database call; nothing a client sends as a cursor
 * reaches DynamoDB unless this deployment issued it for this very listing.
 */

/** The listing a cursor belongs to; parameters left undefined are omitted. */
export interface Listing {
  name: string;
  params?: Record<string, string | number | undefined>;
}

const MAC_BYTES = 32;

function canonical(listing: Listing, position: string): string {
  const params = Object.entries(listing.params ?? {})
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => [name, String(value)])
    .sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0));
  return JSON.stringify([listing.name, params, position]);
}

export class CursorCodec {
  private readonly secret: Buffer;

  constructor(secret: string | Buffer) {
    this.secret = Buffer.isBuffer(secret) ? secret : Buffer.from(secret, 'utf8');
    if (this.secret.length < 16) throw new Error('cursor secret must be at least 16 bytes');
  }

  private mac(listing: Listing, position: string): Buffer {
    return createHmac('sha256', this.secret).update(canonical(listing, position)).digest();
  }

  /** Wraps a store position (or nothing, at the end of the listing) into a cursor. */
  seal(listing: Listing, position: string | undefined): string | null {
    if (position === undefined) return null;
    return `${Buffer.from(position, 'utf8').toString('base64url')}.${this.mac(listing, position).toString('base64url')}`;
  }

  /** The store position of a cursor this deployment issued for this listing; otherwise 400 `invalid-query`. */
  open(listing: Listing, cursor: string | undefined): string | undefined {
    if (cursor === undefined) return undefined;
    const refuse = (): never => {
      throw new ProblemError(
        'invalid-query',
        'Invalid query: cursor: not a cursor of this listing (use the cursor of the previous page, with the same filters).',
        { errors: [{ field: 'cursor', message: 'not a cursor of this listing' }] },
      );
    };
    const match = /^([A-Za-z0-9_-]*)\.([A-Za-z0-9_-]{43})$/.exec(cursor);
    if (!match) return refuse();
    const position = Buffer.from(match[1]!, 'base64url').toString('utf8');
    const presented = Buffer.from(match[2]!, 'base64url');
    // Only the canonical spelling: base64url's last character carries spare bits, and an
    // edit of those alone must not pass for the cursor that was issued.
    if (presented.toString('base64url') !== match[2]) return refuse();
    const expected = this.mac(listing, position);
    if (presented.length !== MAC_BYTES || !timingSafeEqual(presented, expected)) return refuse();
    return position;
  }
}

const codecs = new WeakMap<object, Promise<CursorCodec>>();

/**
 * One codec per runtime (per Lambda container or local process), keyed with
 * `cursorSecret` from the configuration when set, else with the deployment's sealed
 * secret from the state store (made on first use; see `loadCursorSecret`).
 */
export function cursorCodec(runtime: Pick<Runtime, 'config' | 'clients' | 'sealer'>): Promise<CursorCodec> {
  let codec = codecs.get(runtime);
  if (!codec) {
    const { config, clients, sealer } = runtime;
    codec = (
      config.cursorSecret
        ? Promise.resolve(Buffer.from(config.cursorSecret, 'utf8'))
        : loadCursorSecret(clients.documents, config.tableName, sealer)
    ).then((secret) => new CursorCodec(secret));
    // A failed load (a throttled read, say) is tried again by the next request.
    codec.catch(() => codecs.delete(runtime));
    codecs.set(runtime, codec);
  }
  return codec;
}
