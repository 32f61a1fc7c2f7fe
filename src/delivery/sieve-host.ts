// The Sieve side of a delivery: the host that answers the engine's questions
// for one account (mailbox exists? duplicate seen? the text of an included
// script?) and the run of the global and personal scripts in turn. The host
// may answer with promises (evaluateAsync waits for them), so a storage
// backend whose reads are asynchronous can stand behind it unchanged.
// Fail-safe: a script that cannot be read, compiled or run leaves the
// implicit keep in force; it is logged, never fatal.
import type { Storage } from '../../storage/ports.js';
import type { AccountRecord } from '../../storage/ports.js';
import { evaluateAsync, formatSieveError, type Answer, type AsyncSieveHost, type SieveAction, type SieveMessage } from '../../sieve/index.js';
import type { Logger } from '../log.js';
import { finishScriptActions, mergeScriptActions } from './plan.js';
import { deliveryScripts } from './compiled-scripts.js';

/** What the host needs from the delivery configuration. */
export interface SieveHostConfig {
  hostname: string;
  /** Global scripts run before and after the user's (texts, already read). */
  sieveBefore?: string[];
  sieveAfter?: string[];
  /** Global scripts for include :global, by name. */
  globalScript?: (name: string) => string | undefined;
  /** Where spamtest and virustest read their scores; null when no scanner of ours writes them (the tests answer "0"). */
  spamScoreHeader?: { header: string; max: number } | null;
  virusScoreHeader?: { header: string; max: number } | null;
}

/** The SMTP client, for the environment extension. */
export interface SieveRemote {
  remoteIp?: string;
  remoteHost?: string;
}

/**
 * Answers are passed on as storage gives them: a value when it answers at
 * once (the engine then runs in one round), a promise when it cannot.
 * Made per delivery, so one literal of one shape, and the environment items
 * (fixed for a configuration and a client) are made once, not per message.
 */
export function deliverySieveHost(storage: Storage, config: SieveHostConfig, remote: SieveRemote, accountId: number, now: () => Date): AsyncSieveHost {
  const host: AsyncSieveHost & Record<'spamtest' | 'virustest', unknown> = {
    now,
    mailboxExists: (name) => storage.mail.hasMailbox(accountId, name),
    duplicate: (id, o) => storage.memory.checkDuplicate(accountId, o.handle, id, o.seconds * 1000, o.last),
    includeScript: (name, location) => {
      if (location === 'global') return config.globalScript?.(name);
      // An unreadable script is a missing one (include fails, or is skipped when :optional).
      return orElse(() => andThen(storage.scripts.exists(accountId, name), (has) => (has ? storage.scripts.get(accountId, name) : undefined)), undefined);
    },
    environment: environmentOf(config, remote),
    // Absent and undefined read alike (the engine copies both into its round host).
    spamtest: config.spamScoreHeader,
    virustest: config.virusScoreHeader,
  };
  return host;
}

type Environment = Readonly<Record<string, string>>;

/** Environments made, per configuration, by client ("ip\0host"): a handful of clients send most mail. */
const environments = new WeakMap<SieveHostConfig, Map<string, Environment>>();
const ENVIRONMENTS_PER_CONFIG = 256;

/** The environment extension's items (RFC 5183) for a delivery from `remote`. */
function environmentOf(config: SieveHostConfig, remote: SieveRemote): Environment {
  let made = environments.get(config);
  if (!made) environments.set(config, (made = new Map()));
  const key = `${remote.remoteIp ?? ''}\0${remote.remoteHost ?? ''}`;
  let env = made.get(key);
  if (!env) {
    env = Object.freeze({
      domain: config.hostname.split('.').slice(1).join('.') || config.hostname,
      host: config.hostname,
      name: 'Postino',
      version: '0.1.0',
      phase: 'during',
      location: 'MDA',
      ...(remote.remoteHost ? { 'remote-host': remote.remoteHost } : {}),
      ...(remote.remoteIp ? { 'remote-ip': remote.remoteIp } : {}),
    });
    if (made.size >= ENVIRONMENTS_PER_CONFIG) made.clear();
    made.set(key, env);
  }
  return env;
}

function isPromiseLike<T>(a: Answer<T>): a is PromiseLike<T> {
  return typeof a === 'object' && a !== null && typeof (a as PromiseLike<T>).then === 'function';
}

/** f(answer), synchronously when the answer is a value. */
function andThen<T, U>(a: Answer<T>, f: (v: T) => Answer<U>): Answer<U> {
  return isPromiseLike(a) ? Promise.resolve(a).then(f) : f(a);
}

/** The answer, or `fallback` when getting it throws or rejects. */
function orElse<T>(get: () => Answer<T>, fallback: T): Answer<T> {
  try {
    const a = get();
    return isPromiseLike(a) ? Promise.resolve(a).catch(() => fallback) : a;
  } catch {
    return fallback;
  }
}

export interface ScriptRun {
  storage: Storage;
  config: SieveHostConfig;
  log: Logger;
  account: AccountRecord;
  /** The message view, built only when a script is to run. */
  message: () => SieveMessage;
  envelope: { from: string; to: string };
  host: AsyncSieveHost;
}

/** The actions of the global-before, personal and global-after scripts; just the implicit keep when there are none. */
export async function runDeliveryScripts(run: ScriptRun): Promise<SieveAction[]> {
  const { config, log, account } = run;
  const texts: Array<{ name: string; text: string }> = [];
  for (const [i, t] of (config.sieveBefore ?? []).entries()) texts.push({ name: `before-${i}`, text: t });
  try {
    const userScript = await run.storage.scripts.active(account.id);
    if (userScript) texts.push(userScript);
  } catch (err) {
    log.error({ event: 'sieve-unreadable', account: account.address, err: (err as Error).message });
  }
  for (const [i, t] of (config.sieveAfter ?? []).entries()) texts.push({ name: `after-${i}`, text: t });
  if (texts.length === 0) return [{ type: 'keep', implicit: true }];

  const message = run.message();
  let merged: ReturnType<typeof mergeScriptActions> = { actions: [], more: true, keep: [] };
  for (const { name, text } of texts) {
    const compiled = deliveryScripts.compile(text);
    if (!compiled.ok) {
      log.error({ event: 'sieve-invalid', account: account.address, script: name, errors: compiled.errors.map(formatSieveError) });
      continue;
    }
    let actions: SieveAction[];
    try {
      const r = await evaluateAsync(compiled.program, message, run.envelope, run.host);
      if (r.errors && r.errors.length > 0) {
        log.error({ event: 'sieve-runtime-error', account: account.address, script: name, errors: r.errors.map(formatSieveError) });
      }
      actions = r.actions;
    } catch (err) {
      log.error({ event: 'sieve-crash', account: account.address, script: name, err: (err as Error).message });
      actions = [{ type: 'keep', implicit: true }];
    }
    merged = mergeScriptActions(merged.actions, actions);
    // The message's fate is decided once a script ends with no keep in force.
    if (!merged.more) break;
  }
  return finishScriptActions(merged);
}
