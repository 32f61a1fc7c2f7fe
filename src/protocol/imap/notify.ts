// NOTIFY (RFC 5465): what a session asked to hear about, and the changes it
// has not been told of yet. The session feeds it every change of its account
// (onChange) and asks it for responses whenever it may send them. Changes are
// kept per mailbox (a set of mailbox ids plus a flag for names and
// subscriptions), so what waits is bounded by the number of mailboxes; a
// client that stops reading for too long gets NOTIFICATIONOVERFLOW and no
// more notifications (RFC 5465 5.8), as if it had sent NOTIFY NONE.
import { OneAtATime } from './one-at-a-time.js';
import { ImapParseError, isAtom, list, astring, type Arg } from './parser.js';
import { untagged, statusResponse, type ImapResponse, type ImapValue } from './response.js';
import type { ImapBackend, ImapUser, MailboxChange, MailboxInfo } from './backend.js';

export type NotifyEvent = 'MessageNew' | 'MessageExpunge' | 'FlagChange' | 'MailboxName' | 'SubscriptionChange';
type Filter = 'SELECTED' | 'SELECTED-DELAYED' | 'INBOXES' | 'PERSONAL' | 'SUBSCRIBED' | 'SUBTREE' | 'MAILBOXES';

const SUPPORTED: readonly NotifyEvent[] = ['MessageNew', 'MessageExpunge', 'FlagChange', 'MailboxName', 'SubscriptionChange'];
/** Events RFC 5465 defines that Postino has no data for (no ANNOTATE, no METADATA). */
const UNSUPPORTED = new Set(['ANNOTATIONCHANGE', 'MAILBOXMETADATACHANGE', 'SERVERMETADATACHANGE']);
const FILTERS = new Set<Filter>(['SELECTED', 'SELECTED-DELAYED', 'INBOXES', 'PERSONAL', 'SUBSCRIBED', 'SUBTREE', 'MAILBOXES']);

export const NOTIFY_LIMITS = {
  /** Event groups in one NOTIFY command. */
  maxGroups: 64,
  /** Mailbox names over all groups of one NOTIFY command. */
  maxNames: 1000,
  /** Changes that may arrive while the client is not taking notifications, before NOTIFICATIONOVERFLOW. */
  maxBehind: 5000,
};

export interface EventGroup {
  filter: Filter;
  /** Stored mailbox names (SUBTREE and MAILBOXES). */
  names: string[];
  events: Set<NotifyEvent>;
  /** MessageNew's fetch-att list (selected mailbox only), as given. */
  fetchAtts: Arg[] | undefined;
}

export interface NotifySpec {
  status: boolean;
  groups: EventGroup[];
  /** The first event asked for that Postino cannot report: the command answers NO [BADEVENT ...]. */
  unsupported: string | undefined;
}

/** NOTIFY NONE → undefined; NOTIFY SET [STATUS] groups... → the spec. Throws ImapParseError (BAD). */
export function parseNotify(args: Arg[], decodeName: (wire: string) => string): NotifySpec | undefined {
  const verb = args[0];
  if (isAtom(verb, 'NONE')) {
    if (args.length !== 1) throw new ImapParseError('NOTIFY NONE takes no arguments');
    return undefined;
  }
  if (!isAtom(verb, 'SET')) throw new ImapParseError('NOTIFY SET or NOTIFY NONE');
  let at = 1;
  let status = false;
  if (isAtom(args[at], 'STATUS')) {
    status = true;
    at++;
  }
  if (at >= args.length) throw new ImapParseError('Missing event groups');
  if (args.length - at > NOTIFY_LIMITS.maxGroups) throw new ImapParseError('Too many event groups');
  const groups: EventGroup[] = [];
  let names = 0;
  let selected = 0;
  let unsupported: string | undefined;
  for (; at < args.length; at++) {
    const { group: g, unsupported: u } = parseGroup(list(args[at], 'event group'), decodeName);
    unsupported ??= u;
    names += g.names.length;
    if (names > NOTIFY_LIMITS.maxNames) throw new ImapParseError('Too many mailbox names');
    if (g.filter === 'SELECTED' || g.filter === 'SELECTED-DELAYED') selected++;
    groups.push(g);
  }
  if (selected > 1) throw new ImapParseError('SELECTED given more than once');
  return { status, groups, unsupported };
}

function parseGroup(items: Arg[], decodeName: (wire: string) => string): { group: EventGroup; unsupported: string | undefined } {
  const f = items[0];
  if (!isAtom(f) || !FILTERS.has(f.value.toUpperCase() as Filter)) throw new ImapParseError('Unknown mailbox filter');
  const filter = f.value.toUpperCase() as Filter;
  let at = 1;
  const names: string[] = [];
  if (filter === 'SUBTREE' || filter === 'MAILBOXES') {
    const one = items[at++];
    const wire = one?.type === 'list' ? one.items : [one];
    if (wire.length === 0) throw new ImapParseError('Missing mailbox names');
    if (wire.length > NOTIFY_LIMITS.maxNames) throw new ImapParseError('Too many mailbox names');
    for (const w of wire) names.push(decodeName(astring(w, 'mailbox name')));
  }
  const eventArg = items[at++];
  if (at !== items.length) throw new ImapParseError('Junk after events');
  const events = new Set<NotifyEvent>();
  let fetchAtts: Arg[] | undefined;
  if (isAtom(eventArg, 'NONE')) return { group: { filter, names, events, fetchAtts }, unsupported: undefined };
  const evs = list(eventArg, 'events');
  if (evs.length === 0) throw new ImapParseError('Empty event list');
  let unsupported: string | undefined;
  for (let i = 0; i < evs.length; i++) {
    const e = evs[i];
    if (!isAtom(e)) throw new ImapParseError('Event name expected');
    const name = SUPPORTED.find((s) => s.toUpperCase() === e.value.toUpperCase());
    if (name === undefined) {
      if (!UNSUPPORTED.has(e.value.toUpperCase())) throw new ImapParseError('Unknown event');
      unsupported ??= e.value;
      continue;
    }
    events.add(name);
    if (name === 'MessageNew' && evs[i + 1]?.type === 'list') {
      if (filter !== 'SELECTED' && filter !== 'SELECTED-DELAYED') throw new ImapParseError('fetch-att only for the selected mailbox');
      fetchAtts = (evs[++i] as { items: Arg[] }).items;
    }
  }
  // RFC 5465 5 wants MessageNew and MessageExpunge together and FlagChange
  // only with both (else BAD); Dovecot 2.3 accepts each alone, and so do we.
  return { group: { filter, names, events, fetchAtts }, unsupported };
}

/**
 * The BADEVENT response code. RFC 5465 5.9 lists the supported events in
 * parentheses; Dovecot 2.3 names the refused event instead
 * ("[BADEVENT AnnotationChange]"), and we answer as Dovecot does.
 */
export const badEventCode = (event: string): string => `BADEVENT ${event}`;

/** The STATUS items a notification may carry, in the order Dovecot writes them. */
function statusItems(info: MailboxInfo, condstore: boolean): Array<[string, number]> {
  const items: Array<[string, number]> = [
    ['MESSAGES', info.messages],
    ['UIDNEXT', info.uidNext],
    ['UIDVALIDITY', info.uidValidity],
    ['UNSEEN', info.unseen],
  ];
  if (condstore) items.push(['HIGHESTMODSEQ', info.highestModseq]);
  return items;
}

/** An astring as Dovecot writes one: an atom when it can be, else a quoted string or literal. */
function astringValue(s: string): ImapValue {
  return /^[!#$&'+,\-./0-9:;<=>?@A-Z^_`a-z|~\]]+$/.test(s) && s.toUpperCase() !== 'NIL' ? s : { str: s };
}

/** Does a non-selected mailbox fall under the group's filter? */
function matches(g: EventGroup, name: string, subscribed: () => ReadonlySet<string>): boolean {
  switch (g.filter) {
    case 'SELECTED':
    case 'SELECTED-DELAYED':
      return false;
    case 'INBOXES':
      // Postino delivers only into INBOX (Sieve fileinto aside, as Dovecot counts it).
      return name === 'INBOX';
    case 'PERSONAL':
      return true;
    case 'SUBSCRIBED':
      return subscribed().has(name);
    case 'SUBTREE':
      return g.names.some((n) => name === n || name.startsWith(n + '/'));
    case 'MAILBOXES':
      return g.names.includes(name);
  }
}

/** How the session's NOTIFY state reaches the mailboxes and the session's view of things. */
export interface NotifyHost {
  readonly backend: ImapBackend;
  readonly user: ImapUser;
  /** The selected mailbox's id, if any (its changes go through the view, not here). */
  selectedId(): number | undefined;
  encodeName(name: string): string;
  /** CONDSTORE is on: STATUS notifications carry HIGHESTMODSEQ. */
  condstore(): boolean;
}

export class NotifyState {
  /** Mailboxes with changes not told yet: true when messages came or went, false for flags only. */
  private readonly dirty = new Map<number, boolean>();
  /** The STATUS items last told per mailbox (bounded by the account's mailboxes). */
  private readonly told = new Map<number, Map<string, number>>();
  private namesDirty = false;
  private behind = 0;
  private overflowed = false;
  private names: Map<number, string>;
  private subscriptions: Set<string>;
  /** The take() in progress: the next one waits for it (each reads and updates what was told). */
  private readonly taking = new OneAtATime();

  /** The state for a NOTIFY SET, starting from the account's mailboxes as they are now. */
  static async open(spec: NotifySpec, host: NotifyHost): Promise<NotifyState> {
    const infos = await host.backend.listMailboxes(host.user);
    const subscriptions = await host.backend.listSubscriptions(host.user);
    return new NotifyState(spec, host, infos, subscriptions);
  }

  private constructor(
    readonly spec: NotifySpec,
    private readonly host: NotifyHost,
    infos: MailboxInfo[],
    subscriptions: string[],
  ) {
    this.names = new Map(infos.map((i) => [i.id, i.name]));
    // Changes are told against the mailboxes as they are now (Dovecot omits an unchanged UIDVALIDITY from the first one too).
    for (const info of infos) this.told.set(info.id, new Map(statusItems(info, true)));
    this.subscriptions = new Set(subscriptions);
  }

  /** The fetch-att list for new messages in the selected mailbox, if asked for. */
  get selectedFetchAtts(): Arg[] | undefined {
    return this.spec.groups.find((g) => g.filter === 'SELECTED' || g.filter === 'SELECTED-DELAYED')?.fetchAtts;
  }

  /** STATUS responses for every mailbox the groups name with message events (NOTIFY SET STATUS). */
  async initialStatus(): Promise<ImapResponse[]> {
    const out: ImapResponse[] = [];
    for (const info of await this.host.backend.listMailboxes(this.host.user)) {
      const r = this.statusFor(info, ['MessageNew', 'MessageExpunge', 'FlagChange'], 'initial');
      if (r) out.push(r);
    }
    return out;
  }

  /** A committed change of the account. Returns true when something may need sending. */
  onChange(change: MailboxChange): boolean {
    if (this.overflowed) return false;
    if (change.kind === 'mailboxes') {
      if (!this.wants('MailboxName') && !this.wants('SubscriptionChange')) return false;
      this.namesDirty = true;
    } else {
      if (change.mailboxId === this.host.selectedId()) return false;
      this.dirty.set(change.mailboxId, this.dirty.get(change.mailboxId) === true || change.kind !== 'flags');
    }
    this.behind++;
    return true;
  }

  /**
   * Changes may have gone unheard: every mailbox is looked at again (its
   * STATUS items that moved since last told) and so are the names.
   */
  onMissed(): boolean {
    if (this.overflowed) return false;
    if (this.wants('MailboxName') || this.wants('SubscriptionChange')) this.namesDirty = true;
    for (const id of this.names.keys()) {
      if (id !== this.host.selectedId()) this.dirty.set(id, this.dirty.get(id) === true);
    }
    this.behind++;
    return true;
  }

  /**
   * What to send now. A client that let more than maxBehind changes pile up
   * (it did not read, or sat in one long command) gets the overflow notice
   * once instead, and no notifications after it (RFC 5465 5.8). One at a
   * time: a second caller waits for the first and gets what came after it.
   */
  take(): Promise<ImapResponse[]> {
    return this.taking.run(() => this.takeOnce());
  }

  private async takeOnce(): Promise<ImapResponse[]> {
    if (this.overflowed) return [];
    if (this.behind > NOTIFY_LIMITS.maxBehind) {
      this.overflowed = true;
      this.dirty.clear();
      this.told.clear();
      this.namesDirty = false;
      return [statusResponse('OK', 'Too many notifications', 'NOTIFICATIONOVERFLOW')];
    }
    this.behind = 0;
    const out: ImapResponse[] = [];
    // What is due now is taken at once: changes that come while the lookups below wait are the next take's.
    const due = [...this.dirty];
    this.dirty.clear();
    if (this.namesDirty) {
      this.namesDirty = false;
      out.push(...(await this.nameChanges()));
    }
    for (const [id, messages] of due) {
      if (id === this.host.selectedId()) continue;
      const info = await this.host.backend.getMailboxById(this.host.user, id);
      if (!info) {
        this.told.delete(id);
        continue;
      }
      const r = messages ? this.statusFor(info, ['MessageNew', 'MessageExpunge'], 'messages') : this.statusFor(info, ['FlagChange'], 'flags');
      if (r) out.push(r);
    }
    return out;
  }

  /** Changes wait to be told. */
  get pending(): boolean {
    return !this.overflowed && (this.dirty.size > 0 || this.namesDirty);
  }

  private wants(event: NotifyEvent): boolean {
    return this.spec.groups.some((g) => g.events.has(event));
  }

  /** The first group whose filter takes the mailbox decides its events (the differential shows Dovecot agreeing). */
  private groupFor(name: string): EventGroup | undefined {
    return this.spec.groups.find((g) => matches(g, name, () => this.subscriptions));
  }

  /**
   * The STATUS a change calls for, as Dovecot 2.3 sends it: of MESSAGES
   * UIDNEXT UIDVALIDITY UNSEEN (and HIGHESTMODSEQ with CONDSTORE), every
   * one for NOTIFY SET STATUS; when messages came or went, all but an
   * unchanged UIDVALIDITY; when only flags changed, just the items that
   * moved since last told (nothing at all when none did).
   */
  private statusFor(info: MailboxInfo, events: NotifyEvent[], why: 'initial' | 'messages' | 'flags'): ImapResponse | undefined {
    if (info.id === this.host.selectedId()) return undefined;
    const g = this.groupFor(info.name);
    if (!g || !events.some((e) => g.events.has(e))) return undefined;
    const items = statusItems(info, this.host.condstore());
    const told = this.told.get(info.id);
    const values: ImapValue[] = [];
    for (const [item, value] of items) {
      const always = why === 'initial' || (why === 'messages' && item !== 'UIDVALIDITY');
      if (always || told?.get(item) !== value) values.push(item, value);
    }
    this.told.set(info.id, new Map(items));
    if (values.length === 0) return undefined;
    return untagged('STATUS', { str: this.host.encodeName(info.name) }, values);
  }

  private async mailboxNames(): Promise<Map<number, string>> {
    // (LIST notifications only: a look at names, the counters are not kept.)
    const m = new Map<number, string>();
    for (const info of await this.host.backend.listMailboxes(this.host.user)) m.set(info.id, info.name);
    return m;
  }

  private list(attrs: string[], name: string, extra?: ImapValue): ImapResponse {
    const values: ImapValue[] = ['LIST', attrs, { str: '/' }, { str: this.host.encodeName(name) }];
    if (extra !== undefined) values.push(extra);
    return untagged(...values);
  }

  /** LIST responses for created, deleted and renamed mailboxes and (un)subscribed names since the last look. */
  private async nameChanges(): Promise<ImapResponse[]> {
    const out: ImapResponse[] = [];
    const now = await this.mailboxNames();
    const subs = new Set(await this.host.backend.listSubscriptions(this.host.user));
    const tell = (event: NotifyEvent, name: string): boolean => this.groupFor(name)?.events.has(event) === true;
    for (const [id, name] of now) {
      const old = this.names.get(id);
      if (old === undefined) {
        if (tell('MailboxName', name)) out.push(this.list([], name));
      } else if (old !== name && (tell('MailboxName', name) || tell('MailboxName', old))) {
        // RFC 5465 5.4 with RFC 5258's OLDNAME extended data item.
        out.push(this.list([], name, [{ str: 'OLDNAME' }, [astringValue(this.host.encodeName(old))]]));
      }
    }
    for (const [id, name] of this.names) {
      if (!now.has(id) && tell('MailboxName', name)) out.push(this.list(['\\NonExistent'], name));
    }
    // CREATE subscribes the new name too; Dovecot tells only of the mailbox then.
    const created = new Set([...now].filter(([id]) => !this.names.has(id)).map(([, name]) => name));
    for (const name of subs) if (!this.subscriptions.has(name) && !created.has(name) && tell('SubscriptionChange', name)) out.push(this.list(['\\Subscribed'], name));
    for (const name of this.subscriptions) if (!subs.has(name) && tell('SubscriptionChange', name)) out.push(this.list([], name));
    this.names = now;
    this.subscriptions = subs;
    return out;
  }
}
