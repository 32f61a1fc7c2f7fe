// Connection limits of the IMAP listener: the per-IP cap, and server
// shutdown saying BYE to open sessions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startImapHarness } from './imap-harness.js';
import { RawImap } from './imap-raw-client.js';

test('per-IP connection cap: the connection over it gets BYE [UNAVAILABLE], others keep working', async () => {
  const h = await startImapHarness({ maxConnectionsPerIp: 3 });
  try {
    const open = await Promise.all([0, 1, 2].map(() => RawImap.connect(h.port, false)));
    await assert.rejects(RawImap.connect(h.port, false), /BYE \[UNAVAILABLE\]|closed/);
    assert.match(await open[0]!.cmd('NOOP'), /OK/);
    open[2]!.close();
    await new Promise((r) => setTimeout(r, 100));
    const again = await RawImap.connect(h.port, false);
    assert.match(await again.cmd('CAPABILITY'), /STARTTLS/);
    for (const c of [...open, again]) c.close();
  } finally {
    await h.close();
  }
});

test('closing the listener says BYE to open sessions (also while idling)', async () => {
  const h = await startImapHarness();
  const c = await RawImap.connect(h.tlsPort, true);
  await c.cmd('LOGIN "alice@example.test" "correct horse battery staple 42"');
  await c.cmd('SELECT INBOX');
  c.write('i1 IDLE\r\n');
  await c.waitFor(/^\+ idling\r\n/m);
  const closing = h.close();
  await c.waitFor(/\* BYE [^\r\n]*\r\n/);
  await closing;
  c.close();
});

test('quota: APPEND over the account quota is NO [OVERQUOTA]; GETQUOTAROOT reports usage in KiB', async () => {
  const h = await startImapHarness({ quota: 4096 });
  try {
    const c = await RawImap.connect(h.tlsPort, true);
    await c.cmd('LOGIN "alice@example.test" "correct horse battery staple 42"');
    const q = await c.cmd('GETQUOTAROOT INBOX');
    assert.match(q, /\* QUOTAROOT "INBOX" ""\r\n\* QUOTA "" \(STORAGE 0 4\)/);
    const big = `Subject: big\r\n\r\n${'x'.repeat(5000)}\r\n`;
    c.write(`a1 APPEND INBOX {${big.length}+}\r\n${big}\r\n`);
    assert.match(await c.waitFor(/a1 [^\r\n]*\r\n/), /a1 NO \[OVERQUOTA\]/);
    c.close();
  } finally {
    await h.close();
  }
});

test('a session whose selected mailbox another session deletes is told BYE', async () => {
  const h = await startImapHarness();
  try {
    const login = async () => {
      const c = await RawImap.connect(h.tlsPort, true);
      await c.cmd('LOGIN "alice@example.test" "correct horse battery staple 42"');
      return c;
    };
    const a = await login();
    const b = await login();
    await a.cmd('CREATE Doomed');
    await a.cmd('SELECT Doomed');
    assert.match(await b.cmd('DELETE Doomed'), /OK/);
    assert.match(await a.cmd('NOOP'), /OK/);
    await a.waitFor(/^\* BYE Selected mailbox was deleted\r\n/m);
    a.close();
    b.close();
  } finally {
    await h.close();
  }
});
