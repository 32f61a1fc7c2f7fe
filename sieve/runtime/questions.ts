// Asynchronous hosts. The engine runs synchronously (its compiled closures
// return plain values, which keeps the common case fast); a host backed by a
// networked store may answer mailboxexists, duplicate and include with a
// promise instead. evaluateAsync then runs the script in rounds: a question
// whose answer is not known yet is sent to the host, the round ends (or goes
// on with a guess, see below), the answers are awaited, and the script runs
// again from the top with every answer known so far. The engine is
// deterministic given its inputs and the answers, so the last round (the one
// that needed no new answer) is the evaluation; earlier rounds leave nothing
// behind. Each question goes to the host once per evaluation, which is also
// what RFC 7352 asks of duplicate (ids met earlier in the same run are not
// duplicates).
//
// Guessing: mailboxexists (read-only) is guessed false and include text is
// guessed empty, so one round collects every such question on the path the
// guesses take; questions of sibling tests and includes are asked together.
// duplicate has a side effect (the host records the id), so it is asked only
// on a round that has guessed nothing yet, i.e. on the real path.
//
// Cost: each round is a full run with its own step budget, so a script
// against a host that answers later does at most maxHostRounds times the
// work of one evaluation (a host answering at once: exactly one round).
import type { IncludeLocation, SieveHost } from './host.js';

/** An answer now, or later. */
export type Answer<T> = T | PromiseLike<T>;

/** Like SieveHost, but the questions that may need a store can be answered later. */
export interface AsyncSieveHost extends Omit<SieveHost, 'mailboxExists' | 'duplicate' | 'includeScript'> {
  mailboxExists?(name: string): Answer<boolean>;
  duplicate?(id: string, options: { handle: string; seconds: number; last: boolean }): Answer<boolean>;
  includeScript?(name: string, location: IncludeLocation): Answer<string | undefined>;
}

/** Thrown through the engine to end a round that cannot go on without an answer. Not an Error: nothing in the engine catches it by accident. */
export class QuestionPending {}

type Stored = { value: unknown } | { error: unknown };

/** The answers of one evaluation, shared by its rounds. */
export class AnswerBook {
  private readonly known = new Map<string, Stored>();
  /** Answers asked for in the current round. */
  waiting: Array<PromiseLike<void>> = [];
  /** The current round went on with a guess. */
  guessed = false;

  startRound(): void {
    this.waiting = [];
    this.guessed = false;
  }

  /** The answer to `key`: known, or asked now; when it comes later, a guess (or the end of the round when `guess` is absent). */
  ask<T>(key: string, call: () => Answer<T>, guess?: { value: T }): T {
    const hit = this.known.get(key);
    if (hit) {
      if ('error' in hit) throw hit.error;
      return hit.value as T;
    }
    if (!guess && this.guessed) throw new QuestionPending();
    let a: Answer<T>;
    try {
      a = call();
    } catch (error) {
      this.known.set(key, { error });
      throw error;
    }
    if (!isThenable(a)) {
      this.known.set(key, { value: a });
      return a;
    }
    this.waiting.push(
      a.then(
        (value) => void this.known.set(key, { value }),
        (error: unknown) => void this.known.set(key, { error }),
      ),
    );
    if (!guess) throw new QuestionPending();
    this.guessed = true;
    return guess.value;
  }
}

function isThenable<T>(a: Answer<T>): a is PromiseLike<T> {
  return typeof a === 'object' && a !== null && typeof (a as PromiseLike<T>).then === 'function';
}

/** The synchronous host one round runs against: `host`'s questions go through the book; the clock is read once per evaluation. */
export function roundHost(host: AsyncSieveHost, book: AnswerBook, now: Date | undefined): SieveHost {
  const { mailboxExists, duplicate, includeScript } = host;
  // One literal (one shape) rather than a spread copy: the engine reads these
  // often. Every member is listed (a new SieveHost member fails to compile here).
  const round: SieveHost & Record<keyof SieveHost, unknown> = {
    now: now ? () => now : undefined,
    mailboxExists: mailboxExists && ((name) => book.ask(`m\0${name}`, () => mailboxExists.call(host, name), GUESS_FALSE)),
    duplicate: duplicate && ((id, o) => book.ask(`d\0${o.handle}\0${id}\0${o.seconds}\0${o.last ? 1 : 0}`, () => duplicate.call(host, id, o))),
    includeScript:
      includeScript && ((name, location) => book.ask<string | undefined>(`i\0${location}\0${name}`, () => includeScript.call(host, name, location), GUESS_EMPTY)),
    environment: host.environment,
    spamtest: host.spamtest,
    virustest: host.virustest,
    subaddressSeparator: host.subaddressSeparator,
    vacation: host.vacation,
  };
  return round;
}

const GUESS_FALSE = { value: false };
const GUESS_EMPTY = { value: '' };
