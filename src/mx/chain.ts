// The policy chain of an endpoint: an ordered list of hooks, each deciding at
// one stage of the SMTP dialogue (Haraka's hooks, maddy's checks). The first
// refusal wins. A hook that throws, or gives no verdict within its time,
// yields a temporary failure: never an accept, never a crash.
import type { Logger } from '../log.js';
import { LOCAL_PROBLEM } from './smtp-reply.js';
import type { Accept, Verdict } from './verdict.js';
import type { ParsedMessage } from '../../mime/index.js';

/** What every stage knows about the session. */
export interface SessionInfo {
  /** smtp-server's session id, for the log. */
  id: string;
  remoteAddress: string;
  /** The name the client gave in HELO/EHLO/LHLO ('' before it). */
  helo: string;
  /** A user who authenticated (submission, later); undefined on MX and LMTP. */
  user?: string;
}

export interface ConnectContext {
  session: SessionInfo;
}

export interface MailContext {
  session: SessionInfo;
  /** The reverse path ('' for the null sender). */
  from: string;
}

export interface RcptContext {
  session: SessionInfo;
  from: string;
  recipient: string;
  /** Recipients already accepted in this transaction (for per-message limits); absent where not known. */
  accepted?: readonly string[];
}

export interface DataContext {
  session: SessionInfo;
  from: string;
  recipients: readonly string[];
  /** The message as received (parsed once at the end of DATA), or as the hooks before this one left it. */
  message: ParsedMessage;
  /** Header fields the hooks before this one added (e.g. our Authentication-Results, for spam rules). */
  added?: readonly string[];
}

export interface StageContexts {
  connect: ConnectContext;
  mail: MailContext;
  rcpt: RcptContext;
  data: DataContext;
}

export type Stage = keyof StageContexts;

export interface HookOf<S extends Stage> {
  name: string;
  stage: S;
  /** Time allowed for one verdict; past it the stage fails temporarily. */
  timeoutMs: number;
  run(ctx: StageContexts[S]): Promise<Verdict>;
}

export type Hook = { [S in Stage]: HookOf<S> }[Stage];

/** What a stage's accepting hooks handed on, merged in order. */
export interface Accepted extends Accept {
  headers: string[];
  junk: boolean;
}

/** A stage being run: when its current hook's time is up, and what to do then. */
interface Running {
  deadline: number;
  expire(): void;
}

export class HookChain {
  /** Each stage's hooks, in order (looked up once, not per message). */
  private readonly byStage = new Map<Stage, Hook[]>();
  /**
   * The stages running now, watched by one timer set for the earliest
   * deadline (not a timer per stage: a stage runs for every connection,
   * sender, recipient and message, and nearly always answers at once).
   */
  private readonly running = new Set<Running>();
  private watchdog: ReturnType<typeof setTimeout> | undefined;
  /** When the watchdog fires (Date.now() time). */
  private watchdogAt = Infinity;

  constructor(
    hooks: readonly Hook[],
    private readonly log: Logger,
    /** Told which hook refused at which stage (metrics). */
    private readonly onRefusal?: (stage: Stage, hook: string) => void,
  ) {
    for (const hook of hooks) {
      const list = this.byStage.get(hook.stage) ?? [];
      list.push(hook);
      this.byStage.set(hook.stage, list);
    }
  }

  /** Watches a running stage from now on (again after its deadline moved). */
  private watch(r: Running): void {
    this.running.add(r);
    if (this.watchdog !== undefined && r.deadline >= this.watchdogAt) {
      this.watchdog.ref();
      return;
    }
    clearTimeout(this.watchdog);
    this.watchdogAt = r.deadline;
    this.watchdog = setTimeout(this.onWatchdog, Math.max(0, r.deadline - Date.now()));
  }

  private unwatch(r: Running): void {
    this.running.delete(r);
    // An idle chain keeps its timer (it is cheaper than making one per stage) but never holds the process.
    if (this.running.size === 0) this.watchdog?.unref();
  }

  private readonly onWatchdog = (): void => {
    this.watchdog = undefined;
    this.watchdogAt = Infinity;
    const now = Date.now();
    for (const r of [...this.running]) if (r.deadline <= now) r.expire();
    let next = Infinity;
    for (const r of this.running) next = Math.min(next, r.deadline);
    clearTimeout(this.watchdog); // in case a stage was started from within expire()
    if (next === Infinity) {
      this.watchdog = undefined;
      return;
    }
    this.watchdogAt = next;
    this.watchdog = setTimeout(this.onWatchdog, Math.max(1, next - now));
  };

  /**
   * The hooks of one stage in their order; the first refusal is the answer.
   * A hook that throws, rejects, answers nonsense or runs out of time gives
   * LOCAL_PROBLEM. This runs for every connection, sender, recipient and
   * message: one promise for the whole stage, not one per hook, and the
   * chain's one watchdog timer for the time bound of each hook.
   */
  run<S extends Stage>(stage: S, ctx: StageContexts[S]): Promise<Accepted | Exclude<Verdict, Accept>> {
    const hooks = (this.byStage.get(stage) ?? NO_HOOKS) as readonly HookOf<S>[];
    const accepted: Accepted = { kind: 'accept', headers: [], junk: false };
    if (hooks.length === 0) return Promise.resolve(accepted);
    return new Promise((resolve) => {
      let current = ctx;
      let at = -1; // the hook running now
      let done = false;
      const finish = (answer: Accepted | Exclude<Verdict, Accept>): void => {
        done = true;
        this.unwatch(watched);
        resolve(answer);
      };
      const refuse = (verdict: Exclude<Verdict, Accept>): void => {
        this.onRefusal?.(stage, hooks[at]!.name);
        finish(verdict);
      };
      const fail = (err: string): void => {
        const hook = hooks[at]!;
        this.log.error({ event: 'hook-failed', hook: hook.name, stage: hook.stage, session: ctx.session.id, ip: ctx.session.remoteAddress, err });
        refuse(LOCAL_PROBLEM);
      };
      const watched: Running = {
        deadline: Infinity,
        expire: () => {
          if (!done) fail(`no verdict within ${hooks[at]!.timeoutMs} ms`);
        },
      };
      const next = (): void => {
        at++;
        if (at === hooks.length) return finish(accepted);
        const hook = hooks[at]!;
        watched.deadline = Date.now() + hook.timeoutMs; // this hook's full time, from now
        this.watch(watched);
        const mine = at;
        let answer: Promise<Verdict>;
        try {
          answer = hook.run(current);
        } catch (err) {
          // A hook that throws before returning its promise fails the same way as one that rejects.
          return fail(message(err));
        }
        Promise.resolve(answer).then(
          (v: unknown) => {
            if (done || mine !== at) return; // too late: the stage has its answer
            if (!isVerdict(v)) return fail('not a verdict');
            if (v.kind !== 'accept') return refuse(v);
            if (v.headers) accepted.headers.push(...v.headers);
            if (v.junk) accepted.junk = true;
            if (v.message && 'message' in current) {
              accepted.message = v.message;
              current = { ...current, message: v.message };
            }
            if (v.headers?.length && 'message' in current) current = { ...current, added: [...accepted.headers] };
            next();
          },
          (err: unknown) => {
            if (!done && mine === at) fail(message(err));
          },
        );
      };
      next();
    });
  }
}

const NO_HOOKS: readonly Hook[] = [];

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

function isVerdict(v: unknown): v is Verdict {
  const kind = (v as { kind?: unknown } | null)?.kind;
  if (kind === 'accept') return true;
  if (kind !== 'reject' && kind !== 'tempfail' && kind !== 'disconnect') return false;
  const r = v as { code?: unknown; enhanced?: unknown; text?: unknown };
  return typeof r.code === 'number' && r.code >= 400 && r.code < 600 && typeof r.enhanced === 'string' && typeof r.text === 'string';
}
