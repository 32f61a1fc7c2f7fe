// Message bodies are read asynchronously (the event loop never waits on the
// disk). A command that needs many of them (FETCH BODY[], SEARCH BODY) keeps
// several reads in flight and uses the results in the messages' order, so the
// responses come out as they would one by one. Reads are started by halves,
// so that the store gets them together and can read them in batches.

/** How many message reads one command keeps in flight at most. */
export const READ_AHEAD = 64;
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

/**
 * fn over items, results yielded in the items' order, with at most `width`
 * items (and `maxBytes` of their `size`, but always one) in flight; once
 * half of that is used, the next ones start together. A failure is thrown
 * when its turn comes; the reads started after it finish on their own (each
 * is settled, so none is left unhandled).
 */
export async function* inOrder<T, R>(
  items: readonly T[],
  fn: (item: T) => Promise<R>,
  size: (item: T) => number = () => 0,
  width = READ_AHEAD,
  maxBytes = READ_AHEAD_BYTES,
): AsyncGenerator<R> {
  type Settled = { ok: true; value: R } | { ok: false; error: unknown };
  const running: Array<{ bytes: number; done: Promise<Settled> }> = [];
  let bytes = 0;
  let next = 0;
  const fill = () => {
    while (next < items.length && running.length < width) {
      const item = items[next]!;
      const b = size(item);
      if (running.length > 0 && bytes + b > maxBytes) break;
      next++;
      bytes += b;
      const done = fn(item).then((value): Settled => ({ ok: true, value }), (error: unknown): Settled => ({ ok: false, error }));
      running.push({ bytes: b, done });
    }
  };
  fill();
  while (running.length > 0) {
    const head = running.shift()!;
    const settled = await head.done;
    bytes -= head.bytes;
    if (running.length <= width / 2 && bytes <= maxBytes / 2) fill();
    if (!settled.ok) throw settled.error;
    yield settled.value;
  }
}
