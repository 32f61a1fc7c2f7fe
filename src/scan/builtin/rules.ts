// The builtin spam engine's rule table: every rule's name (shown in
// X-Spam-Status tests=), its weight and what it means. The detectors live in
// checks.ts and only say which names matched; the weights are here alone, so
// tuning is one edit to this table. A message's score is the sum of the
// weights of the rules it matched; positive is spammy, negative hammy.
//
// Thresholds (config): spam.junkScore (5) marks and files into Junk,
// spam.rejectScore (15) refuses at the end of DATA. GTUBE alone exceeds both.

export interface SpamRule {
  name: string;
  score: number;
  description: string;
}

export const RULES = [
  { name: 'GTUBE', score: 1000, description: 'the GTUBE test string (Generic Test for Unsolicited Bulk Email)' },
  // The sender checks the MX already ran (Authentication-Results of our own).
  { name: 'SPF_FAIL', score: 2.5, description: 'SPF: the client is not allowed to send for the envelope sender (-all)' },
  { name: 'SPF_SOFTFAIL', score: 1.0, description: 'SPF: the client is probably not allowed to send for the envelope sender (~all)' },
  { name: 'SPF_PASS', score: -0.5, description: 'SPF: the client may send for the envelope sender' },
  { name: 'DKIM_FAIL', score: 1.5, description: 'DKIM: a signature did not verify' },
  { name: 'DKIM_VALID', score: -0.5, description: 'DKIM: a signature verified' },
  { name: 'DMARC_FAIL', score: 3.5, description: 'DMARC: the From domain did not align with a passing SPF or DKIM' },
  { name: 'DMARC_PASS', score: -1.0, description: 'DMARC: the From domain aligned with a passing SPF or DKIM' },
  // Header sanity.
  { name: 'MISSING_DATE', score: 1.4, description: 'no Date header field' },
  { name: 'MISSING_MID', score: 1.0, description: 'no Message-ID header field' },
  { name: 'MISSING_FROM', score: 2.0, description: 'no From header field, or one without an address' },
  { name: 'DATE_IN_FUTURE', score: 2.0, description: 'Date is more than 12 hours ahead of our clock' },
  { name: 'DATE_IN_PAST', score: 1.5, description: 'Date is more than 30 days behind our clock' },
  { name: 'FROM_NOT_ENVELOPE', score: 0.5, description: 'the From domain is not the envelope sender domain' },
  { name: 'FORGED_RECEIVED', score: 2.5, description: 'a Received field already claims to be written by this server' },
  // Body.
  { name: 'HTML_ONLY', score: 1.0, description: 'HTML without a plain-text alternative' },
  { name: 'HTML_HIDDEN_TEXT', score: 2.0, description: 'HTML with text styled invisible (display:none, visibility:hidden, font-size:0)' },
  // Attachments.
  { name: 'EXECUTABLE_ATTACHMENT', score: 3.5, description: 'an attachment with an executable file name (.exe, .scr, .js, ...)' },
  { name: 'DOUBLE_EXTENSION', score: 3.0, description: 'an attachment named like a document but executable (invoice.pdf.exe)' },
] as const satisfies readonly SpamRule[];

export type RuleName = (typeof RULES)[number]['name'];

export const RULE_BY_NAME: ReadonlyMap<string, SpamRule> = new Map(RULES.map((r) => [r.name, r]));
