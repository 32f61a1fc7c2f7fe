// Message bodies are read asynchronously (the event loop never waits on the
// disk). A command that needs many of them (FETCH BODY[], SEARCH BODY) keeps
// several reads in flight and uses the results in the messages' order, so the
// responses come out as they would one by one. Reads are started by chunks
// (half the bounds each), so that the store gets them together and can read
// them in batches.

/** How many message reads one command keeps in flight at most. */
export const READ_AHEAD = 256;
/** How many bytes of messages one command reads ahead at most (one message always). */
export const READ_AHEAD_BYTES = 4 * 1024 * 1024;

/**
 * Thrown by a view of a message whose body has not been read yet, when what
 * is being worked out needs it: the caller reads the body and asks again.
 * One shared value: thrown per message, it must cost no stack trace.
 */
export const BODY_NEEDED: unique symbol = Symbol('body needed');

export function bodyNeeded(): never {
  // eslint-disable-next-line @typescript-eslint/only-throw-error
  throw BODY_NEEDED;
}

export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

/**
 * fn over items, the results yielded in the items' order a chunk at a time
 * (a chunk: up to half of `width` items and of `maxBytes` of their `size`,
 * but always one), with at most two chunks in flight: the next one's reads
 * run while the caller works through the last. A chunk's reads start
 * together, so the store gets them in one go and can batch them. Per chunk,
 * not per item, so a SEARCH over many small messages pays one await per
 * chunk. Every read is settled (none left unhandled when the caller stops).
 */
export async function* inOrderChunks<T, R>(
  items: readonly T[],
  fn: (item: T) => Promise<R>,
  size: (item: T) => number = () => 0,
  width = READ_AHEAD,
  maxBytes = READ_AHEAD_BYTES,
): AsyncGenerator<Array<Settled<R>>> {
  const perChunk = Math.max(1, Math.floor(width / 2));
  let next = 0;
  const start = (): Promise<Array<Settled<R>>> | undefined => {
    if (next >= items.length) return undefined;
    const reads: Array<Promise<Settled<R>>> = [];
    let bytes = 0;
    while (next < items.length && reads.length < perChunk) {
      const b = size(items[next]!);
      if (reads.length > 0 && bytes + b > maxBytes / 2) break;
      bytes += b;
      reads.push(fn(items[next++]!).then((value): Settled<R> => ({ ok: true, value }), (error: unknown): Settled<R> => ({ ok: false, error })));
    }
    return Promise.all(reads);
  };
  let current = start();
  while (current !== undefined) {
    const following = start();
    yield await current;
    current = following;
  }
}

/**
 * inOrderChunks one result at a time: a failure is thrown when its turn
 * comes, after the results before it.
 */
export async function* inOrder<T, R>(
  items: readonly T[],
  fn: (item: T) => Promise<R>,
  size: (item: T) => number = () => 0,
  width = READ_AHEAD,
  maxBytes = READ_AHEAD_BYTES,
): AsyncGenerator<R> {
  for await (const chunk of inOrderChunks(items, fn, size, width, maxBytes)) {
    for (const settled of chunk) {
      if (!settled.ok) throw settled.error;
      yield settled.value;
    }
  }
}
