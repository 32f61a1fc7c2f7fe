// The mixed IMAP load both IMAP benches run against Postino and Dovecot.
import { makeMessage } from '../test/support/messages.js';
import { RawImap } from '../test/integration/imap-raw-client.js';

/**
 * `clients` clients, each looping SELECT, APPEND, FETCH (flags + header of
 * the newest), STORE \\Deleted, EXPUNGE on the shared INBOX; commands per second.
 */
export async function mixedLoad(port: number, secure: boolean, user: string, password: string, seconds = 15, clients = 10): Promise<number> {
  const conns = await Promise.all(
    Array.from({ length: clients }, async () => {
      const c = await RawImap.connect(port, secure);
      const r = await c.cmd(`LOGIN "${user}" "${password}"`, 30_000);
      if (!/ OK /.test(r)) throw new Error(`login failed: ${r}`);
      return c;
    }),
  );
  const body = makeMessage('load', 2048).toString('latin1');
  let commands = 0;
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(
    conns.map(async (c) => {
      while (Date.now() < deadline) {
        await c.cmd('SELECT INBOX');
        const tag = c.nextTag();
        c.write(`${tag} APPEND INBOX {${body.length}+}\r\n${body}\r\n`);
        await c.waitFor(new RegExp(`${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`));
        await c.cmd('FETCH * (FLAGS BODY.PEEK[HEADER])');
        await c.cmd('STORE * +FLAGS.SILENT (\\Deleted)');
        await c.cmd('EXPUNGE');
        commands += 5;
      }
    }),
  );
  for (const c of conns) c.close();
  return commands / seconds;
}
