// CONTEXT=SEARCH (RFC 5267 4): searches made with RETURN (UPDATE) follow
// the selected mailbox. When the view catches up (selected.ts flush and
// searchUpdatesDue), each
// one is told which of its messages were expunged (REMOVEFROM, before the
// EXPUNGE) and which new or changed messages now match or stop matching
// (ADDTO / REMOVEFROM, after EXISTS and FETCH), as Dovecot 2.3 sends them:
// one ESEARCH line per search, position 0, REMOVEFROM before ADDTO. They end
// with CANCELUPDATE or when another mailbox is selected (the view goes).
import type { SessionContext } from '../command.js';
import type { SearchUpdateHook, SelectedMailbox } from '../selected.js';
import type { SearchKey } from '../search.js';
import { quote, untagged, type ImapResponse, type ImapValue } from '../response.js';
import { formatSequenceSet } from '../sequence.js';
import { matchingMessages } from './matching.js';

/** Searches one session may keep updated at once; more get OK [NOUPDATE "tag"]. */
export const MAX_SEARCH_UPDATES = 16;

interface UpdatedSearch {
  byUid: boolean;
  key: SearchKey;
  /** UIDs the client was told match. */
  matched: Set<number>;
}

export class SearchUpdates implements SearchUpdateHook {
  private readonly searches = new Map<string, UpdatedSearch>();

  constructor(
    private readonly ctx: SessionContext,
    private readonly sel: SelectedMailbox,
  ) {}

  has(tag: string): boolean {
    return this.searches.has(tag);
  }

  get full(): boolean {
    return this.searches.size >= MAX_SEARCH_UPDATES;
  }

  add(tag: string, byUid: boolean, key: SearchKey, matched: readonly number[]): void {
    this.searches.set(tag, { byUid, key, matched: new Set(matched) });
  }

  /** Ends the updates of these tags; false (and nothing ended) when one is unknown. */
  cancel(tags: readonly string[]): boolean {
    if (!tags.every((t) => this.searches.has(t))) return false;
    for (const t of tags) this.searches.delete(t);
    return true;
  }

  expunged(uids: readonly number[]): ImapResponse[] {
    const out: ImapResponse[] = [];
    for (const [tag, s] of this.searches) {
      const removed = uids.filter((uid) => s.matched.delete(uid));
      if (removed.length > 0) out.push(this.line(tag, s, removed, []));
    }
    return out;
  }

  async changed(uids: readonly number[]): Promise<ImapResponse[]> {
    const out: ImapResponse[] = [];
    for (const [tag, s] of this.searches) {
      const now = new Set<number>();
      for await (const m of matchingMessages(this.ctx, s.key, { only: uids })) now.add(m.record.uid);
      const removed = uids.filter((uid) => s.matched.has(uid) && !now.has(uid));
      const added = uids.filter((uid) => !s.matched.has(uid) && now.has(uid));
      for (const uid of removed) s.matched.delete(uid);
      for (const uid of added) s.matched.add(uid);
      if (removed.length > 0 || added.length > 0) out.push(this.line(tag, s, removed, added));
    }
    return out;
  }

  private line(tag: string, s: UpdatedSearch, removed: number[], added: number[]): ImapResponse {
    const values: ImapValue[] = ['ESEARCH', `(TAG ${quote(tag)})`];
    if (s.byUid) values.push('UID');
    const ids = (uids: number[]) => formatSequenceSet(s.byUid ? uids : uids.map((uid) => this.sel.seqOf(uid)).sort((x, y) => x - y));
    if (removed.length > 0) values.push('REMOVEFROM', `(0 ${ids(removed)})`);
    if (added.length > 0) values.push('ADDTO', `(0 ${ids(added)})`);
    return untagged(...values);
  }
}

/** The session's updated searches for the selected mailbox, made on first use. */
export function searchUpdatesOf(ctx: SessionContext): SearchUpdates {
  const sel = ctx.selected!;
  if (!(sel.searchUpdates instanceof SearchUpdates)) sel.searchUpdates = new SearchUpdates(ctx, sel);
  return sel.searchUpdates as SearchUpdates;
}
