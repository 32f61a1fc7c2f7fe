// The checks every backend makes of a MailImport batch (storage/mail/import.ts, storage/memory/import.ts).
import type { FolderImport } from './ports.js';
import { MailError } from './errors.js';
import { pop3UidlProblem } from './pop3-uidl.js';

const MAX_UID = 0xffffffff;

/** MODSEQs are positive and (RFC 7162: 63 bits) kept below 2^53 here, as numbers. */
function isModseq(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 1;
}

/** A batch that could not have come from a sane source is refused before anything is written. */
export function checkBatch(batch: FolderImport): void {
  const isUid = (n: number) => Number.isInteger(n) && n >= 1 && n <= MAX_UID;
  if (!isUid(batch.uidValidity)) throw new MailError('BADINPUT', `bad UIDVALIDITY ${batch.uidValidity} for ${batch.name}`);
  if (!Number.isInteger(batch.uidNext) || batch.uidNext < 1 || batch.uidNext > MAX_UID + 1) throw new MailError('BADINPUT', `bad UIDNEXT for ${batch.name}`);
  let last = 0;
  for (const m of batch.add) {
    if (!isUid(m.uid) || m.uid <= last) throw new MailError('BADINPUT', `UIDs of ${batch.name} not ascending at ${m.uid}`);
    last = m.uid;
    if (m.modseq !== undefined && !isModseq(m.modseq)) throw new MailError('BADINPUT', `bad MODSEQ for UID ${m.uid} of ${batch.name}`);
    if (m.bodyId !== undefined && !/^[\x21-\x7e]{1,255}$/.test(m.bodyId)) throw new MailError('BADINPUT', `bad body id for UID ${m.uid} of ${batch.name}`);
    const problem = m.pop3Uidl === undefined ? undefined : pop3UidlProblem(m.pop3Uidl);
    if (problem) throw new MailError('BADINPUT', `POP3 UIDL of UID ${m.uid} of ${batch.name}: ${problem}`);
  }
  if (batch.highestModseq !== undefined && !isModseq(batch.highestModseq)) throw new MailError('BADINPUT', `bad HIGHESTMODSEQ for ${batch.name}`);
  for (const f of batch.flags) {
    if (f.modseq !== undefined && !isModseq(f.modseq)) throw new MailError('BADINPUT', `bad MODSEQ for UID ${f.uid} of ${batch.name}`);
  }
  for (const v of batch.vanished ?? []) {
    if (!isUid(v.uid) || !isModseq(v.modseq)) throw new MailError('BADINPUT', `bad expunged UID ${v.uid} of ${batch.name}`);
  }
}
