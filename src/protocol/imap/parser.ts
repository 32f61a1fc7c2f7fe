// Command arguments: a generic IMAP tokenizer (atoms, quoted strings,
// literals, parenthesized lists) over a RawCommand. Commands then read the
// tokens they expect with the helpers at the end. Errors are ImapParseError,
// answered with a tagged BAD.
import type { RawCommand } from './receiver.js';
import { IMAP_LIMITS } from './limits.js';

export type Arg =
  /** An atom, including NIL, numbers, sequence sets, flags and fetch items like BODY[HEADER]<0.10>. */
  | { type: 'atom'; value: string }
  /** A quoted string or a literal; `binary` for a literal8 ("~{n}", RFC 3516). */
  | { type: 'string'; value: Buffer; literal: boolean; binary?: boolean }
  | { type: 'list'; items: Arg[] };

export class ImapParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImapParseError';
  }
}

/** A command that parses but names something that cannot be (an invalid mailbox name): tagged NO, not BAD. */
export class ImapRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImapRefusal';
  }
}

class UnterminatedSection extends ImapParseError {
  constructor() {
    super('Unterminated [');
  }
}

export interface ParsedCommand {
  tag: string;
  /** Upper-cased; "UID FETCH" for UID commands. */
  name: string;
  args: Arg[];
}

const TAG = /^[\x21\x23-\x27\x2c-\x5b\x5d-\x7a\x7c\x7e]+$/; // ASTRING-CHAR minus "+"
const ATOM_STOP = new Set([' ', '(', ')', '"', '{', '\r', '\n']);

/** Reads the tag and command name; the remaining arguments are tokenized. */
export function parseCommand(raw: RawCommand): ParsedCommand {
  const tokenizer = new Tokenizer(raw);
  const tagTok = tokenizer.next(0);
  if (tagTok === undefined || tagTok.type !== 'atom' || !TAG.test(tagTok.value)) throw new ImapParseError('Missing or invalid tag');
  const tag = tagTok.value;
  const nameTok = tokenizer.next(0);
  if (nameTok === undefined || nameTok.type !== 'atom' || !/^[A-Za-z]+$/.test(nameTok.value)) {
    throw new TaggedParseError(tag, 'Missing or invalid command name');
  }
  let name = nameTok.value.toUpperCase();
  try {
    if (name === 'UID') {
      const sub = tokenizer.next(0);
      if (sub === undefined || sub.type !== 'atom') throw new ImapParseError('UID needs a command');
      name = `UID ${sub.value.toUpperCase()}`;
    }
    const args: Arg[] = [];
    for (let t = tokenizer.next(0); t !== undefined; t = tokenizer.next(0)) {
      args.push(t);
      if (args.length > IMAP_LIMITS.maxArguments) throw new ImapParseError('Too many arguments');
    }
    return { tag, name, args };
  } catch (err) {
    if (err instanceof ImapParseError && !(err instanceof TaggedParseError)) throw new TaggedParseError(tag, err.message, name);
    throw err;
  }
}

/** A parse error after the tag was read: the BAD reply carries the tag. */
export class TaggedParseError extends ImapParseError {
  constructor(
    readonly tag: string,
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

class Tokenizer {
  private seg = 0;
  private pos = 0;
  private first = true;

  constructor(private readonly raw: RawCommand) {}

  private get text(): string {
    return this.raw.segments[this.seg] ?? '';
  }

  /** The next token at this depth, or undefined at the end (depth 0) / at ")" (depth > 0, consumed). */
  next(depth: number): Arg | undefined {
    const s = this.text;
    if (!this.first) {
      if (this.pos >= s.length) {
        if (this.seg < this.raw.segments.length - 1) throw new ImapParseError('Unexpected literal');
        if (depth > 0) throw new ImapParseError('Unterminated list');
        return undefined;
      }
      if (s[this.pos] === ')') {
        if (depth === 0) throw new ImapParseError('Unexpected )');
        this.pos++;
        return undefined;
      }
      if (s[this.pos] !== ' ') throw new ImapParseError('Expected a space');
      this.pos++;
    }
    this.first = false;
    if (this.pos >= s.length) {
      if (this.seg < this.raw.segments.length - 1) throw new ImapParseError('Unexpected literal');
      throw new ImapParseError('Unexpected end of command');
    }
    const c = s[this.pos]!;
    if (c === ')' && depth > 0) {
      this.pos++;
      return undefined;
    }
    if (c === '(') {
      if (depth >= IMAP_LIMITS.maxListDepth) throw new ImapParseError('Lists nested too deeply');
      this.pos++;
      this.first = true;
      const items: Arg[] = [];
      if (this.text[this.pos] === ')') {
        this.pos++;
        this.first = false;
        return { type: 'list', items };
      }
      for (let t = this.next(depth + 1); t !== undefined; t = this.next(depth + 1)) {
        items.push(t);
        if (items.length > IMAP_LIMITS.maxArguments) throw new ImapParseError('Too many arguments');
      }
      this.first = false;
      return { type: 'list', items };
    }
    if (c === '"') return this.quoted();
    if (c === '{' || (c === '~' && s[this.pos + 1] === '{')) return this.literal();
    return this.atom();
  }

  private quoted(): Arg {
    const s = this.text;
    let out = '';
    let i = this.pos + 1;
    for (;;) {
      if (i >= s.length) throw new ImapParseError('Unterminated quoted string');
      const ch = s[i]!;
      if (ch === '"') break;
      if (ch === '\\') {
        const n = s[i + 1];
        if (n !== '\\' && n !== '"') throw new ImapParseError('Bad escape in quoted string');
        out += n;
        i += 2;
        continue;
      }
      out += ch;
      i++;
    }
    this.pos = i + 1;
    return { type: 'string', value: Buffer.from(out, 'utf8'), literal: false };
  }

  private literal(): Arg {
    const s = this.text;
    const m = /^~?\{(\d+)[+-]?\}$/.exec(s.slice(this.pos));
    if (m === null || this.seg >= this.raw.literals.length) throw new ImapParseError('Bad literal');
    const value = this.raw.literals[this.seg]!;
    if (value.length !== Number(m[1])) throw new ImapParseError('Bad literal');
    this.seg++;
    this.pos = 0;
    return m[0].startsWith('~') ? { type: 'string', value, literal: true, binary: true } : { type: 'string', value, literal: true };
  }

  /**
   * An atom; a "[...]" section may hold spaces (BODY[HEADER.FIELDS (A B)]).
   * "[" is an ATOM-CHAR too (RFC 3501 9), so a "[" that is never closed is
   * just a character: the atom is read again without sections.
   */
  private atom(): Arg {
    try {
      return this.atomWithSections();
    } catch (err) {
      if (!(err instanceof UnterminatedSection)) throw err;
    }
    const s = this.text;
    let i = this.pos;
    while (i < s.length && !ATOM_STOP.has(s[i]!)) {
      if (s.charCodeAt(i) < 0x20 || s[i] === '\x7f') throw new ImapParseError('Control character in atom');
      i++;
    }
    const value = s.slice(this.pos, i);
    this.pos = i;
    return { type: 'atom', value };
  }

  private atomWithSections(): Arg {
    const s = this.text;
    let i = this.pos;
    let bracket = 0;
    while (i < s.length) {
      const ch = s[i]!;
      if (bracket > 0) {
        if (ch === '[') bracket++;
        else if (ch === ']') bracket--;
        i++;
        continue;
      }
      if (ch === '[') {
        bracket++;
        i++;
        continue;
      }
      if (ATOM_STOP.has(ch)) break;
      if (ch.charCodeAt(0) < 0x20 || ch === '\x7f') throw new ImapParseError('Control character in atom');
      i++;
    }
    if (bracket > 0) throw new UnterminatedSection();
    if (i === this.pos) throw new ImapParseError('Expected an atom');
    const value = s.slice(this.pos, i);
    this.pos = i;
    return { type: 'atom', value };
  }
}

// ---- helpers for command parsers --------------------------------------------

export function isAtom(a: Arg | undefined, value?: string): a is { type: 'atom'; value: string } {
  return a !== undefined && a.type === 'atom' && (value === undefined || a.value.toUpperCase() === value);
}

/** astring: an atom or a string, as text. */
export function astring(a: Arg | undefined, what = 'argument'): string {
  if (a === undefined) throw new ImapParseError(`Missing ${what}`);
  if (a.type === 'atom') return a.value;
  if (a.type === 'string') return a.value.toString('utf8');
  throw new ImapParseError(`Expected a string for ${what}`);
}

/** astring as bytes (for literals that are not UTF-8 text). */
export function astringBytes(a: Arg | undefined, what = 'argument'): Buffer {
  if (a !== undefined && a.type === 'string') return a.value;
  return Buffer.from(astring(a, what), 'utf8');
}

export function number(a: Arg | undefined, what = 'number'): number {
  if (!isAtom(a) || !/^\d{1,20}$/.test(a.value)) throw new ImapParseError(`Expected a number for ${what}`);
  const n = Number(a.value);
  if (!Number.isSafeInteger(n)) throw new ImapParseError(`${what} is out of range`);
  return n;
}

export function list(a: Arg | undefined, what = 'list'): Arg[] {
  if (a === undefined || a.type !== 'list') throw new ImapParseError(`Expected a parenthesized ${what}`);
  return a.items;
}

export function expectEnd(args: Arg[], count: number): void {
  if (args.length > count) throw new ImapParseError('Too many arguments');
}

export function expectCount(args: Arg[], min: number, max = min): void {
  if (args.length < min) throw new ImapParseError('Missing arguments');
  if (args.length > max) throw new ImapParseError('Too many arguments');
}

/** A flag list "(\Seen $X)" or bare flags; validates flag syntax. */
export function flagList(args: Arg[]): string[] {
  const items = args.length === 1 && args[0]!.type === 'list' ? args[0]!.items : args;
  return items.map((f) => {
    if (!isAtom(f) || !/^\\?[^\s(){%*"\\\]\x00-\x1f\x7f]+$/.test(f.value)) throw new ImapParseError('Bad flag');
    if (f.value.startsWith('\\') && !/^\\(seen|answered|flagged|deleted|draft)$/i.test(f.value)) {
      if (/^\\recent$/i.test(f.value)) throw new ImapParseError('\\Recent cannot be set');
      throw new ImapParseError(`Unknown system flag ${f.value}`);
    }
    return f.value;
  });
}
