// The POP3 backend over the mail store and the shared authenticator: what
// src/protocol/pop3/backend.ts asks for, answered from storage/. INBOX only.
import { hash } from 'node:crypto';
import type { Pop3Backend, Pop3Maildrop, Pop3SaslExchange, Pop3SaslStep, Pop3User } from '../protocol/pop3/backend.js';
import type { MaildropEntry, MailPort, MessageRecord } from '../../storage/ports.js';
import { MailError } from '../../storage/errors.js';
import type { Authenticator } from '../auth/authenticator.js';
import { SASL_MECHANISMS, startSasl } from '../auth/sasl.js';

const SERVICE = 'pop3';

/**
 * The UIDL Postino derives for a message: a digest of the stored body's
 * lasting name (the Maildir base name), so it survives flag changes, MOVE
 * out and back, restarts and `postino reindex`; 32 hex digits fit RFC 1939's
 * 70 printable characters whatever the host name in the base is. A backend
 * without body names falls back to UIDVALIDITY and UID (stable until a move).
 */
/** What the UIDL of a message is made from (a MessageRecord or a MaildropEntry). */
type UidlSource = Pick<MessageRecord, 'uid' | 'bodyId' | 'pop3Uidl'>;

export function derivedUidl(record: UidlSource, uidValidity: number): string {
  // The one-shot digest: a login derives thousands, and a Hash object each (with its native half) cost twice the time and GC work.
  if (record.bodyId) return hash('sha256', record.bodyId, 'hex').slice(0, 32);
  return `${uidValidity}.${record.uid}`;
}

/** The UIDL of a message: its own (brought by an import: the one the old server gave) when it has one, else the derived one. */
export function uidlOf(record: UidlSource, uidValidity: number): string {
  return record.pop3Uidl ?? derivedUidl(record, uidValidity);
}

/**
 * The maildrop's UIDLs in UID order, each unique (RFC 1939 7): a message's
 * own UIDL that an earlier message has already (a COPY of an imported
 * message back into the INBOX beside it) gives way to the derived one.
 */
export function maildropUidls(records: readonly UidlSource[], uidValidity: number): string[] {
  const taken = new Set<string>();
  return records.map((r) => {
    let uidl = uidlOf(r, uidValidity);
    if (taken.has(uidl)) uidl = derivedUidl(r, uidValidity);
    taken.add(uidl);
    return uidl;
  });
}

/**
 * Whether the message's index (mime/'s JSON) says its bytes have no bare LF,
 * so RETR sends them as they are but for dot-stuffing. `"bareLf":false` with
 * its quotes can only be that key: a quote inside a JSON string is escaped.
 * No index, or one that says otherwise: RETR looks at every line.
 */
export function crlfOnly(record: MessageRecord): boolean {
  return record.mime?.includes('"bareLf":false') ?? false;
}

/** Whether the message's index says no line starts with "." (see crlfOnly for why a look at the JSON text is enough). */
export function dotFree(record: MessageRecord): boolean {
  return record.mime?.includes('"dotLines":false') ?? false;
}

/** A record as MailStore.listMaildrop gives it (for a backend without that method). */
export function maildropEntry(record: MessageRecord): MaildropEntry {
  return {
    uid: record.uid,
    size: record.size,
    seen: record.flags.includes('\\Seen'),
    ...(record.bodyId !== undefined ? { bodyId: record.bodyId } : {}),
    ...(record.pop3Uidl !== undefined ? { pop3Uidl: record.pop3Uidl } : {}),
    crlfOnly: crlfOnly(record),
    dotFree: dotFree(record),
  };
}

export class StorePop3Backend implements Pop3Backend {
  readonly saslMechanisms: readonly string[] = SASL_MECHANISMS;
  /**
   * Accounts with a POP3 session, in this process. `serve` holds the data
   * directory's lock, so one process serves an account: this is enough for
   * one POP3 session per account (a multi-node backend would keep it in the store).
   */
  private readonly locked = new Set<number>();

  /**
   * Messages' bytes in memory the store lends, as read (no owner check per
   * read); left out when the store lends none, and the session then uses read.
   */
  readonly readManyLent: Pop3Backend['readManyLent'];

  constructor(
    private readonly mail: MailPort,
    private readonly auth: Authenticator,
  ) {
    if (mail.readMessagesLent) this.readManyLent = (_user, drop, uids) => mail.readMessagesLent!(drop.mailboxId, uids);
  }

  async login(username: string, password: string, ip: string): Promise<Pop3User> {
    // USER/PASS is a plain-text password: logged as PLAIN, as Dovecot does.
    const account = await this.auth.login(username, password, { ip, service: SERVICE, mechanism: 'PLAIN' });
    return { accountId: account.id, address: account.address };
  }

  startSasl(mechanism: string, ip: string): Pop3SaslExchange {
    const exchange = startSasl(mechanism, this.auth, { ip, service: SERVICE });
    return {
      async step(response: Buffer | undefined): Promise<Pop3SaslStep> {
        const s = await exchange.step(response);
        if (s.kind === 'success') return { kind: 'success', user: { accountId: s.account.id, address: s.account.address }, data: s.data };
        if (s.kind === 'failure') return { kind: 'failure', error: s.error };
        return s;
      },
    };
  }

  async malformed(mechanism: string, ip: string): Promise<void> {
    await this.auth.fail('', 'malformed', { ip, service: SERVICE, mechanism });
  }

  lock(user: Pop3User): (() => void) | undefined {
    if (this.locked.has(user.accountId)) return undefined;
    this.locked.add(user.accountId);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.locked.delete(user.accountId);
    };
  }

  async open(user: Pop3User): Promise<Pop3Maildrop> {
    const inbox = await this.mail.findMailbox(user.accountId, 'INBOX');
    if (!inbox) throw new MailError('NONEXISTENT', 'no INBOX');
    // Only the columns POP3 needs, where the backend can list them so.
    const entries = this.mail.listMaildrop ? await this.mail.listMaildrop(inbox.id) : (await this.mail.listMessages(inbox.id)).map(maildropEntry);
    const uidls = maildropUidls(entries, inbox.uidValidity);
    return {
      mailboxId: inbox.id,
      messages: entries.map((e, i) => ({ uid: e.uid, size: e.size, uidl: uidls[i]!, seen: e.seen, crlf: e.crlfOnly, dotFree: e.dotFree })),
    };
  }

  /** The maildrop was the user's own INBOX at login; this keeps a bug from crossing accounts. */
  private async own(user: Pop3User, drop: Pop3Maildrop): Promise<void> {
    if ((await this.mail.mailboxOwner(drop.mailboxId)) !== user.accountId) throw new MailError('NONEXISTENT', 'no such mailbox');
  }

  read(_user: Pop3User, drop: Pop3Maildrop, uid: number): Promise<Buffer> {
    // No owner check per read: open() made the maildrop from this user's own INBOX, and RETR is the hot
    // path (the store's promise as it is, not one more wrapped around it).
    return this.mail.readMessage(drop.mailboxId, uid);
  }

  async markSeen(user: Pop3User, drop: Pop3Maildrop, uids: number[]): Promise<void> {
    await this.own(user, drop);
    await this.mail.setFlags(drop.mailboxId, uids, 'add', ['\\Seen']);
  }

  async remove(user: Pop3User, drop: Pop3Maildrop, uids: number[]): Promise<void> {
    await this.own(user, drop);
    await this.mail.expunge(drop.mailboxId, uids);
  }
}
