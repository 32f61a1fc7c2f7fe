// MOVE is one step in the store: `postino serve` killed with SIGKILL while
// two sessions move messages back and forth between INBOX and Archive
// (UID MOVE of the whole mailbox, over and over) leaves, after the recovery
// a restart does, every message in exactly one of the two folders, whole,
// with the index and the Maildir files agreeing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { openSqliteParts as openStorage } from '../../storage/index.js';
import { scratchDir } from '../support/tmp.js';
import { startServe } from '../support/serve.js';
import { postino } from '../support/cli.js';
import { cliPath } from '../support/paths.js';
import { makeMessage, messageId } from '../support/messages.js';
import { prng } from '../support/prng.js';
import { SERVICES } from '../../src/config.js';
import { RawImap } from './imap-raw-client.js';

const freePorts = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
const PASSWORD = 'a long enough passphrase 77';
const USER = 'mover@example.test';
const TRIALS = 20;
const MESSAGES = 80;

test(`serve killed with SIGKILL during MOVEs (${TRIALS} trials) leaves every message in exactly one folder`, { timeout: 600_000 }, async () => {
  const s = scratchDir();
  const random = prng(20261206);
  try {
    const add = postino(s.dir, ['domain', 'add', 'example.test', '--postmaster', USER, '--password-stdin'], `${PASSWORD}\n`);
    assert.equal(add.code, 0, add.stderr);
    const ids = Array.from({ length: MESSAGES }, (_, i) => `move-${i}`);
    {
      const storage = openStorage(s.dir);
      const account = storage.directory.getAccount(USER)!;
      for (const id of ids) await storage.mail.append(account.id, 'INBOX', makeMessage(id, 1500));
      storage.close();
    }
    const root = path.join(s.dir, 'mail', 'example.test', 'mover');
    let movesSeen = 0;
    let killedMidMove = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      const served = startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], { ...freePorts, POSTINO_DEMO: '0' });
      const exited = new Promise((r) => served.child.on('exit', r));
      const imaps = await served.waitFor((e) => e.event === 'listening' && e.service === 'imaps');
      const port = Number(imaps.port);
      // Two sessions, each moving everything from one folder to the other, again and again.
      let stop = false;
      let inFlight = 0;
      let onMoving: () => void = () => {};
      const moving = new Promise<void>((r) => (onMoving = r));
      const mover = async (from: string, to: string) => {
        let c: RawImap | undefined;
        try {
          c = await RawImap.connect(port, true);
          await c.cmd(`LOGIN "${USER}" "${PASSWORD}"`, 20_000);
          while (!stop) {
            await c.cmd(`SELECT ${from}`, 20_000);
            inFlight++;
            onMoving();
            const r = c.cmd(`UID MOVE 1:* ${to}`, 20_000);
            try {
              if (/\* OK \[COPYUID/.test(await r)) movesSeen++;
            } finally {
              inFlight--;
            }
          }
        } catch {
          // the server was killed under it
        } finally {
          c?.close();
        }
      };
      const movers = [mover('INBOX', 'Archive'), mover('Archive', 'INBOX')];
      await moving;
      await new Promise((r) => setTimeout(r, Math.floor(random() * 60)));
      if (inFlight > 0) killedMidMove++;
      served.child.kill('SIGKILL');
      await exited;
      stop = true;
      await Promise.all(movers);

      // What the next start does: reconcile the index with the Maildir; then look.
      const storage = openStorage(s.dir);
      try {
        const account = storage.directory.getAccount(USER)!;
        storage.mail.recoverAccount(account.id);
        const where = new Map<string, string[]>();
        for (const name of ['INBOX', 'Archive']) {
          const box = storage.mail.getMailbox(account.id, name)!;
          for (const rec of storage.mail.listMessages(box.id)) {
            const raw = await storage.mail.readMessage(box.id, rec.uid);
            const id = messageId(raw);
            assert.ok(id, `trial ${trial}: ${name} uid ${rec.uid} is one of ours`);
            assert.deepEqual(raw, makeMessage(id, 1500), `trial ${trial}: ${id} is whole`);
            where.set(id, [...(where.get(id) ?? []), name]);
          }
        }
        for (const id of ids) assert.equal(where.get(id)?.length, 1, `trial ${trial}: ${id} is in exactly one folder: ${JSON.stringify(where.get(id))}`);
        // No file outside the index: every message file on disk is one of the indexed ones.
        const files = ['', '.Archive'].flatMap((dir) =>
          ['new', 'cur'].flatMap((sub) => readdirSync(path.join(root, dir, sub)).map((f) => path.join(root, dir, sub, f))),
        );
        assert.equal(files.length, MESSAGES, `trial ${trial}: one file per message`);
        for (const f of files) assert.ok(messageId(readFileSync(f)), f);
      } finally {
        storage.close();
      }
    }
    assert.ok(killedMidMove >= TRIALS / 2, `most kills came with a MOVE in flight (${killedMidMove} of ${TRIALS}; ${movesSeen} MOVEs completed)`);
  } finally {
    s.cleanup();
  }
});
