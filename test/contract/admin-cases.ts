// The admin port's records (storage/admin.ts): administrator accounts,
// hashed credentials (tokens, sessions) that go at once when revoked or
// expired, and the audit log, newest first, written in a unit of work and
// undone with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CredentialRecord } from '../../storage/ports.js';
import { failsWith, type Fixture } from './suite.js';

function credential(id: string, over: Partial<CredentialRecord> = {}): CredentialRecord {
  return { id, kind: 'token', name: id, hash: `hash-${id}`, principal: { kind: 'admin', name: 'root' }, created: 1000, lastUsed: null, expires: null, ...over };
}

export function adminCases(fx: Fixture): void {
  test('admin: accounts by lower-case username, listed in order; a second of one name is ALREADYEXISTS; removal takes its credentials', async () => {
    const { admin } = fx.s;
    const made = await admin.addAdmin({ username: 'Root', passwordHash: 'h1', domains: [] });
    assert.equal(made.username, 'root');
    await admin.addAdmin({ username: 'dom', passwordHash: 'h2', domains: ['example.test'] });
    await failsWith('ALREADYEXISTS', () => admin.addAdmin({ username: 'ROOT', passwordHash: 'x', domains: [] }));
    assert.deepEqual((await admin.listAdmins()).map((a) => [a.username, a.domains]), [['dom', ['example.test']], ['root', []]]);
    assert.equal((await admin.getAdmin('ROOT'))?.passwordHash, 'h1');
    await admin.setAdminPassword('root', 'h3');
    assert.equal((await admin.getAdmin('root'))?.passwordHash, 'h3');
    await admin.addCredential(credential('t1'));
    await admin.removeAdmin('root');
    assert.equal(await admin.getAdmin('root'), undefined);
    assert.equal(await admin.findCredential('hash-t1'), undefined);
    await failsWith('NONEXISTENT', () => admin.removeAdmin('root'));
    await failsWith('NONEXISTENT', () => admin.setAdminPassword('nobody', 'x'));
  });

  test('admin: credentials found by hash, listed per principal and kind, touched, revoked, pruned when expired', async () => {
    const { admin } = fx.s;
    await admin.addCredential(credential('t1'));
    await admin.addCredential(credential('t2', { created: 2000 }));
    await admin.addCredential(credential('s1', { kind: 'session', expires: 5000 }));
    await admin.addCredential(credential('u1', { kind: 'session', principal: { kind: 'user', name: 'alice@example.test' }, expires: 9000 }));
    await failsWith('ALREADYEXISTS', () => admin.addCredential(credential('t3', { hash: 'hash-t1' })));
    await failsWith('ALREADYEXISTS', () => admin.addCredential(credential('t1', { hash: 'other' })));
    assert.deepEqual((await admin.listCredentials({ kind: 'admin', name: 'root' }, 'token')).map((c) => c.id), ['t1', 't2']);
    assert.deepEqual((await admin.listCredentials({ kind: 'admin', name: 'root' }, 'session')).map((c) => c.id), ['s1']);
    assert.deepEqual(await admin.findCredential('hash-u1'), credential('u1', { kind: 'session', principal: { kind: 'user', name: 'alice@example.test' }, expires: 9000 }));
    await admin.touchCredential('t1', 3000);
    assert.equal((await admin.findCredential('hash-t1'))?.lastUsed, 3000);
    await admin.touchCredential('s1', 3000, 7000);
    assert.equal((await admin.findCredential('hash-s1'))?.expires, 7000);
    await admin.removeCredential('t1');
    assert.equal(await admin.findCredential('hash-t1'), undefined);
    await failsWith('NONEXISTENT', () => admin.removeCredential('t1'));
    await admin.pruneCredentials(8000);
    assert.equal(await admin.findCredential('hash-s1'), undefined);
    assert.ok(await admin.findCredential('hash-u1'));
    assert.ok(await admin.findCredential('hash-t2'), 'no expiry: kept');
    await admin.removeCredentialsOf({ kind: 'user', name: 'ALICE@example.test' });
    assert.equal(await admin.findCredential('hash-u1'), undefined);
  });

  test('admin: the audit log newest first, paged by id; an entry written in an undone unit of work is gone with it', async () => {
    const { admin } = fx.s;
    const a = await admin.appendAudit({ at: 1, actor: 'root', action: 'domain.add', target: 'a.test', before: null, after: '{"domain":"a.test"}' });
    const b = await fx.s.transaction(async (tx) => tx.admin.appendAudit({ at: 2, actor: 'root', action: 'account.add', target: 'x@a.test', before: null, after: '{}' }));
    assert.ok(b.id > a.id);
    await assert.rejects(
      fx.s.transaction(async (tx) => {
        await tx.directory.addDomain('undone.test');
        await tx.admin.appendAudit({ at: 3, actor: 'root', action: 'domain.add', target: 'undone.test', before: null, after: null });
        throw new Error('undo');
      }),
    );
    const all = await admin.listAudit(10);
    assert.deepEqual(all.map((e) => e.target), ['x@a.test', 'a.test']);
    assert.deepEqual(all[1], a);
    assert.deepEqual((await admin.listAudit(10, b.id)).map((e) => e.id), [a.id]);
    assert.deepEqual((await admin.listAudit(1)).map((e) => e.id), [b.id]);
  });
}
