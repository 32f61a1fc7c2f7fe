// Makes a data directory for bench/imap-read.ts: one account with Big
// (BIG_COUNT messages of 600 bytes) and Ten (10,000 messages of 4 KB, one
// with a needle), stored by this build's own storage code.
// usage: node dist/bench/imap-read-fill.js DIR [BIG_COUNT]
import { mkdirSync } from 'node:fs';
import { openStorage } from '../storage/index.js';
import { indexMessageJson } from '../mime/index.js';
import { AdminService } from '../src/services/admin.js';
import { makeMessage } from '../test/support/messages.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: imap-read-fill DIR [BIG_COUNT]');
const bigCount = Number(process.argv[3] ?? 20_000);
export const USER = 'bench@example.test';
export const PASSWORD = 'correct horse staple 1234';

mkdirSync(dir, { recursive: true });
const storage = openStorage(dir, { indexer: indexMessageJson });
await new AdminService(storage).addDomain('example.test', USER, { password: PASSWORD, allowWeak: false });
const account = (await storage.directory.getAccount(USER))!;
await storage.mail.createMailbox(account.id, 'Big');
await storage.mail.createMailbox(account.id, 'Ten');
async function fill(mailbox: string, count: number, make: (i: number) => Buffer): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await storage.mail.append(account.id, mailbox, make(next++));
  };
  await Promise.all(Array.from({ length: 128 }, lane));
}
const small = [0, 1, 2, 3].map((i) => makeMessage(`big-${i}`, 600));
await fill('Big', bigCount, (i) => small[i % small.length]!);
await fill('Ten', 10_000, (i) => makeMessage(`ten-${i}${i === 7777 ? '-needle' : ''}`, 4096));
await storage.mail.drain();
storage.close();
console.log(`filled ${dir}`);
