// What a policy step decides. Steps only decide; smtp-reply.ts is the one
// place that turns a decision (or an error) into an SMTP reply.
import type { ParsedMessage } from '../../mime/index.js';

/** Accepted; a data-stage hook may also hand on what it found (trace fields, a Junk filing, a cleaned copy). */
export interface Accept {
  kind: 'accept';
  /** Header fields to add (no line ends). */
  headers?: string[];
  /** File into Junk. */
  junk?: boolean;
  /** The message as the next steps must see it (e.g. without forged fields). */
  message?: ParsedMessage;
}

export interface Refusal {
  kind: 'reject' | 'tempfail' | 'disconnect';
  code: number;
  enhanced: string;
  text: string;
}

export type Verdict = Accept | Refusal;

export const ACCEPT: Accept = { kind: 'accept' };

export function reject(code: number, enhanced: string, text: string): Refusal {
  return { kind: 'reject', code, enhanced, text };
}

export function tempfail(code: number, enhanced: string, text: string): Refusal {
  return { kind: 'tempfail', code, enhanced, text };
}

export function disconnect(enhanced: string, text: string): Refusal {
  return { kind: 'disconnect', code: 421, enhanced, text };
}
