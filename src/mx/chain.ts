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

  /** The hooks of one stage in their order; the first refusal is the answer. */
  async run<S extends Stage>(stage: S, ctx: StageContexts[S]): Promise<Accepted | Exclude<Verdict, Accept>> {
    const accepted: Accepted = { kind: 'accept', headers: [], junk: false };
    let current = ctx;
    for (const hook of this.byStage.get(stage) ?? []) {
      const verdict = await this.runOne(hook as HookOf<S>, current);
      if (verdict.kind !== 'accept') {
        this.onRefusal?.(stage, hook.name);
        return verdict;
      }
      if (verdict.headers) accepted.headers.push(...verdict.headers);
      if (verdict.junk) accepted.junk = true;
      if (verdict.message && 'message' in current) {
        accepted.message = verdict.message;
        current = { ...current, message: verdict.message };
      }
      if (verdict.headers?.length && 'message' in current) current = { ...current, added: [...accepted.headers] };
    }
    return accepted;
  }

  /** One hook's verdict, or LOCAL_PROBLEM when it throws, rejects, answers nonsense or runs out of time. */
  private runOne<S extends Stage>(hook: HookOf<S>, ctx: StageContexts[S]): Promise<Verdict> {
    // One promise and one timer per hook (no race of two promises): this runs for every recipient and message.
    return new Promise<Verdict>((resolve) => {
      let settled = false;
      const settle = (verdict: Verdict | undefined, err?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (verdict) return resolve(verdict);
        this.log.error({ event: 'hook-failed', hook: hook.name, stage: hook.stage, session: ctx.session.id, ip: ctx.session.remoteAddress, err });
        resolve(LOCAL_PROBLEM);
      };
      const timer = setTimeout(() => settle(undefined, `no verdict within ${hook.timeoutMs} ms`), hook.timeoutMs);
      let answer: Promise<Verdict>;
      try {
        answer = hook.run(ctx);
      } catch (err) {
        // A hook that throws before returning its promise fails the same way as one that rejects.
        return settle(undefined, message(err));
      }
      Promise.resolve(answer).then(
        (v: unknown) => (isVerdict(v) ? settle(v) : settle(undefined, 'not a verdict')),
        (err: unknown) => settle(undefined, message(err)),
      );
    });
  }
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

function isVerdict(v: unknown): v is Verdict {
  const kind = (v as { kind?: unknown } | null)?.kind;
  if (kind === 'accept') return true;
  if (kind !== 'reject' && kind !== 'tempfail' && kind !== 'disconnect') return false;
  const r = v as { code?: unknown; enhanced?: unknown; text?: unknown };
  return typeof r.code === 'number' && r.code >= 400 && r.code < 600 && typeof r.enhanced === 'string' && typeof r.text === 'string';
}
