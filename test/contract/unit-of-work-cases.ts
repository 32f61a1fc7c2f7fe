// Units of work (Storage.transaction): every port changes as a whole or not
// at all, outside callers never see what an open unit has not committed,
// and units run one after another.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { failsWith, msg, type Fixture } from './suite.js';
import type { MailboxChange } from '../../storage/ports.js';

export function unitOfWorkCases(fx: Fixture): void {
  test('transaction: returns what its body returns; a body that throws leaves nothing behind (directory, mail, scripts, delivery memory)', async () => {
    const s = fx.s;
    assert.equal(await s.transaction(async () => 42), 42);
    await s.mail.append(fx.alice, 'INBOX', msg('kept'));
    const inbox = (await s.mail.getMailbox(fx.alice, 'INBOX'))!;
    await assert.rejects(
      s.transaction(async (tx) => {
        await tx.directory.addDomain('t.test');
        const u = await tx.directory.addAccount({ address: 'u@t.test', passwordHash: 'h', scramSha256: null, quota: null });
        await tx.mail.provisionAccount(u.id);
        await tx.directory.addAliasTargets('v@t.test', ['u@t.test']);
        await tx.directory.setQuota('alice@example.test', 1);
        await tx.mail.createMailbox(fx.alice, 'Rolled');
        await tx.mail.addSubscription(fx.alice, 'Elsewhere');
        await tx.mail.setFlags(inbox.id, [1], 'add', ['\\Seen']);
        await tx.scripts.put(fx.alice, 'rolled-back', 'keep;');
        await tx.memory.recordVacation(fx.alice, 'x@remote.test', 'h', 60_000);
        assert.equal(await tx.directory.hasDomain('t.test'), true, 'the unit sees its own changes');
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(await s.directory.hasDomain('t.test'), false);
    assert.equal(await s.directory.getAccount('u@t.test'), undefined);
    assert.equal(await s.directory.getAlias('v@t.test'), undefined);
    assert.equal((await s.directory.getAccount('alice@example.test'))?.quota, null);
    assert.equal(await s.mail.hasMailbox(fx.alice, 'Rolled'), false);
    assert.equal((await s.mail.listSubscriptions(fx.alice)).includes('Elsewhere'), false);
    assert.deepEqual((await s.mail.getMessage(inbox.id, 1))?.flags, []);
    assert.equal((await s.mail.getMailbox(fx.alice, 'INBOX'))?.highestModseq, inbox.highestModseq);
    assert.deepEqual(await s.scripts.list(fx.alice), [], 'the script store is part of the unit');
    assert.equal(await s.memory.vacationSentRecently(fx.alice, 'x@remote.test', 'h'), false, 'so is delivery memory');
    // And the store goes on working.
    await s.mail.createMailbox(fx.alice, 'After');
    assert.equal(await s.mail.hasMailbox(fx.alice, 'After'), true);
  });

  test('transaction: a body that resolves lands every change', async () => {
    const s = fx.s;
    const carol = await s.transaction(async (tx) => {
      const a = await tx.directory.addAccount({ address: 'carol@example.test', passwordHash: 'h', scramSha256: null, quota: null });
      await tx.mail.provisionAccount(a.id);
      await tx.scripts.put(a.id, 'main', 'keep;');
      await tx.scripts.activate(a.id, 'main');
      return a;
    });
    assert.equal((await s.directory.getAccount('carol@example.test'))?.id, carol.id);
    assert.equal(await s.mail.hasMailbox(carol.id, 'INBOX'), true);
    assert.deepEqual(await s.scripts.active(carol.id), { name: 'main', text: 'keep;' });
  });

  test('transaction: spans the directory and the mail index (an account removed with its mail, or not at all)', async () => {
    const s = fx.s;
    await s.mail.append(fx.alice, 'INBOX', msg('keep'));
    await assert.rejects(
      s.transaction(async (tx) => {
        await tx.mail.deleteAccountMail(fx.alice);
        await tx.directory.removeAccount('alice@example.test');
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.ok(await s.directory.getAccount('alice@example.test'));
    const inbox = (await s.mail.getMailbox(fx.alice, 'INBOX'))!;
    assert.equal(inbox.messages, 1);
    assert.deepEqual(await s.mail.readMessage(inbox.id, 1), msg('keep'));
    assert.equal((await s.mail.quota(fx.alice)).usedMessages, 1);
    assert.ok((await s.mail.listSubscriptions(fx.alice)).includes('INBOX'));

    await s.transaction(async (tx) => {
      await tx.mail.deleteAccountMail(fx.alice);
      await tx.directory.removeAccount('alice@example.test');
    });
    assert.equal(await s.directory.getAccount('alice@example.test'), undefined);
    assert.deepEqual(await s.mail.listMailboxes(fx.alice), []);
    assert.deepEqual(await s.mail.listSubscriptions(fx.alice), []);
  });

  test('transaction: a nested one that throws undoes only itself', async () => {
    const s = fx.s;
    await s.transaction(async (tx) => {
      await tx.directory.addDomain('outer.test');
      await assert.rejects(
        tx.transaction(async (inner) => {
          await inner.directory.addDomain('inner.test');
          await inner.mail.createMailbox(fx.alice, 'Inner');
          throw new Error('inner');
        }),
        /inner/,
      );
      await tx.transaction(async (inner) => inner.directory.addDomain('kept.test'));
    });
    assert.equal(await s.directory.hasDomain('outer.test'), true);
    assert.equal(await s.directory.hasDomain('inner.test'), false);
    assert.equal(await s.mail.hasMailbox(fx.alice, 'Inner'), false);
    assert.equal(await s.directory.hasDomain('kept.test'), true);
  });

  test('transaction: a read from outside while a unit is open does not see its uncommitted changes', async () => {
    const s = fx.s;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const unit = s.transaction(async (tx) => {
      await tx.directory.addDomain('pending.test');
      await tx.mail.createMailbox(fx.alice, 'Pending');
      entered();
      await held;
      throw new Error('rolled back');
    });
    await inside;
    // Asked while the unit is open: answered with the state before it (at once, or once it has ended).
    const reads = Promise.all([s.directory.hasDomain('pending.test'), s.mail.hasMailbox(fx.alice, 'Pending'), s.directory.listDomains()]);
    await new Promise((r) => setImmediate(r));
    release();
    await assert.rejects(unit, /rolled back/);
    const [domain, mailbox, domains] = await reads;
    assert.equal(domain, false);
    assert.equal(mailbox, false);
    assert.deepEqual(domains.map((d) => d.name), ['example.test']);
  });

  test('transaction: a write from outside while a unit is open is not taken into it (it lands even when the unit rolls back)', async () => {
    const s = fx.s;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const unit = s.transaction(async (tx) => {
      await tx.directory.addDomain('pending.test');
      entered();
      await held;
      throw new Error('rolled back');
    });
    await inside;
    const write = s.directory.addDomain('outside.test');
    const append = s.mail.append(fx.alice, 'INBOX', msg('outside'));
    await new Promise((r) => setImmediate(r));
    release();
    await assert.rejects(unit, /rolled back/);
    await write;
    const appended = await append;
    assert.equal(await s.directory.hasDomain('outside.test'), true);
    assert.equal(await s.directory.hasDomain('pending.test'), false);
    assert.deepEqual(await s.mail.readMessage(appended.mailboxId, appended.uid), msg('outside'));
  });

  test('transaction: concurrent units run one after another, each seeing the one before it committed', async () => {
    const s = fx.s;
    const order: string[] = [];
    const unit = (name: string) =>
      s.transaction(async (tx) => {
        order.push(`${name} begins`);
        const before = (await tx.directory.getAccount('alice@example.test'))!.quota ?? 0;
        await new Promise((r) => setImmediate(r));
        await tx.directory.setQuota('alice@example.test', before + 1);
        order.push(`${name} ends`);
      });
    await Promise.all([unit('a'), unit('b'), unit('c')]);
    assert.deepEqual(order, ['a begins', 'a ends', 'b begins', 'b ends', 'c begins', 'c ends']);
    assert.equal((await s.directory.getAccount('alice@example.test'))?.quota, 3, 'no update was lost');
  });

  test('transaction: the ports of a unit stop working when it ends; the storage ports are refused inside it (no deadlock)', async () => {
    const s = fx.s;
    let kept: Parameters<Parameters<typeof s.transaction>[0]>[0] | undefined;
    await s.transaction(async (tx) => {
      kept = tx;
      await assert.rejects(s.directory.hasDomain('example.test'), /tx/);
    });
    await assert.rejects(kept!.directory.hasDomain('example.test'), /ended/);
  });

  test('transaction: a unit that removes scripts and then throws leaves them readable (and one that commits removes them)', async () => {
    const s = fx.s;
    await s.scripts.put(fx.alice, 'old', 'keep;');
    await s.scripts.put(fx.alice, 'other', 'discard;');
    await s.scripts.put(fx.bob, 'bobs', 'stop;');
    await assert.rejects(
      s.transaction(async (tx) => {
        await tx.scripts.remove(fx.alice, 'old');
        await tx.scripts.put(fx.alice, 'other', 'replaced;');
        await tx.scripts.removeAll(fx.bob);
        assert.equal(await tx.scripts.exists(fx.alice, 'old'), false, 'the unit sees its own removal');
        await failsWith('NONEXISTENT', () => tx.scripts.get(fx.alice, 'old'));
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(await s.scripts.get(fx.alice, 'old'), 'keep;');
    assert.equal(await s.scripts.get(fx.alice, 'other'), 'discard;');
    assert.equal(await s.scripts.get(fx.bob, 'bobs'), 'stop;');
    assert.deepEqual((await s.scripts.list(fx.alice)).map((i) => i.name), ['old', 'other']);
    // The active script: deactivated and removed in a unit that fails, it is still the active one.
    await s.scripts.activate(fx.alice, 'old');
    await assert.rejects(
      s.transaction(async (tx) => {
        await tx.scripts.activate(fx.alice, undefined);
        await tx.scripts.remove(fx.alice, 'old');
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.deepEqual(await s.scripts.active(fx.alice), { name: 'old', text: 'keep;' });

    await s.transaction(async (tx) => {
      await tx.scripts.activate(fx.alice, undefined);
      await tx.scripts.remove(fx.alice, 'old');
      await tx.scripts.removeAll(fx.bob);
    });
    await failsWith('NONEXISTENT', () => s.scripts.get(fx.alice, 'old'));
    assert.deepEqual(await s.scripts.list(fx.bob), []);
    assert.equal(await s.scripts.active(fx.alice), undefined);
    // The name is free again.
    await s.scripts.put(fx.alice, 'old', 'new;');
    assert.equal(await s.scripts.get(fx.alice, 'old'), 'new;');
  });

  test('transaction: change notices wait for the commit; a unit that throws (or a nested one) sends none', async () => {
    const s = fx.s;
    const heard: MailboxChange[] = [];
    const stop = s.mail.feed.subscribe(fx.alice, (c) => heard.push(c));
    const turns = async () => {
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    };
    try {
      await s.mail.append(fx.alice, 'INBOX', msg('one'));
      await s.mail.append(fx.alice, 'INBOX', msg('two'));
      await turns();
      assert.ok(heard.some((c) => c.kind === 'append'), 'an append outside a unit is told');
      heard.length = 0;
      const inbox = (await s.mail.getMailbox(fx.alice, 'INBOX'))!;

      await assert.rejects(
        s.transaction(async (tx) => {
          await tx.mail.setFlags(inbox.id, [1], 'add', ['\\Seen']);
          await tx.mail.setFlags(inbox.id, [2], 'add', ['\\Deleted']);
          await tx.mail.expunge(inbox.id);
          await tx.mail.createMailbox(fx.alice, 'Never');
          await tx.mail.addSubscription(fx.alice, 'Never');
          await assert.rejects(tx.mail.append(fx.alice, 'INBOX', msg('refused')));
          await turns();
          assert.equal(heard.length, 0, 'nothing is told while the unit is open');
          throw new Error('boom');
        }),
        /boom/,
      );
      await turns();
      assert.equal(heard.length, 0, 'nothing is told of a unit that rolled back');
      assert.equal((await s.mail.getMailbox(fx.alice, 'INBOX'))?.messages, 2);

      await s.transaction(async (tx) => {
        await tx.mail.setFlags(inbox.id, [1], 'add', ['\\Seen']);
        await assert.rejects(
          tx.transaction(async (inner) => {
            await inner.mail.setFlags(inbox.id, [2], 'add', ['\\Flagged']);
            throw new Error('inner');
          }),
          /inner/,
        );
        await turns();
        assert.equal(heard.length, 0, 'nothing is told before the commit');
      });
      await turns();
      const flags = heard.filter((c) => c.kind === 'flags');
      assert.deepEqual(
        flags.map((c) => (c.kind === 'flags' ? [c.uid, c.flags] : [])),
        [[1, ['\\Seen']]],
        'the committed change is told once, the nested rolled-back one never',
      );
      const modseq = (await s.mail.getMessage(inbox.id, 1))!.modseq;
      assert.equal(flags[0]?.kind === 'flags' ? flags[0].modseq : 0, modseq);
    } finally {
      stop();
    }
  });
}
