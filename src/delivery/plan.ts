// One account's copy of a message, decided: which mailboxes with which
// flags, which header edits, which redirects, automatic replies and rejects.
// PURE: it reads the Sieve actions and facts gathered beforehand (does the
// mailbox exist? may an automatic reply go to this message?) and returns a
// value; apply.ts carries it out against storage. The fail-safes live here:
// the implicit keep goes to INBOX (Junk when the sender checks say so), a
// fileinto to a mailbox that does not exist lands in INBOX (like Pigeonhole
// with lda_mailbox_autocreate=no), and a script that cannot run keeps.
import type { SieveAction } from '../../sieve/index.js';
import type { DeliveryFailure } from './outcome.js';

/** A copy refused for good (a Sieve reject, a mail loop). */
export type Refusal = Extract<DeliveryFailure, { why: 'sieve-reject' | 'mail-loop' }>;

/** editheader edits, applied in script order (RFC 5293). */
export type PlannedHeaderEdit = Extract<SieveAction, { type: 'addheader' | 'deleteheader' }>;

/** What the plan knows about the message and the account it is for. */
export interface PlanFacts {
  /** The account's address (lowercase). */
  account: string;
  /** The RCPT address that reached it, as given. */
  recipient: string;
  /** Envelope sender, "" for the null sender. */
  from: string;
  /** Trace fields put on top of every copy (Received, Authentication-Results...). */
  traceHeaders: string[];
  /** The message's first Subject, for default reply texts. */
  subject: string | undefined;
  /** Sender checks say junk: the implicit keep goes to Junk. */
  junk: boolean;
  /** The SMTP session has one recipient, so a reject can be the SMTP reply. */
  rejectAtSmtp: boolean;
  /** Which of mailboxesToCheck(...) exist (INBOX always does). */
  existingMailboxes: ReadonlySet<string>;
  /** Why no automatic reply may answer this message (RFC 3834, RFC 5230 4.5), given the user's own addresses; undefined when one may. */
  autoReplyRefusal(ownAddresses: string[]): string | undefined;
}

export interface PlannedStore {
  mailbox: string;
  flags: string[];
  /** fileinto :create: make the mailbox if it is missing (INBOX if that fails). */
  create: boolean;
}

/** Messages the delivery sends: each a queue entry. */
export type PlannedReply =
  /** The original, with these fields on top, to `to` (envelope sender unchanged). */
  | { kind: 'redirect'; to: string; headers: string[] }
  /** RFC 5230: at most one per sender and handle within `seconds` (apply checks the memory). */
  | { kind: 'vacation'; to: string; from: string; subject: string; reason: string; mime: boolean; handle: string; seconds: number }
  /** enotify mailto: a short notice. */
  | { kind: 'notify'; to: string; text: string }
  /** reject (RFC 5429) after the SMTP transaction: a DSN to the sender. `required`: nothing else was done, so a failure to queue it is a failure of the delivery. */
  | { kind: 'reject-dsn'; to: string; recipient: string; reason: string; required: boolean };

/** Something left out or changed on the way, for the log. */
export interface PlanNote {
  level: 'info' | 'warn';
  event: string;
  fields: Record<string, string>;
}

export interface DeliveryPlan {
  /** The RCPT address the copy is for. */
  recipient: string;
  /** Fields put on top of the stored copies (before the edits). */
  headers: string[];
  edits: PlannedHeaderEdit[];
  stores: PlannedStore[];
  /** reject/ereject answered in the SMTP (or LMTP) transaction: the result of this copy. */
  refusal?: Refusal;
  /** In order: reject DSN first, then redirects, vacation and notify as the script gave them. */
  replies: PlannedReply[];
  notes: PlanNote[];
}

/** The fields every stored copy gets on top (and that Sieve sees). */
export function storedHeaders(from: string, account: string, traceHeaders: string[]): string[] {
  return [`Return-Path: <${from}>`, `Delivered-To: ${account}`, ...traceHeaders];
}

/** A copy of this message was delivered to this account before: refusing it breaks the loop. */
export function mailLoop(account: string, deliveredTo: string[]): Refusal | undefined {
  if (!deliveredTo.some((v) => v.toLowerCase() === account)) return undefined;
  return { kind: 'reject', why: 'mail-loop', account };
}

/** Where the implicit keep goes. */
function keepMailbox(a: Extract<SieveAction, { type: 'keep' }>, junk: boolean): string {
  return a.implicit && junk ? 'Junk' : 'INBOX';
}

function isInbox(name: string): boolean {
  return name.toUpperCase() === 'INBOX';
}

/**
 * The store targets whose existence the plan needs to know (for
 * existingMailboxes). A name no mailbox can have (empty, or with a control
 * character: Sieve leaves fileinto's name to us) is not looked up; it counts
 * as missing.
 */
export function mailboxesToCheck(actions: readonly SieveAction[], junk: boolean): string[] {
  const names = new Set<string>();
  for (const a of actions) {
    const name = a.type === 'keep' ? keepMailbox(a, junk) : a.type === 'fileinto' ? a.mailbox : undefined;
    // eslint-disable-next-line no-control-regex
    if (name !== undefined && name !== '' && !/[\x00-\x1f\x7f]/.test(name) && !isInbox(name)) names.add(name);
  }
  return [...names];
}

/**
 * The actions of several scripts run in turn (global before, the user's,
 * global after), as Pigeonhole runs sieve_before/sieve_after: the next script
 * runs only while a keep (implicit or explicit) is in force, and a keep only
 * says so: storing into the INBOX is the last script's keep. A script that
 * cancels the keep (fileinto, discard...) decides the message's fate; the
 * scripts after it are not run. The other actions accumulate.
 * Returns the actions so far, whether to run the next script, and the keep of
 * the script just run.
 */
export function mergeScriptActions(sofar: SieveAction[], script: readonly SieveAction[]): { actions: SieveAction[]; more: boolean; keep: SieveAction[] } {
  const keep = script.filter((a) => a.type === 'keep');
  return { actions: [...sofar, ...script.filter((a) => a.type !== 'keep')], more: keep.length > 0, keep };
}

/** The actions after the last script: its keep (the implicit one, or an explicit keep with its flags) is done. */
export function finishScriptActions(merged: { actions: SieveAction[]; more: boolean; keep?: SieveAction[] }): SieveAction[] {
  if (!merged.more) return merged.actions;
  return [...merged.actions, ...(merged.keep && merged.keep.length > 0 ? merged.keep : [{ type: 'keep', implicit: true } as const])];
}

/** The plan for one account's copy, from the Sieve actions (the implicit keep included when in force). */
export function planDelivery(facts: PlanFacts, actions: readonly SieveAction[]): DeliveryPlan {
  const plan: DeliveryPlan = { recipient: facts.recipient, headers: storedHeaders(facts.from, facts.account, facts.traceHeaders), edits: [], stores: [], replies: [], notes: [] };
  const later: SieveAction[] = [];
  let reject: Extract<SieveAction, { type: 'reject' | 'ereject' }> | undefined;
  for (const a of actions) {
    switch (a.type) {
      case 'keep':
        plan.stores.push(store(facts, plan, keepMailbox(a, facts.junk), a.flags ?? [], false));
        break;
      case 'fileinto':
        plan.stores.push(store(facts, plan, a.mailbox, a.flags ?? [], a.create));
        break;
      case 'addheader':
      case 'deleteheader':
        plan.edits.push(a);
        break;
      case 'reject':
      case 'ereject':
        reject = a;
        break;
      case 'discard':
        break;
      default:
        later.push(a);
    }
  }

  if (reject) {
    const reason = reject.reason || 'Message rejected';
    if (facts.rejectAtSmtp || reject.type === 'ereject') {
      // The refusal is the answer: nothing else of the script is done (RFC 5429 forbids the combinations anyway).
      plan.refusal = { kind: 'reject', why: 'sieve-reject', reason };
      plan.replies = [];
      return plan;
    }
    if (facts.from !== '') plan.replies.push({ kind: 'reject-dsn', to: facts.from, recipient: facts.recipient, reason, required: plan.stores.length === 0 });
  }
  for (const a of later) {
    const reply = replyFor(facts, plan, a);
    if (reply) plan.replies.push(reply);
  }
  return plan;
}

function store(facts: PlanFacts, plan: DeliveryPlan, mailbox: string, flags: string[], create: boolean): PlannedStore {
  if (isInbox(mailbox)) return { mailbox: 'INBOX', flags, create: false };
  if (facts.existingMailboxes.has(mailbox)) return { mailbox, flags, create: false };
  if (create) return { mailbox, flags, create: true };
  plan.notes.push({ level: 'warn', event: 'fileinto-missing-mailbox', fields: { account: facts.account, mailbox } });
  return { mailbox: 'INBOX', flags, create: false };
}

function replyFor(facts: PlanFacts, plan: DeliveryPlan, a: SieveAction): PlannedReply | undefined {
  if (a.type === 'redirect') {
    // The copy keeps our trace fields (and Delivered-To) so a loop back here is caught.
    return { kind: 'redirect', to: a.address, headers: [`Delivered-To: ${facts.account}`, ...facts.traceHeaders] };
  }
  if (a.type === 'vacation') {
    const own = [facts.account, facts.recipient.toLowerCase(), ...a.addresses.map((x) => x.toLowerCase())];
    const refusal = facts.autoReplyRefusal(own);
    if (refusal) {
      plan.notes.push({ level: 'info', event: 'vacation-skipped', fields: { account: facts.account, why: refusal } });
      return undefined;
    }
    return {
      kind: 'vacation',
      to: facts.from,
      from: a.from ?? `<${facts.account}>`,
      subject: a.subject ?? `Auto: ${facts.subject ?? ''}`.trim(),
      reason: a.reason,
      mime: a.mime,
      handle: a.handle,
      seconds: a.seconds,
    };
  }
  if (a.type === 'notify') {
    const to = mailtoAddress(a.method);
    if (to === undefined) {
      plan.notes.push({ level: 'warn', event: 'notify-skipped', fields: { account: facts.account, method: a.method.slice(0, 200) } });
      return undefined;
    }
    return { kind: 'notify', to, text: a.message ?? `New message for ${facts.account}: ${facts.subject ?? ''}` };
  }
  return undefined;
}

/** The address of a mailto: URI (RFC 6068), undefined when there is none or it does not decode. */
function mailtoAddress(method: string): string | undefined {
  const to = /^mailto:([^?]+)/i.exec(method)?.[1];
  if (to === undefined) return undefined;
  try {
    return decodeURIComponent(to);
  } catch {
    return undefined;
  }
}
