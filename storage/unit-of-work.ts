// Units of work over synchronous backends (SQLite through better-sqlite3,
// and the in-memory one), and the asynchronous ports in front of them.
//
// Why a gate: better-sqlite3 is synchronous and the process shares one
// connection, so while a unit of work is open across awaits (BEGIN ...
// COMMIT), any other caller's SQL would run inside it: its writes would
// land or vanish with the unit, and its reads would see what the unit has
// not committed. So a unit holds the gate from its start to its end; every
// port call from outside (reads too, and the append batcher's group commit)
// waits while the gate is held, and calls through the unit's own ports (tx)
// run directly. Units run one at a time. When no unit is open, a port call
// costs one check and the promise it returns: no timer, no extra turn.
import { AsyncLocalStorage } from 'node:async_hooks';
import type {
  ChangeFeed,
  DeliveryMemory,
  Directory,
  MailPort,
  MetadataStore,
  QueueEntry,
  QueueStore,
  ScriptStore,
  AdminStore,
  Storage,
  StoragePorts,
  UnitOfWork,
} from './ports.js';

/** A port implemented synchronously (or partly): each method may return its value or a promise of it. */
export type Either<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => R | Promise<R> : T[K];
};

export class UnitGate {
  /** Settles when the unit holding the gate ends; undefined while none does. */
  private held: Promise<void> | undefined;
  /** The unit holding the gate, and the one a call is made from: a call from inside the holder's body would wait for itself. */
  private holder: object | undefined;
  private readonly inside = new AsyncLocalStorage<object>();

  get isHeld(): boolean {
    return this.held !== undefined;
  }

  /** Settles when the unit holding the gate ends (undefined when none does); check again then. */
  get unitEnd(): Promise<void> | undefined {
    return this.held;
  }

  /** Runs fn now when the gate is free, else as soon as it is (checked again each time a unit ends). */
  async whenFree<T>(fn: () => T): Promise<Awaited<T>> {
    if (this.held && this.inside.getStore() === this.holder) {
      throw new Error('a storage call from inside a unit of work must go through its own ports (tx), not the storage ones');
    }
    while (this.held) await this.held;
    return await fn();
  }

  /**
   * For a port method that awaits (file I/O) before its synchronous index
   * change: runs fn at once when the caller is inside the unit holding the
   * gate (the change is part of it) or no unit holds it, else once none
   * does. fn runs in the same turn as the check, so no unit can start in
   * between and take the change in.
   */
  async inTurn<T>(fn: () => T): Promise<T> {
    while (this.held && this.inside.getStore() !== this.holder) await this.held;
    return fn();
  }

  /** Runs a unit of work holding the gate; units wait for each other. */
  async hold<T>(unit: () => Promise<T>): Promise<T> {
    if (this.held && this.inside.getStore() === this.holder) {
      throw new Error('a unit of work inside another must be opened through tx.transaction');
    }
    while (this.held) await this.held;
    let release!: () => void;
    this.held = new Promise((resolve) => (release = resolve));
    const holder = {};
    this.holder = holder;
    try {
      return await this.inside.run(holder, unit);
    } finally {
      this.held = undefined;
      this.holder = undefined;
      // Off between units: an enabled AsyncLocalStorage costs every promise of the process a hook.
      this.inside.disable();
      release();
    }
  }
}

// ---- change notices held until the unit commits ------------------------------
//
// A change a unit of work makes is told (the change feed) only once the
// outermost unit has committed, and never when it rolls back: a session
// must not wake for, or see, a change that did not happen. Each unit keeps
// the notices its body gave, found through the async context of the call
// (the port calls of a body run in it); a nested unit hands its notices to
// the enclosing one when it ends well and drops them when it throws.

class HeldNotices {
  readonly tells: Array<() => void> = [];
  /** False once the unit has ended: a late notice (a timer started inside) is told at once. */
  open = true;
}

const heldNotices = new AsyncLocalStorage<HeldNotices>();

/**
 * Runs `tell` (publishing a committed change) now, or, when called from
 * inside a unit of work, after the outermost unit commits; never when the
 * unit (or the nested one it is called from) rolls back.
 */
export function afterCommit(tell: () => void): void {
  const held = heldNotices.getStore();
  if (held?.open) held.tells.push(tell);
  else tell();
}

/**
 * afterCommit bound to the caller's unit now, for a notice told later from
 * another context (after an fsync in a writer thread): held for that unit's
 * commit while it is open, told at once otherwise.
 */
export function commitTeller(): (tell: () => void) => void {
  const held = heldNotices.getStore();
  return (tell) => {
    if (held?.open) held.tells.push(tell);
    else tell();
  };
}

/** Runs one unit (`run`: the backend's all-or-nothing) holding back the notices its body gives. */
async function holdingNotices<T>(run: () => Promise<T>): Promise<T> {
  const outer = heldNotices.getStore();
  const enclosing = outer?.open ? outer : undefined;
  const held = new HeldNotices();
  let result: T;
  try {
    result = await heldNotices.run(held, run);
  } catch (err) {
    held.open = false;
    held.tells.length = 0;
    if (!enclosing) heldNotices.disable(); // off between units, as the gate's (see UnitGate.hold)
    throw err;
  }
  held.open = false;
  if (enclosing) {
    enclosing.tells.push(...held.tells);
    return result;
  }
  heldNotices.disable();
  for (const tell of held.tells) {
    try {
      tell();
    } catch {
      // a notice that fails must not undo a committed unit, nor stop the others
    }
  }
  return result;
}

type AnyFunction = (...args: unknown[]) => unknown;

/** The methods of an object and of its prototypes (a class instance's or a plain object's). */
function methodNames(target: object): string[] {
  const names = new Set<string>();
  for (let o: object | null = target; o && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
    for (const name of Object.getOwnPropertyNames(o)) {
      if (name === 'constructor') continue;
      const d = Object.getOwnPropertyDescriptor(o, name);
      if (d && typeof d.value === 'function') names.add(name);
    }
  }
  return [...names];
}

function settle(fn: AnyFunction, self: object, args: unknown[]): Promise<unknown> {
  try {
    return Promise.resolve(fn.apply(self, args));
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * The port P over a synchronous implementation: every method returns a
 * promise. With a gate, calls wait while a unit of work holds it (the
 * storage's own ports); with `live` (a unit's ports), calls run directly
 * and fail once the unit has ended. `refused` methods fail at once.
 */
export function asyncPort<P>(
  /** Checked against Either<P> where it is declared (its `implements` clause). */
  target: object,
  access: { gate: UnitGate } | { live: () => boolean },
  refused: Record<string, string> = {},
): P {
  const port: Record<string, unknown> = {};
  for (const name of methodNames(target)) {
    const fn = (target as unknown as Record<string, AnyFunction>)[name]!;
    if (refused[name] !== undefined) {
      const why = refused[name];
      port[name] = () => Promise.reject(new Error(why));
    } else if ('gate' in access) {
      const { gate } = access;
      port[name] = (...args: unknown[]) => (gate.isHeld ? gate.whenFree(() => settle(fn, target, args)) : settle(fn, target, args));
    } else {
      const { live } = access;
      port[name] = (...args: unknown[]) => (live() ? settle(fn, target, args) : Promise.reject(new Error('this unit of work has ended')));
    }
  }
  return port as P;
}

/** The synchronous implementations a backend puts its ports in front of. */
export interface PortTargets {
  directory: object;
  mail: { feed: ChangeFeed; metadata: object };
  scripts: object;
  queue: object;
  localRetry: object;
  memory: object;
  admin: object;
}

// ---- queue entries in a unit of work ------------------------------------------
// An entry enqueued inside a unit must not be sent before the unit commits,
// nor at all when it is undone: its message is written (staged) at once,
// the entry itself only after the outermost commit (published); an undone
// unit discards what it staged. A crash between the commit and the publish
// loses the entry, but the caller had no answer yet (an SMTP client retries).

/** What a queue implementation offers a unit of work besides its port (storage/queue.ts, storage/memory/queue.ts). */
interface StagingQueue {
  stage(...args: Parameters<QueueStore['enqueue']>): QueueEntry | Promise<QueueEntry>;
  publish(entries: QueueEntry[]): void | Promise<void>;
  discard(ids: string[]): void | Promise<void>;
}

/** The entries one unit staged, per queue. */
class StagedEntries {
  private readonly byQueue = new Map<StagingQueue, QueueEntry[]>();

  add(queue: StagingQueue, entry: QueueEntry): void {
    const list = this.byQueue.get(queue) ?? [];
    list.push(entry);
    this.byQueue.set(queue, list);
  }

  /** A nested unit committed: its entries are its parent's now. */
  moveTo(parent: StagedEntries): void {
    for (const [queue, entries] of this.byQueue) for (const e of entries) parent.add(queue, e);
    this.byQueue.clear();
  }

  async publish(): Promise<void> {
    for (const [queue, entries] of this.byQueue) await queue.publish(entries);
    this.byQueue.clear();
  }

  async discard(): Promise<void> {
    for (const [queue, entries] of this.byQueue) await queue.discard(entries.map((e) => e.id));
    this.byQueue.clear();
  }
}

/** A unit's queue port: enqueue stages (see above); everything else is the port's. */
function stagingQueue(port: QueueStore, target: object, staged: StagedEntries, live: () => boolean): QueueStore {
  const queue = target as StagingQueue;
  return {
    ...port,
    enqueue: async (...args) => {
      if (!live()) throw new Error('this unit of work has ended');
      const entry = await queue.stage(...args);
      staged.add(queue, entry);
      return structuredClone(entry);
    },
  };
}
// ---- end of queue entries in a unit of work ------------------------------------

/**
 * A backend's ports and its units of work over them, the same for every
 * synchronous backend: `outside` waits while a unit holds the gate;
 * `transaction` runs a body as one unit, where `runUnit` is the backend's
 * own all-or-nothing (SQLite's BEGIN..COMMIT, the memory state's snapshot).
 * Inside a unit, `refusedInUnit` methods fail at once, and a nested
 * transaction undoes only its own part.
 */
export function portsWithUnits(
  targets: PortTargets,
  gate: UnitGate,
  runUnit: <T>(body: () => Promise<T>) => Promise<T>,
  refusedInUnit: Record<string, string>,
): { outside: StoragePorts; transaction: Storage['transaction'] } {
  const portsOver = (access: { gate: UnitGate } | { live: () => boolean }, refused: Record<string, string>): StoragePorts => ({
    directory: asyncPort<Directory>(targets.directory, access),
    mail: Object.assign(asyncPort<MailPort>(targets.mail, access, refused), {
      feed: targets.mail.feed,
      metadata: asyncPort<MetadataStore>(targets.mail.metadata, access),
    }),
    scripts: asyncPort<ScriptStore>(targets.scripts, access),
    queue: asyncPort<QueueStore>(targets.queue, access),
    localRetry: asyncPort<QueueStore>(targets.localRetry, access),
    memory: asyncPort<DeliveryMemory>(targets.memory, access),
    admin: asyncPort<AdminStore>(targets.admin, access),
  });
  /** One unit: its ports live while it is open (and its enclosing units are); `parent` is the enclosing unit's staged entries. */
  const runIn = async <T>(live: () => boolean, parent: StagedEntries | undefined, body: (tx: UnitOfWork) => Promise<T>): Promise<T> => {
    let open = true;
    const staged = new StagedEntries();
    const tx = unitOfWork(() => open && live(), staged);
    let result: T;
    try {
      result = await holdingNotices(() => runUnit(() => body(tx)));
    } catch (err) {
      open = false;
      await staged.discard();
      throw err;
    }
    open = false;
    if (parent) staged.moveTo(parent);
    else await staged.publish();
    return result;
  };
  const unitOfWork = (live: () => boolean, staged: StagedEntries): UnitOfWork => {
    const ports = portsOver({ live }, refusedInUnit);
    return {
      ...ports,
      queue: stagingQueue(ports.queue, targets.queue, staged, live),
      localRetry: stagingQueue(ports.localRetry, targets.localRetry, staged, live),
      transaction: (body) => (live() ? runIn(live, staged, body) : Promise.reject(new Error('this unit of work has ended'))),
    };
  };
  return {
    outside: portsOver({ gate }, {}),
    transaction: (body) => gate.hold(() => runIn(() => true, undefined, body)),
  };
}
