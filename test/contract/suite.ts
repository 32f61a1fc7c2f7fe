// The storage contract: one suite of behaviour tests that every backend
// must pass (SQLite + Maildir, memory, and later ones). Expectations come
// from RFC 3501/9051 (UIDs, UIDVALIDITY, mailboxes, subscriptions), RFC
// 7162 (MODSEQ, UNCHANGEDSINCE, the expunge log), RFC 9208 (quota), RFC
// 5804 (scripts), RFC 5464 (metadata) and what the SQLite backend does, which is the reference.
// Every port call is awaited: the ports are becoming asynchronous.
import { describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { isMailError, type MailErrorCode } from '../../storage/errors.js';
import type { Backend, ContractStorage } from './backends.js';
import { directoryCases } from './directory-cases.js';
import { mailboxCases } from './mailbox-cases.js';
import { messageCases } from './message-cases.js';
import { scriptQueueCases } from './script-queue-cases.js';
import { metadataCases } from './metadata-cases.js';
import { unitOfWorkCases } from './unit-of-work-cases.js';
import { queueCases } from './queue-cases.js';
import { adminCases } from './admin-cases.js';

/** A fresh storage per test, with example.test, alice and bob (provisioned). */
export interface Fixture {
  s: ContractStorage;
  alice: number;
  bob: number;
  /** The backend's reason for a case it is known to fail (that case runs as a todo), else undefined. */
  gap(id: GapId): string | undefined;
}

/** Cases a backend may be excused from, each with the reason in the backend's entry (see backends.ts). */
export type GapId = 'feed-order' | 'inbox-rename-expunges';

export function defineContract(backend: Backend): void {
  describe(`storage contract: ${backend.name}`, () => {
    const fx = { gap: (id: GapId) => backend.knownGaps?.[id] } as Fixture;
    beforeEach(async () => {
      fx.s = await backend.open();
      await fx.s.directory.addDomain('example.test');
      fx.alice = (await fx.s.directory.addAccount({ address: 'alice@example.test', passwordHash: 'x', scramSha256: null, quota: null })).id;
      fx.bob = (await fx.s.directory.addAccount({ address: 'bob@example.test', passwordHash: 'y', scramSha256: null, quota: null })).id;
      await fx.s.mail.provisionAccount(fx.alice);
      await fx.s.mail.provisionAccount(fx.bob);
    });
    afterEach(async () => {
      await fx.s.close();
    });
    directoryCases(fx);
    mailboxCases(fx);
    messageCases(fx);
    metadataCases(fx);
    scriptQueueCases(fx);
    unitOfWorkCases(fx);
    queueCases(fx);
    adminCases(fx);
  });
}

/** Asserts that fn fails with a MailError of this code. */
export async function failsWith(code: MailErrorCode, fn: () => unknown): Promise<void> {
  await assert.rejects(
    async () => fn(),
    (err: unknown) => {
      assert.ok(isMailError(err, code), `expected MailError ${code}, got ${err instanceof Error ? `${err.name} ${(err as { code?: string }).code ?? ''}: ${err.message}` : String(err)}`);
      return true;
    },
  );
}

/** A small message whose bytes say which it is. */
export function msg(id: string, size = 200): Buffer {
  const head = `From: a@remote.test\r\nTo: alice@example.test\r\nSubject: ${id}\r\nMessage-ID: <${id}@remote.test>\r\n\r\n`;
  return Buffer.from(head + 'x'.repeat(Math.max(0, size - head.length - 2)) + '\r\n');
}
