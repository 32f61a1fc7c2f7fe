// The rows the last listings of a few mailboxes gave, as port records with
// their files' refs: ten IMAP sessions fetching FLAGS and ENVELOPE of one
// shared mailbox list the same rows over and over, and reading whole rows
// (with their MIME JSON) cost more than everything else such a FETCH does.
//
// An entry is used only for the row it was made from: the same mailbox (its
// UIDVALIDITY too: an import that replaces a folder keeps its id and may
// reuse UIDs), the same UID and the same MODSEQ. Every change to a row's
// flags gives it a higher MODSEQ, and a message's other fields never change,
// so a row with the entry's MODSEQ is the entry's row (Messages.list checks
// that from the index before it uses one). A ref can only be out of date (a
// rename or removal since), never another message's: a read that finds no
// file under it asks the index (Messages.read).
import type { MessageRecord } from '../ports.js';

export interface ListedRow {
  modseq: number;
  /** Shared by every caller that lists the row: read-only. */
  record: MessageRecord;
  /** The body's ref (its file in the Maildir folder) as listed. */
  ref: string;
}

interface Box {
  uidValidity: number;
  rows: Map<number, ListedRow>;
  chars: number;
}

/** About what a row costs besides its MIME JSON and ref, in characters. */
const ROW_OVERHEAD = 200;
const charsOf = (row: ListedRow) => ROW_OVERHEAD + row.ref.length + (row.record.mime?.length ?? 0);

export class ListedRows {
  private readonly boxes = new Map<number, Box>();
  private count = 0;
  private chars = 0;

  /**
   * At most `maxRows` rows and `maxChars` characters (MIME JSON and refs) in
   * all, of at most `maxMailboxes` mailboxes (least recently listed dropped first).
   */
  constructor(
    private readonly maxRows: number,
    private readonly maxChars: number,
    private readonly maxMailboxes: number,
  ) {}

  /** The mailbox's rows, when kept for this UIDVALIDITY (else what was kept goes). */
  rows(mailboxId: number, uidValidity: number): ReadonlyMap<number, ListedRow> | undefined {
    const box = this.boxes.get(mailboxId);
    if (box === undefined) return undefined;
    if (box.uidValidity !== uidValidity) {
      this.drop(mailboxId);
      return undefined;
    }
    return box.rows;
  }

  /** The ref a listing gave for the message, if kept. */
  ref(mailboxId: number, uid: number): string | undefined {
    return this.boxes.get(mailboxId)?.rows.get(uid)?.ref;
  }

  /** A listing of the UIDs from..to: its rows replace what was kept of that range. */
  keep(mailboxId: number, uidValidity: number, fromUid: number, toUid: number, listed: readonly ListedRow[]): void {
    const old = this.boxes.get(mailboxId);
    this.drop(mailboxId);
    if (listed.length > this.maxRows) return;
    const rows = new Map<number, ListedRow>();
    let chars = 0;
    if (old !== undefined && old.uidValidity === uidValidity) {
      for (const [uid, row] of old.rows) {
        if (uid >= fromUid && uid <= toUid) continue;
        rows.set(uid, row);
        chars += charsOf(row);
      }
    }
    for (const row of listed) {
      rows.set(row.record.uid, row);
      chars += charsOf(row);
    }
    if (rows.size > this.maxRows || chars > this.maxChars) return;
    this.boxes.set(mailboxId, { uidValidity, rows, chars });
    this.count += rows.size;
    this.chars += chars;
    while (this.boxes.size > this.maxMailboxes || this.count > this.maxRows || this.chars > this.maxChars) this.drop(this.boxes.keys().next().value!);
  }

  /**
   * The message's file was renamed here (a flag change): its ref follows.
   * The record stays as listed: its MODSEQ is older than the row's now, so
   * no list() reuses it, while a read still finds the file with no lookup.
   */
  renamed(mailboxId: number, uid: number, ref: string): void {
    const box = this.boxes.get(mailboxId);
    const row = box?.rows.get(uid);
    if (box === undefined || row === undefined) return;
    const moved = { ...row, ref };
    const grown = charsOf(moved) - charsOf(row);
    box.rows.set(uid, moved);
    box.chars += grown;
    this.chars += grown;
  }

  /** The message's file was removed here: its entry goes. */
  forget(mailboxId: number, uid: number): void {
    const box = this.boxes.get(mailboxId);
    const row = box?.rows.get(uid);
    if (box === undefined || row === undefined) return;
    box.rows.delete(uid);
    box.chars -= charsOf(row);
    this.count--;
    this.chars -= charsOf(row);
  }

  private drop(mailboxId: number): void {
    const box = this.boxes.get(mailboxId);
    if (box === undefined) return;
    this.boxes.delete(mailboxId);
    this.count -= box.rows.size;
    this.chars -= box.chars;
  }
}
