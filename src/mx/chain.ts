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

export class HookChain {
  /** Each stage's hooks, in order (looked up once, not per message). */
  private readonly byStage = new Map<Stage, Hook[]>();

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

  /**
   * The hooks of one stage in their order; the first refusal is the answer.
   * A hook that throws, rejects, answers nonsense or runs out of time gives
   * LOCAL_PROBLEM. This runs for every connection, sender, recipient and
   * message: one promise and one timer for the whole stage (the timer moved
   * on from hook to hook), not one of each per hook.
   */
  run<S extends Stage>(stage: S, ctx: StageContexts[S]): Promise<Accepted | Exclude<Verdict, Accept>> {
    const hooks = (this.byStage.get(stage) ?? NO_HOOKS) as readonly HookOf<S>[];
    const accepted: Accepted = { kind: 'accept', headers: [], junk: false };
    if (hooks.length === 0) return Promise.resolve(accepted);
    return new Promise((resolve) => {
      let current = ctx;
      let at = -1; // the hook running now
      let done = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let armedMs = -1;
      const finish = (answer: Accepted | Exclude<Verdict, Accept>): void => {
        done = true;
        clearTimeout(timer);
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
      const onTimeout = (): void => {
        if (!done) fail(`no verdict within ${hooks[at]!.timeoutMs} ms`);
      };
      const next = (): void => {
        at++;
        if (at === hooks.length) return finish(accepted);
        const hook = hooks[at]!;
        if (timer === undefined || armedMs !== hook.timeoutMs) {
          clearTimeout(timer);
          timer = setTimeout(onTimeout, hook.timeoutMs);
          armedMs = hook.timeoutMs;
        } else {
          timer.refresh(); // this hook's full time, from now
        }
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
