// The DeliveryPlan alone: Sieve actions from the real engine (with a fake
// host) and facts in, a plan out. No storage, no files, no clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile, evaluate, type SieveAction, type SieveHost } from '../../../sieve/index.js';
import { sieveMessage } from '../../../sieve/index.js';
import { parseMessage } from '../../../mime/index.js';
import {
  finishScriptActions,
  mailLoop,
  mailboxesToCheck,
  mergeScriptActions,
  planDelivery,
  type DeliveryPlan,
  type PlanFacts,
} from '../../../src/delivery/plan.js';

const RAW = Buffer.from(
  ['From: Coyote <coyote@desert.example.org>', 'To: roadrunner@acme.example.com', 'Subject: I have a present for you', 'Message-ID: <1@desert.example.org>', '', 'Look, about the anvil.', ''].join('\r\n'),
);

function facts(over: Partial<PlanFacts> = {}): PlanFacts {
  return {
    account: 'roadrunner@acme.example.com',
    recipient: 'RoadRunner@acme.example.com',
    from: 'coyote@desert.example.org',
    traceHeaders: ['Received: from desert by mx.acme.example.com'],
    subject: 'I have a present for you',
    junk: false,
    rejectAtSmtp: false,
    existingMailboxes: new Set(['Friends', 'Junk']),
    autoReplyRefusal: () => undefined,
    ...over,
  };
}

/** The actions of one script (the implicit keep included when in force), as the engine gives them. */
function actionsOf(script: string, host: SieveHost = {}): SieveAction[] {
  const r = compile(script);
  if (!r.ok) assert.fail(r.errors.map((e) => e.message).join('; '));
  return evaluate(r.program, sieveMessage(parseMessage(RAW)), { from: 'coyote@desert.example.org', to: 'roadrunner@acme.example.com' }, host).actions;
}

function decide(script: string, over: Partial<PlanFacts> = {}, host: SieveHost = {}): DeliveryPlan {
  return planDelivery(facts(over), actionsOf(script, host));
}

const stores = (p: DeliveryPlan) => p.stores.map((s) => `${s.mailbox}${s.flags.length ? ` [${s.flags.join(' ')}]` : ''}${s.create ? ' :create' : ''}`);

test('RFC 5228 2.10.2 implicit keep: no script action, one copy in INBOX with the trace fields on top', () => {
  const p = decide('if false { discard; }');
  assert.deepEqual(stores(p), ['INBOX']);
  assert.deepEqual(p.replies, []);
  assert.equal(p.refusal, undefined);
  assert.deepEqual(p.headers, ['Return-Path: <coyote@desert.example.org>', 'Delivered-To: roadrunner@acme.example.com', 'Received: from desert by mx.acme.example.com']);
  // No script at all is the same plan.
  assert.deepEqual(planDelivery(facts(), [{ type: 'keep', implicit: true }]), p);
});

test('junk: the implicit keep goes to Junk, an explicit keep to INBOX; a missing Junk falls back to INBOX', () => {
  assert.deepEqual(stores(decide('if true { }', { junk: true })), ['Junk']);
  assert.deepEqual(stores(decide('keep;', { junk: true })), ['INBOX']);
  const p = decide('if true { }', { junk: true, existingMailboxes: new Set() });
  assert.deepEqual(stores(p), ['INBOX']);
  assert.deepEqual(p.notes.map((n) => n.event), ['fileinto-missing-mailbox']);
});

test('RFC 5228 2.10.6 keep on error: a run-time error leaves only the implicit keep', () => {
  // An action conflict (reject with fileinto) is a run-time error.
  const actions = actionsOf('require ["fileinto", "reject"]; fileinto "Friends"; reject "no";');
  assert.deepEqual(actions, [{ type: 'keep', implicit: true }]);
  assert.deepEqual(stores(planDelivery(facts(), actions)), ['INBOX']);
  // A missing include (the host knows no script) likewise.
  assert.deepEqual(stores(decide('require ["include", "fileinto"]; fileinto "Friends"; include "nowhere";')), ['INBOX']);
});

test('RFC 5228 4.5 discard: nothing stored, nothing sent', () => {
  const p = decide('discard;');
  assert.deepEqual(p.stores, []);
  assert.deepEqual(p.replies, []);
});

test('RFC 5228 4.1 fileinto: an existing mailbox; a missing one lands in INBOX (fail-safe), :create (RFC 5490) asks for it', () => {
  assert.deepEqual(stores(decide('require "fileinto"; fileinto "Friends";')), ['Friends']);
  const missing = decide('require "fileinto"; fileinto "Nowhere";');
  assert.deepEqual(stores(missing), ['INBOX']);
  assert.deepEqual(missing.notes, [{ level: 'warn', event: 'fileinto-missing-mailbox', fields: { account: 'roadrunner@acme.example.com', mailbox: 'Nowhere' } }]);
  assert.deepEqual(stores(decide('require ["fileinto", "mailbox"]; fileinto :create "New";')), ['New :create']);
  // A name no mailbox can have (Sieve leaves it to the delivery, as Pigeonhole): that copy in INBOX, the rest as the script says.
  const odd = decide('require ["fileinto", "encoded-character"]; fileinto "a${hex:01}b"; fileinto "Friends";');
  assert.deepEqual(stores(odd), ['INBOX', 'Friends']);
  assert.deepEqual(odd.notes.map((n) => n.event), ['fileinto-missing-mailbox']);
  // Such names are never looked up (a NUL is no text to PostgreSQL).
  assert.deepEqual(mailboxesToCheck(actionsOf('require ["fileinto", "encoded-character"]; fileinto ""; fileinto "a${hex:00}"; fileinto "B";'), false), ['B']);
  // INBOX is never looked up, and is INBOX in any case.
  assert.deepEqual(stores(decide('require "fileinto"; fileinto "inbox";', { existingMailboxes: new Set() })), ['INBOX']);
  // Only the targets other than INBOX are asked about.
  assert.deepEqual(mailboxesToCheck(actionsOf('require ["fileinto", "copy"]; fileinto :copy "A"; fileinto :copy "INBOX"; fileinto "B";'), false), ['A', 'B']);
  assert.deepEqual(mailboxesToCheck([{ type: 'keep', implicit: true }], true), ['Junk']);
});

test('RFC 5228 4.2 redirect: a queue entry with our trace fields and Delivered-To; :copy (RFC 3894) keeps a copy too', () => {
  const p = decide('redirect "wile@acme.example.com";');
  assert.deepEqual(p.stores, []);
  assert.deepEqual(p.replies, [
    { kind: 'redirect', to: 'wile@acme.example.com', headers: ['Delivered-To: roadrunner@acme.example.com', 'Received: from desert by mx.acme.example.com'] },
  ]);
  const copy = decide('require "copy"; redirect :copy "wile@acme.example.com";');
  assert.deepEqual(stores(copy), ['INBOX']);
  assert.equal(copy.replies.length, 1);
});

test('RFC 5429 reject: the SMTP answer when the session has one recipient, else a DSN; ereject is always the answer', () => {
  const atSmtp = decide('require "reject"; reject "Go  away\r\n now";', { rejectAtSmtp: true });
  assert.deepEqual(atSmtp.refusal, { kind: 'reject', why: 'sieve-reject', reason: 'Go  away\r\n now' });
  assert.deepEqual(atSmtp.stores, []);
  assert.deepEqual(atSmtp.replies, []);

  const dsn = decide('require "reject"; reject "Go away";');
  assert.equal(dsn.refusal, undefined);
  assert.deepEqual(dsn.replies, [{ kind: 'reject-dsn', to: 'coyote@desert.example.org', recipient: 'RoadRunner@acme.example.com', reason: 'Go away', required: true }]);
  // Never a DSN to the null sender.
  assert.deepEqual(decide('require "reject"; reject "Go away";', { from: '' }).replies, []);
  // An empty reason still says something.
  assert.deepEqual(decide('require "reject"; reject "";', { rejectAtSmtp: true }).refusal, { kind: 'reject', why: 'sieve-reject', reason: 'Message rejected' });

  const e = decide('require "ereject"; ereject "Not here";');
  assert.deepEqual(e.refusal, { kind: 'reject', why: 'sieve-reject', reason: 'Not here' });
});

test('RFC 5230 vacation: a reply with the default subject and from; not when the message must not be answered', () => {
  const p = decide('require "vacation"; vacation :days 3 :addresses ["wile@acme.example.com"] "Away";');
  assert.deepEqual(stores(p), ['INBOX']);
  assert.deepEqual(p.replies, [
    {
      kind: 'vacation',
      to: 'coyote@desert.example.org',
      from: '<roadrunner@acme.example.com>',
      subject: 'Auto: I have a present for you',
      reason: 'Away',
      mime: false,
      handle: p.replies[0]!.kind === 'vacation' ? p.replies[0]!.handle : '',
      seconds: 3 * 86400,
    },
  ]);
  // The user's own addresses (account, RCPT, :addresses) go to the RFC 3834 check.
  let asked: string[] = [];
  const refused = decide('require "vacation"; vacation :addresses ["Wile@acme.example.com"] "Away";', {
    autoReplyRefusal: (own) => {
      asked = own;
      return 'message is auto-submitted';
    },
  });
  assert.deepEqual(asked, ['roadrunner@acme.example.com', 'roadrunner@acme.example.com', 'wile@acme.example.com']);
  assert.deepEqual(refused.replies, []);
  assert.deepEqual(refused.notes.map((n) => [n.event, n.fields['why']]), [['vacation-skipped', 'message is auto-submitted']]);
  const custom = decide('require "vacation"; vacation :subject "Gone" :from "rr@acme.example.com" "Away";');
  assert.equal(custom.replies[0]?.kind === 'vacation' && `${custom.replies[0].subject} ${custom.replies[0].from}`, 'Gone rr@acme.example.com');
});

test('RFC 5435 notify mailto: a notice to the decoded address; an undecodable one is left out', () => {
  assert.deepEqual(decide('require "enotify"; notify "mailto:wile%40acme.example.com";').replies, [
    { kind: 'notify', to: 'wile@acme.example.com', text: 'New message for roadrunner@acme.example.com: I have a present for you' },
  ]);
  const bad = planDelivery(facts(), [{ type: 'notify', method: 'mailto:%E0%A4%A' }, { type: 'keep', implicit: true }]);
  assert.deepEqual(bad.replies, []);
  assert.deepEqual(bad.notes.map((n) => n.event), ['notify-skipped']);
});

test('RFC 5232 imap4flags: flags on each store; the internal variable goes to the implicit keep', () => {
  assert.deepEqual(stores(decide('require ["imap4flags", "fileinto"]; fileinto :flags ["\\\\Seen", "$Work"] "Friends"; setflag "\\\\Flagged";')), [
    'Friends [\\Seen $Work]',
  ]);
  assert.deepEqual(stores(decide('require "imap4flags"; addflag ["\\\\Flagged", "$Urgent"]; removeflag "$Urgent";')), ['INBOX [\\Flagged]']);
});

test('RFC 7352 duplicate: seen before, discarded; first time, kept (the host answers, the plan follows)', () => {
  const script = 'require "duplicate"; if duplicate { discard; }';
  const seen = new Set<string>();
  const host: SieveHost = {
    duplicate: (id) => {
      const dup = seen.has(id);
      seen.add(id);
      return dup;
    },
  };
  assert.deepEqual(stores(decide(script, {}, host)), ['INBOX']);
  assert.deepEqual(stores(decide(script, {}, host)), []);
});

test('RFC 5293 editheader: edits kept in script order; applied on top of our fields', () => {
  const p = decide(
    'require "editheader"; addheader "X-A" "1"; addheader :last "X-B" "2"; deleteheader "Subject"; addheader "X-C" "3"; deleteheader :index 1 "X-A";',
  );
  assert.deepEqual(
    p.edits.map((e) => (e.type === 'addheader' ? `+${e.name}${e.last ? ' last' : ''}` : `-${e.name}#${e.occurrence}`)),
    ['+X-A', '+X-B last', '-Subject#1', '+X-C', '-X-A#1'],
  );
  const names = parseMessage(RAW).prepend(p.headers).edit(p.edits)
    .raw.toString('utf8')
    .split('\r\n\r\n')[0]!
    .split('\r\n')
    .map((l) => l.slice(0, l.indexOf(':')));
  assert.deepEqual(names, ['X-C', 'Return-Path', 'Delivered-To', 'Received', 'From', 'To', 'Message-ID', 'X-B']);
});

test('several scripts: the first that cancels the implicit keep decides, the others are not run', () => {
  const before = actionsOf('require "imap4flags"; addflag "$Before";');
  const user = actionsOf('require "fileinto"; fileinto "Friends";');
  let merged = mergeScriptActions([], before);
  assert.equal(merged.more, true);
  merged = mergeScriptActions(merged.actions, user);
  assert.equal(merged.more, false);
  assert.deepEqual(stores(planDelivery(facts(), finishScriptActions(merged))), ['Friends']);
  // Every script keeps: one implicit keep at the end, with the flags of none (they are per script).
  const both = finishScriptActions(mergeScriptActions(mergeScriptActions([], before).actions, actionsOf('if false { }')));
  assert.deepEqual(both, [{ type: 'keep', implicit: true }]);
});

test('several scripts as Pigeonhole runs them: an explicit keep only lets the next script run; the last script\'s keep stores', () => {
  const userKeeps = actionsOf('require "imap4flags"; keep :flags "\\\\Flagged";');
  const afterFiles = actionsOf('require "fileinto"; fileinto "Junk";');
  let merged = mergeScriptActions([], userKeeps);
  assert.equal(merged.more, true, 'keep in force: the next script runs');
  merged = mergeScriptActions(merged.actions, afterFiles);
  assert.equal(merged.more, false);
  assert.deepEqual(stores(planDelivery(facts(), finishScriptActions(merged))), ['Junk'], 'no INBOX copy: the last script cancelled the keep');
  // The last script's explicit keep is done with its flags.
  const last = finishScriptActions(mergeScriptActions(mergeScriptActions([], actionsOf('if false { }')).actions, userKeeps));
  assert.deepEqual(last, [{ type: 'keep', flags: ['\\Flagged'] }]);
});

test('a copy already delivered to this account is a mail loop, refused before Sieve', () => {
  assert.deepEqual(mailLoop('roadrunner@acme.example.com', ['other@acme.example.com', 'RoadRunner@acme.example.com']), {
    kind: 'reject',
    why: 'mail-loop',
    account: 'roadrunner@acme.example.com',
  });
  assert.equal(mailLoop('roadrunner@acme.example.com', []), undefined);
});
