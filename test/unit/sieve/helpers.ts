// Small helpers for the Sieve unit tests: compile-or-fail, run, message builder.
import assert from 'node:assert/strict';
import { compile, evaluate, type EvaluateResult, type SieveAction, type SieveHost, type SieveError } from '../../../sieve/index.js';
import { parseMessage } from '../../../mime/index.js';
import { sieveMessage } from '../../../sieve/index.js';

export const RFC5228_MESSAGE = [
  'Date: Tue, 1 Apr 1997 09:06:31 -0800 (PST)',
  'From: coyote@desert.example.org',
  'To: roadrunner@acme.example.com',
  'Subject: I have a present for you',
  '',
  'Look, I\'m sorry about the whole anvil thing, and I really',
  'didn\'t mean to try and drop it on you from the top of the',
  'cliff.  I want to try to make it up to you.  I\'ve got some',
  'great birdseed over here at my place--top of the line',
  'stuff--and if you come by, I\'ll have it all wrapped up',
  'for you.  I\'m really sorry for all the problems I\'ve caused',
  'for you over the years, but I know we can work this out.',
  '--',
  'Wile E. Coyote   "Super Genius"   coyote@desert.example.org',
  '',
].join('\r\n');

export function message(text: string) {
  return sieveMessage(parseMessage(Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'utf8')));
}

export interface RunOptions {
  from?: string;
  to?: string;
  host?: SieveHost;
}

export function run(script: string, msg: string = RFC5228_MESSAGE, o: RunOptions = {}): EvaluateResult {
  const r = compile(script);
  if (!r.ok) assert.fail(`script did not compile: ${r.errors.map((e) => `${e.line}:${e.col}: ${e.message}`).join('; ')}`);
  return evaluate(r.program, message(msg), { from: o.from ?? 'coyote@desert.example.org', to: o.to ?? 'roadrunner@acme.example.com' }, o.host ?? {});
}

/** Actions without the implicit-keep marker details, as short strings for easy comparison. */
export function summary(actions: SieveAction[]): string[] {
  return actions.map((a) => {
    const flags = 'flags' in a && a.flags && a.flags.length ? ` [${a.flags.join(' ')}]` : '';
    switch (a.type) {
      case 'keep':
        return `${a.implicit ? 'implicit-keep' : 'keep'}${flags}`;
      case 'fileinto':
        return `fileinto ${a.mailbox}${flags}${a.copy ? ' :copy' : ''}${a.create ? ' :create' : ''}`;
      case 'redirect':
        return `redirect ${a.address}${a.copy ? ' :copy' : ''}`;
      case 'reject':
      case 'ereject':
        return `${a.type} ${a.reason}`;
      case 'discard':
        return 'discard';
      case 'vacation':
        return `vacation ${a.seconds}${a.subject !== undefined ? ` subject=${a.subject}` : ''}${a.from !== undefined ? ` from=${a.from}` : ''} ${a.reason}`;
      case 'notify':
        return `notify ${a.method}${a.importance ? ` importance=${a.importance}` : ''}${a.message !== undefined ? ` message=${a.message}` : ''}`;
      case 'addheader':
        return `addheader ${a.name}: ${a.value}${a.last ? ' :last' : ''}`;
      case 'deleteheader':
        return `deleteheader ${a.name} #${a.occurrence}`;
    }
  });
}

export function actions(script: string, msg?: string, o?: RunOptions): string[] {
  const r = run(script, msg, o);
  if (r.errors) assert.fail(`runtime error: ${r.errors.map((e) => e.message).join('; ')}`);
  return summary(r.actions);
}

export function compileError(script: string): SieveError {
  const r = compile(script);
  if (r.ok) assert.fail('expected a compile error');
  return r.errors[0]!;
}

export function errorText(script: string): string {
  const e = compileError(script);
  return `${e.line}:${e.col}: ${e.message}`;
}

/** Runs a test that selects a folder on success, returning whether it matched. */
export function matches(test: string, msg: string, requires: string[] = [], o?: RunOptions): boolean {
  const req = ['fileinto', ...requires].map((r) => JSON.stringify(r)).join(', ');
  const acts = actions(`require [${req}];\nif ${test} { fileinto "YES"; }`, msg, o);
  return acts[0] === 'fileinto YES';
}
