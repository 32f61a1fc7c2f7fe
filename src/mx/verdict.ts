// Policy steps decide; this is the one place that turns a decision into an
// SMTP reply (smtp-server sends err.responseCode and err.message).

export type Verdict =
  | { kind: 'accept' }
  | { kind: 'reject' | 'tempfail' | 'disconnect'; code: number; enhanced: string; text: string };

export type Refusal = Exclude<Verdict, { kind: 'accept' }>;

export const ACCEPT: Verdict = { kind: 'accept' };

export function reject(code: number, enhanced: string, text: string): Refusal {
  return { kind: 'reject', code, enhanced, text };
}

export function tempfail(code: number, enhanced: string, text: string): Refusal {
  return { kind: 'tempfail', code, enhanced, text };
}

export interface SmtpReplyError extends Error {
  responseCode: number;
}

/** The error smtp-server turns into the reply "<code> <enhanced> <text>". */
export function replyError(v: Refusal): SmtpReplyError {
  const err = new Error(`${v.enhanced} ${v.text}`) as SmtpReplyError;
  err.responseCode = v.kind === 'disconnect' ? 421 : v.code;
  return err;
}

/** Our reply texts carry their own enhanced code; the library must not add another. */
export const OWN_ENHANCED_CODE = /^[245]\.\d{1,3}\.\d{1,3} /;
