// A separate process that stores messages and reports each one on stdout
// only after append() resolved (i.e. after it is durable). Used by the
// concurrency and crash-safety tests.
// usage: node append-worker.js DATA_DIR ADDRESS COUNT ID_PREFIX [IN_FLIGHT]
import { writeSync } from 'node:fs';
import { openStorage } from '../../storage/index.js';
import { makeMessage } from './messages.js';

const [dataDir, address, countText, prefix, inFlightText] = process.argv.slice(2);
const storage = openStorage(dataDir!);
const account = await storage.directory.getAccount(address!);
if (!account) {
  process.stderr.write(`no account ${address}\n`);
  process.exit(2);
}
const count = Number(countText);
const inFlight = Number(inFlightText ?? 8);
let next = 0;

async function store(i: number): Promise<void> {
  const id = `${prefix}-${i}`;
  const flags = i % 3 === 0 ? ['\\Seen'] : i % 3 === 1 ? ['\\Flagged', '$Label1'] : [];
  const r = await storage.mail.append(account!.id, 'INBOX', makeMessage(id, 2000 + (i % 7) * 500), { flags });
  writeSync(1, `stored ${id} ${r.uid}\n`);
}

async function lane(): Promise<void> {
  while (next < count) await store(next++);
}

// The first message starts the store's writer threads; after it, tell a
// watching test that storing is under way at full pace.
if (count > 0) await store(next++);
writeSync(1, 'ready\n');

await Promise.all(Array.from({ length: inFlight }, lane));
storage.close();
