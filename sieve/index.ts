// Postino's Sieve engine (RFC 5228 and extensions): pure, no I/O.
//
//   const r = compile(text);                 // parse + validate + lower, cached by text
//   if (!r.ok) show(r.errors);               // [{line, col, message}]
//   const { actions, errors } = evaluate(r.program, message, envelope, host);
//   const same = await evaluateAsync(r.program, message, envelope, asyncHost);
//
// evaluateAsync takes a host whose mailboxexists, duplicate and include
// answers may be promises (runtime/questions.ts says how); with a host that
// answers at once it is evaluate plus one await.
//
// `actions` is the ordered action list; the implicit keep, when in force, is
// the last entry ({type:'keep', implicit:true}). If evaluation fails (script
// run-time error or a safety limit), `errors` says why and `actions` is just
// the implicit keep, so the host never loses the message.
import { parseScript } from './compile/parse.js';
import { compileScript, type CompiledScript } from './compile/compiler.js';
import { SieveCompileError, formatSieveError, type SieveError } from './compile/errors.js';
import { defaultLimits, type SieveLimits } from './limits.js';
import { Runtime, SieveRuntimeError } from './runtime/runtime.js';
import { ActionConflictError, type SieveAction } from './runtime/actions.js';
import type { IncludeLocation, SieveHost } from './runtime/host.js';
import type { SieveEnvelope, SieveMessage } from './message.js';
import { AnswerBook, QuestionPending, roundHost, type AsyncSieveHost } from './runtime/questions.js';
import { knownCapabilityNames } from './commands/capabilities.js';

export type { SieveAction, VacationAction, NotifyAction } from './runtime/actions.js';
export type { SieveHost, IncludeLocation } from './runtime/host.js';
export type { AsyncSieveHost, Answer } from './runtime/questions.js';
export type { SieveMessage, SieveEnvelope, SieveHeaderField, SieveBodyPart, SieveMessageBody } from './message.js';
export type { SieveError } from './compile/errors.js';
export type { SieveLimits } from './limits.js';
export { defaultLimits, formatSieveError };
export { decodeHeaderValue } from './runtime/rfc2047.js';
export { sieveMessage } from './mime-view.js';

/** A compiled script: opaque, immutable, safe to share between evaluations. */
export interface SieveProgram {
  /** Capabilities the script requires. */
  readonly requires: readonly string[];
  /** @internal */
  readonly compiled: CompiledScript;
  /** @internal */
  readonly limits: SieveLimits;
}

export interface CompileOptions {
  limits?: Partial<SieveLimits>;
  /** False: neither look in nor fill the engine's cache (a caller with its own cache). */
  cache?: boolean;
}

export type CompileResult = { ok: true; program: SieveProgram } | { ok: false; errors: SieveError[] };

export interface EvaluateResult {
  actions: SieveAction[];
  errors?: SieveError[];
}

/** The capabilities this engine implements (ManageSieve SIEVE line). */
export const capabilities: readonly string[] = [...knownCapabilityNames];

// Bounded in entries and in text bytes (a program's size follows its text's),
// least recently used first out: a stream of large distinct scripts (CHECKSCRIPT)
// cannot make the cache hold much memory.
const CACHE_MAX = 512;
const CACHE_MAX_CHARS = 2 * 1024 * 1024;
const cache = new Map<string, CompileResult>();
let cacheChars = 0;

function cacheGet(key: string): CompileResult | undefined {
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
  }
  return hit;
}

function cachePut(key: string, result: CompileResult): void {
  if (key.length > CACHE_MAX_CHARS / 4) return;
  cache.set(key, result);
  cacheChars += key.length;
  while (cache.size > CACHE_MAX || cacheChars > CACHE_MAX_CHARS) {
    const oldest = cache.keys().next().value as string;
    cache.delete(oldest);
    cacheChars -= oldest.length;
  }
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdbff ? (i++, 4) : 3;
  }
  return n;
}

/** Parses, validates and lowers a script. Results are cached by text (and limits). */
export function compile(text: string, options: CompileOptions = {}): CompileResult {
  const limits: SieveLimits = { ...defaultLimits, ...options.limits };
  const key = options.limits ? `${JSON.stringify(options.limits)}\0${text}` : text;
  if (options.cache === false) return compileUncached(text, limits);
  const hit = cacheGet(key);
  if (hit) return hit;
  const result = compileUncached(text, limits);
  cachePut(key, result);
  return result;
}

function compileUncached(text: string, limits: SieveLimits): CompileResult {
  if (utf8Length(text) > limits.maxScriptSize)
    return { ok: false, errors: [{ line: 1, col: 1, message: `script is too large (limit ${limits.maxScriptSize} bytes)` }] };
  try {
    const ast = parseScript(text);
    const compiled = compileScript(ast, limits, text);
    return { ok: true, program: { requires: compiled.requires, compiled, limits } };
  } catch (e) {
    if (e instanceof SieveCompileError) return { ok: false, errors: [e.toSieveError()] };
    if (e instanceof RangeError) return { ok: false, errors: [{ line: 1, col: 1, message: 'script is too deeply nested to parse' }] };
    throw e;
  }
}

/** Runs a compiled script against one message for one recipient. */
export function evaluate(program: SieveProgram, message: SieveMessage, envelope: SieveEnvelope, host: SieveHost = {}): EvaluateResult {
  const rt = new Runtime(message, envelope, host, program.limits);
  rt.loadInclude = (name: string, location: IncludeLocation) => {
    const text = host.includeScript?.(name, location);
    if (text === undefined) return undefined;
    const r = compile(text, { limits: program.limits });
    if (!r.ok) return { error: r.errors.map(formatSieveError).join('; ') };
    return { run: r.program.compiled.run };
  };
  try {
    program.compiled.run(rt);
    return { actions: rt.actions.finish(rt.flags) };
  } catch (e) {
    if (e instanceof QuestionPending) throw e; // evaluateAsync's round ends here
    let err: SieveError;
    if (e instanceof SieveRuntimeError) err = { line: e.line ?? 0, col: e.col ?? 0, message: e.message };
    else if (e instanceof ActionConflictError) err = { line: 0, col: 0, message: e.message };
    else if (e instanceof RangeError) err = { line: 0, col: 0, message: `evaluation failed: ${e.message}` };
    // Anything else is a bug in the engine; still, the message must be kept.
    else err = { line: 0, col: 0, message: `internal error in the Sieve engine: ${(e as Error)?.message ?? String(e)}` };
    return { actions: [{ type: 'keep', implicit: true }], errors: [err] };
  }
}

/**
 * evaluate() against a host that may answer later: rounds until one needs no
 * new answer (see runtime/questions.ts). Never rejects: a host error or too
 * many rounds is an evaluation error, and the result is the implicit keep.
 */
export function evaluateAsync(program: SieveProgram, message: SieveMessage, envelope: SieveEnvelope, host: AsyncSieveHost = {}): Promise<EvaluateResult> {
  const book = new AnswerBook();
  const sync = roundHost(host, book, host.now?.());
  // The first round runs at once: with a host that answers at once it is the only one.
  const first = runRound(program, message, envelope, sync, book);
  return first ? Promise.resolve(first) : moreRounds(program, message, envelope, sync, book);
}

/** One round: the result, or undefined when it waits for answers. */
function runRound(program: SieveProgram, message: SieveMessage, envelope: SieveEnvelope, host: SieveHost, book: AnswerBook): EvaluateResult | undefined {
  book.startRound();
  let result: EvaluateResult | undefined;
  try {
    result = evaluate(program, message, envelope, host);
  } catch (e) {
    if (!(e instanceof QuestionPending)) throw e;
  }
  return book.waiting.length === 0 ? result : undefined;
}

async function moreRounds(program: SieveProgram, message: SieveMessage, envelope: SieveEnvelope, host: SieveHost, book: AnswerBook): Promise<EvaluateResult> {
  for (let round = 1; round < program.limits.maxHostRounds; round++) {
    await Promise.all(book.waiting);
    const result = runRound(program, message, envelope, host, book);
    if (result) return result;
  }
  const why = `the host was asked questions in more than ${program.limits.maxHostRounds} rounds`;
  return { actions: [{ type: 'keep', implicit: true }], errors: [{ line: 0, col: 0, message: why }] };
}
