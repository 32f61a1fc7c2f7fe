// One evaluation's state: variables, match variables, imap4flags' internal
// variable, the action list, the (possibly edited) header view and the step
// budget. Created per message; compiled programs are shared and immutable.
import type { SieveEnvelope, SieveHeaderField, SieveMessage, SieveMessageBody } from '../message.js';
import type { SieveLimits } from '../limits.js';
import type { IncludeLocation, SieveHost } from './host.js';
import { ActionConflictError, ActionList, type SieveAction } from './actions.js';
import { decodeHeaderValue, unfoldHeaderValue } from './rfc2047.js';
import type { StepBudget } from './regex.js';

/** A run-time failure (a script error such as an action conflict, or a limit). */
export class SieveRuntimeError extends Error {
  constructor(
    message: string,
    readonly line?: number,
    readonly col?: number,
  ) {
    super(message);
  }
}

const NO_VALUES: string[] = [];

export const FLOW_NEXT = 0;
export const FLOW_STOP = 1;
export const FLOW_RETURN = 2;
export type Flow = 0 | 1 | 2;

export type Exec = (rt: Runtime) => Flow;
export type TestFn = (rt: Runtime) => boolean;

export class Runtime implements StepBudget {
  vars = new Map<string, string>();
  /**
   * Match variables ${0}..${9}: set by a successful :matches/:regex, computed
   * only when read (the subject and pattern are immutable, so deferring gives
   * the same values and saves the submatch pass when nobody reads them).
   */
  private matchValues: string[] = [];
  private matchThunk: (() => string[]) | undefined;
  flags: string[] = [];
  readonly actions = new ActionList();
  /** Global variables shared with included scripts (RFC 6609 "global"). */
  readonly globals = new Map<string, string>();
  steps = 0;
  includesDone = new Set<string>();
  includeCount = 0;

  private fields: SieveHeaderField[] | undefined; // copy made on the first edit
  private decodedCache = new Map<string, string[]>();
  private rawCache = new Map<string, string[]>();
  private bodyCache: SieveMessageBody | undefined;
  private rawIndexed = false;
  private addressCache = new Map<string, { fields: string[]; parsed: string[][] }>();

  constructor(
    readonly message: SieveMessage,
    readonly envelope: SieveEnvelope,
    readonly host: SieveHost,
    readonly limits: SieveLimits,
  ) {}

  charge(n: number): void {
    this.steps += n;
    if (this.steps > this.limits.maxSteps) throw new SieveRuntimeError('run-time budget exceeded (too much work for one message)');
  }

  addAction(a: SieveAction, pos?: { line: number; col: number }): void {
    if (this.actions.list.length >= this.limits.maxActions)
      throw new SieveRuntimeError(`too many actions (limit ${this.limits.maxActions})`, pos?.line, pos?.col);
    try {
      this.actions.add(a);
    } catch (e) {
      if (e instanceof ActionConflictError) throw new SieveRuntimeError(e.message, pos?.line, pos?.col);
      throw e;
    }
    if (this.actions.redirects > this.limits.maxRedirects)
      throw new SieveRuntimeError(`too many redirects (limit ${this.limits.maxRedirects})`, pos?.line, pos?.col);
  }

  get headerFields(): readonly SieveHeaderField[] {
    return this.fields ?? this.message.headers;
  }

  /** Unfolded, trimmed values of every field named `name`, in message order. */
  rawHeader(name: string): string[] {
    const key = name.toLowerCase();
    if (!this.rawIndexed) {
      // One pass over the fields builds the index for every name.
      this.rawIndexed = true;
      for (const f of this.headerFields) {
        const k = f.name.toLowerCase();
        const list = this.rawCache.get(k);
        if (list) list.push(unfoldHeaderValue(f.value));
        else this.rawCache.set(k, [unfoldHeaderValue(f.value)]);
      }
    }
    return this.rawCache.get(key) ?? NO_VALUES;
  }

  /** The addresses in every field named `name` (address test), parsed once per evaluation. */
  addresses(name: string, fields: string[], parse: (v: string) => string[]): string[][] {
    const key = name.toLowerCase();
    let v = this.addressCache.get(key);
    if (!v || v.fields !== fields) {
      v = { fields, parsed: fields.map(parse) };
      this.addressCache.set(key, v);
    }
    return v.parsed;
  }

  /** Like rawHeader, RFC 2047 decoded (what header/date/... compare against). */
  header(name: string): string[] {
    const key = name.toLowerCase();
    let v = this.decodedCache.get(key);
    if (!v) {
      v = this.rawHeader(key).map(decodeHeaderValue);
      this.decodedCache.set(key, v);
    }
    return v;
  }

  body(): SieveMessageBody {
    this.bodyCache ??= this.message.body();
    return this.bodyCache;
  }

  /** editheader: replaces the working header list. */
  editHeaders(edit: (fields: SieveHeaderField[]) => void): void {
    this.fields ??= [...this.message.headers];
    edit(this.fields);
    this.decodedCache.clear();
    this.rawCache.clear();
    this.rawIndexed = false;
    this.addressCache.clear();
  }

  /** Names declared `global` in the running script (RFC 6609). */
  globalNames = new Set<string>();
  /** Set by the evaluator: compiles an included script (cached), or explains why it cannot. */
  loadInclude: ((name: string, location: IncludeLocation) => { run: Exec } | { error: string } | undefined) | undefined;
  includeStack: string[] = [];

  setMatch(compute: () => string[]): void {
    this.matchThunk = compute;
  }

  matchVar(n: number): string {
    if (this.matchThunk) {
      this.matchValues = this.matchThunk();
      this.matchThunk = undefined;
    }
    return this.matchValues[n] ?? '';
  }

  getVar(name: string): string {
    return (this.globalNames.has(name) ? this.globals : this.vars).get(name) ?? '';
  }

  setVar(name: string, value: string): void {
    let v = value;
    if (v.length > this.limits.maxVariableSize) v = truncateUtf8(v, this.limits.maxVariableSize);
    const map = this.globalNames.has(name) ? this.globals : this.vars;
    if (!map.has(name) && map.size >= this.limits.maxVariables)
      throw new SieveRuntimeError(`too many variables (limit ${this.limits.maxVariables})`);
    map.set(name, v);
  }
}

function truncateUtf8(s: string, max: number): string {
  // Cut at a code point boundary; sizes counted in UTF-16 units approximate octets.
  let end = Math.min(s.length, max);
  const c = s.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return s.slice(0, end);
}
