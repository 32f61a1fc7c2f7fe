// The result of an evaluation: an ordered list of actions. Pure data; the
// delivery agent turns it into stores, forwards and replies.

export type SieveAction =
  | { type: 'keep'; flags?: string[]; implicit?: true }
  | { type: 'fileinto'; mailbox: string; flags?: string[]; copy: boolean; create: boolean }
  | { type: 'redirect'; address: string; copy: boolean }
  | { type: 'reject'; reason: string }
  | { type: 'ereject'; reason: string }
  | { type: 'discard' }
  | VacationAction
  | NotifyAction
  /** editheader: add a field; `last` appends, otherwise it goes on top. */
  | { type: 'addheader'; name: string; value: string; last: boolean }
  /** editheader: delete the `occurrence`-th (1-based, counted at that moment) field named `name`. */
  | { type: 'deleteheader'; name: string; occurrence: number };

export interface VacationAction {
  type: 'vacation';
  seconds: number;
  subject?: string;
  from?: string;
  reason: string;
  addresses: string[];
  mime: boolean;
  handle: string;
}

export interface NotifyAction {
  type: 'notify';
  method: string;
  from?: string;
  importance?: string;
  options?: string[];
  message?: string;
}

/** Actions that store the message (and so carry imap4flags). */
type StoreAction = Extract<SieveAction, { type: 'keep' } | { type: 'fileinto' }>;

function storeTarget(a: StoreAction): string {
  return a.type === 'keep' ? 'INBOX' : a.mailbox.toUpperCase() === 'INBOX' ? 'INBOX' : a.mailbox;
}

export class ActionConflictError extends Error {}

/**
 * Collects actions and applies RFC 5228 section 4 / Pigeonhole rules:
 * identical stores and redirects are merged (first position wins, the last
 * one's flags replace the earlier ones), keep == fileinto "INBOX", and
 * reject/ereject cannot be combined
 * with actions that deliver or answer the message.
 */
export class ActionList {
  readonly list: SieveAction[] = [];
  implicitKeep = true;
  redirects = 0;
  private hasVacation = false;
  private hasReject = false;
  private hasDeliveryAction = false;

  add(action: SieveAction): void {
    switch (action.type) {
      case 'keep':
      case 'fileinto': {
        if (this.hasReject) throw new ActionConflictError(`${action.type} action conflicts with earlier reject action`);
        const target = storeTarget(action);
        const existing = this.list.find(
          (a): a is StoreAction => (a.type === 'keep' || a.type === 'fileinto') && storeTarget(a) === target,
        );
        if (existing) {
          // Pigeonhole: the first action decides :copy, and so whether the
          // implicit keep was cancelled; the message is stored once, with the
          // flags of the last duplicate (RFC 5232 5: each store gets exactly
          // its own flags, never a union with another store's).
          if (action.flags && action.flags.length > 0) existing.flags = [...action.flags];
          else delete existing.flags;
          if (existing.type === 'fileinto' && action.type === 'fileinto') existing.create = existing.create || action.create;
          return;
        }
        this.list.push(action);
        if (action.type === 'keep' || !action.copy) this.implicitKeep = false;
        this.hasDeliveryAction = true;
        return;
      }
      case 'redirect': {
        if (this.hasReject) throw new ActionConflictError('redirect action conflicts with earlier reject action');
        // Addresses come normalised (domain in lower case); the local part is case-sensitive, as in Pigeonhole.
        const existing = this.list.find(
          (a): a is Extract<SieveAction, { type: 'redirect' }> => a.type === 'redirect' && a.address === action.address,
        );
        if (existing) return;
        this.list.push(action);
        this.redirects++;
        if (!action.copy) this.implicitKeep = false;
        this.hasDeliveryAction = true;
        return;
      }
      case 'reject':
      case 'ereject':
        if (this.hasReject) throw new ActionConflictError('duplicate reject/ereject action not allowed');
        if (this.hasVacation) throw new ActionConflictError(`${action.type} action conflicts with earlier vacation action`);
        if (this.hasDeliveryAction)
          throw new ActionConflictError(`${action.type} action conflicts with other action: the message is already delivered or forwarded`);
        this.hasReject = true;
        this.implicitKeep = false;
        this.list.push(action);
        return;
      case 'discard':
        this.implicitKeep = false;
        if (!this.list.some((a) => a.type === 'discard')) this.list.push(action);
        return;
      case 'vacation':
        if (this.hasVacation) throw new ActionConflictError('duplicate vacation action not allowed');
        if (this.hasReject) throw new ActionConflictError('vacation action conflicts with earlier reject action');
        this.hasVacation = true;
        this.list.push(action);
        return;
      case 'notify': {
        const dup = this.list.some((a) => a.type === 'notify' && a.method === action.method);
        if (!dup) this.list.push(action);
        return;
      }
      default:
        this.list.push(action);
    }
  }

  /** The final list, with the implicit keep appended when still in force. */
  finish(implicitFlags: string[]): SieveAction[] {
    const out = [...this.list];
    if (this.implicitKeep) {
      const keep: SieveAction = { type: 'keep', implicit: true };
      if (implicitFlags.length > 0) keep.flags = [...implicitFlags];
      out.push(keep);
    }
    return out;
  }
}
