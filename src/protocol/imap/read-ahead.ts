// Message bodies are read asynchronously (the event loop never waits on the
// disk). A command that needs many of them (FETCH BODY[], SEARCH BODY) keeps
// a few reads in flight and uses the results in the messages' order, so the
// responses come out as they would one by one.

/** How many message reads one command keeps in flight. */
export const READ_AHEAD = 8;

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
 * fn over items with at most `width` running at once, results yielded in the
 * items' order. A failure is thrown when its turn comes; the reads started
 * after it finish on their own (each is settled, so none is left unhandled).
 */
export async function* inOrder<T, R>(items: readonly T[], width: number, fn: (item: T) => Promise<R>): AsyncGenerator<R> {
  type Settled = { ok: true; value: R } | { ok: false; error: unknown };
  const running: Array<Promise<Settled>> = [];
  let next = 0;
  const start = () => {
    const item = items[next++]!;
    running.push(fn(item).then((value): Settled => ({ ok: true, value }), (error: unknown): Settled => ({ ok: false, error })));
  };
  while (next < items.length && running.length < width) start();
  while (running.length > 0) {
    const settled = await running.shift()!;
    if (next < items.length) start();
    if (!settled.ok) throw settled.error;
    yield settled.value;
  }
}
