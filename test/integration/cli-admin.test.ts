// The domain/user/alias CLI: what works, and every bad input answered with
// one clear stderr line, exit 1, and no change.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { scratchDir } from '../support/tmp.js';
import { postino } from '../support/cli.js';

const GOOD = 'tangerine-otter-42\n';

describe('postino domain/user/alias', () => {
  const s = scratchDir();
  const run = (args: string[], stdin?: string) => postino(s.dir, args, stdin);
  const listed = (what: string): string => {
    const r = run([what, 'list', '--json']);
    assert.equal(r.code, 0, `${what} list exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  const snapshot = () => ({ domains: listed('domain'), users: listed('user'), aliases: listed('alias') });

  before(() => {
    assert.equal(run(['domain', 'add', 'example.test', '--postmaster', 'admin@example.test', '--password-stdin'], GOOD).code, 0);
    assert.equal(run(['user', 'add', 'bob@example.test', '--password-stdin', '--quota', '10M'], GOOD).code, 0);
  });
  after(() => s.cleanup());

  test('domain add makes postmaster@ and abuse@ (RFC 2142) aliases to the named account', () => {
    assert.deepEqual(JSON.parse(run(['domain', 'list', '--json']).stdout), [{ domain: 'example.test' }]);
    assert.deepEqual(JSON.parse(run(['alias', 'list', '--json']).stdout), [
      { address: 'abuse@example.test', targets: ['admin@example.test'] },
      { address: 'postmaster@example.test', targets: ['admin@example.test'] },
    ]);
    assert.deepEqual(JSON.parse(run(['user', 'list', '--json']).stdout), [
      { address: 'admin@example.test', quota: null, disabled: false },
      { address: 'bob@example.test', quota: 10485760, disabled: false },
    ]);
    assert.ok(existsSync(path.join(s.dir, 'mail', 'example.test', 'bob', '.Sent', 'cur')));
  });

  test('a second domain may point its postmaster at an existing account or a remote address', () => {
    assert.equal(run(['domain', 'add', 'second.test', '--postmaster', 'bob@example.test']).code, 0);
    assert.equal(run(['domain', 'add', 'third.test', '--postmaster', 'hostmaster@elsewhere.org']).code, 0);
    const aliases = JSON.parse(run(['alias', 'list', '--json']).stdout) as Array<{ address: string; targets: string[] }>;
    assert.deepEqual(aliases.find((a) => a.address === 'postmaster@third.test')?.targets, ['hostmaster@elsewhere.org']);
    assert.equal(run(['domain', 'remove', 'third.test']).code, 0);
  });

  test('disable, enable, passwd, alias add/remove, user remove', () => {
    assert.equal(run(['user', 'disable', 'bob@example.test']).code, 0);
    assert.equal(JSON.parse(run(['user', 'list', '--json']).stdout)[1].disabled, true);
    assert.equal(run(['user', 'enable', 'bob@example.test']).code, 0);
    assert.equal(run(['user', 'passwd', 'bob@example.test', '--password-stdin'], 'another-fine-secret\n').code, 0);
    assert.equal(run(['alias', 'add', 'info@example.test', 'bob@example.test', 'Someone@Remote.example']).code, 0);
    assert.equal(run(['alias', 'add', 'team@example.test', 'info@example.test', 'bob+team@example.test']).code, 0);
    assert.equal(run(['alias', 'remove', 'team@example.test']).code, 0);
    assert.equal(run(['user', 'add', 'temp@example.test', '--password-stdin', '--allow-weak'], 'x1\n').code, 0);
    assert.equal(run(['user', 'remove', 'temp@example.test']).code, 0);
    assert.ok(!existsSync(path.join(s.dir, 'mail', 'example.test', 'temp')));
  });

  const refusals: Array<[string, string[], string | undefined, RegExp]> = [
    ['malformed address', ['user', 'add', 'not-an-address', '--password-stdin'], GOOD, /invalid address 'not-an-address'/],
    ['malformed address (two @)', ['user', 'add', 'a@b@example.test', '--password-stdin'], GOOD, /invalid address/],
    ['path tricks in a local part', ['user', 'add', '../x@example.test', '--password-stdin'], GOOD, /invalid address/],
    ['malformed domain', ['domain', 'add', 'bad_domain', '--postmaster', 'a@example.test'], undefined, /invalid domain name 'bad_domain'/],
    ['unknown domain for a user', ['user', 'add', 'carol@nowhere.test', '--password-stdin'], GOOD, /no such domain: nowhere.test/],
    ['unknown domain for an alias', ['alias', 'add', 'x@nowhere.test', 'bob@example.test'], undefined, /no such domain: nowhere.test/],
    ['duplicate domain', ['domain', 'add', 'example.test', '--postmaster', 'bob@example.test'], undefined, /domain example.test exists already/],
    ['duplicate user', ['user', 'add', 'bob@example.test', '--password-stdin'], GOOD, /account bob@example.test exists already/],
    ['user over an alias', ['user', 'add', 'postmaster@example.test', '--password-stdin'], GOOD, /is an alias already/],
    ['alias over a user', ['alias', 'add', 'bob@example.test', 'admin@example.test'], undefined, /is an account; an alias cannot shadow it/],
    ['weak password: short', ['user', 'add', 'carol@example.test', '--password-stdin'], 'short\n', /shorter than 10 characters/],
    ['weak password: common', ['user', 'add', 'carol@example.test', '--password-stdin'], 'password123\n', /too common/],
    ['weak password on passwd', ['user', 'passwd', 'bob@example.test', '--password-stdin'], 'qwerty\n', /shorter/],
    ['empty password', ['user', 'add', 'carol@example.test', '--password-stdin'], '\n', /no password on stdin/],
    ['missing --password-stdin', ['user', 'add', 'carol@example.test'], undefined, /--password-stdin is required/],
    ['missing argument', ['user', 'add'], undefined, /missing argument \(usage: postino user add ADDR/],
    ['missing alias target', ['alias', 'add', 'x@example.test'], undefined, /missing argument/],
    ['too many arguments', ['domain', 'remove', 'a.test', 'b.test'], undefined, /too many arguments/],
    ['unknown option', ['user', 'list', '--frobnicate'], undefined, /Unknown option '--frobnicate'/],
    ['missing --postmaster', ['domain', 'add', 'new.test'], undefined, /--postmaster ADDR is required/],
    ['postmaster in the new domain without a password', ['domain', 'add', 'new.test', '--postmaster', 'pm@new.test'], undefined, /give --password-stdin/],
    ['postmaster: unknown local account', ['domain', 'add', 'new.test', '--postmaster', 'ghost@example.test'], undefined, /no such account or alias: ghost@example.test/],
    ['removing the last target of postmaster@', ['alias', 'remove', 'postmaster@example.test'], undefined, /required \(RFC 2142\)/],
    ['removing the last target of abuse@ by target', ['alias', 'remove', 'abuse@example.test', 'admin@example.test'], undefined, /required \(RFC 2142\)/],
    ['removing the account postmaster@ points to', ['user', 'remove', 'admin@example.test'], undefined, /last target of (abuse|postmaster)@example.test/],
    ['removing a domain another domain\'s aliases point into', ['domain', 'remove', 'example.test'], undefined, /abuse@second.test points to bob@example.test \(and 1 more alias\(es\)\); change or remove it first/],
    ['unknown alias target in a local domain', ['alias', 'add', 'x@example.test', 'ghost@example.test'], undefined, /no such local account or alias: ghost@example.test/],
    ['alias to itself', ['alias', 'add', 'loop@example.test', 'loop@example.test'], undefined, /cannot be its own target/],
    ['unknown user', ['user', 'disable', 'ghost@example.test'], undefined, /no such account: ghost@example.test/],
    ['unknown alias', ['alias', 'remove', 'ghost@example.test'], undefined, /no such alias: ghost@example.test/],
    ['unknown domain remove', ['domain', 'remove', 'ghost.test'], undefined, /no such domain: ghost.test/],
    ['bad quota', ['user', 'add', 'carol@example.test', '--password-stdin', '--quota', 'lots'], GOOD, /invalid size 'lots'/],
  ];

  for (const [name, args, stdin, message] of refusals) {
    test(`refused: ${name}`, () => {
      const before = snapshot();
      const r = run(args, stdin);
      assert.equal(r.code, 1, `exit code for ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, 'one line');
      assert.match(r.stderr, /^postino [a-z]+( [a-z]+)?: /);
      assert.equal(r.stdout, '');
      assert.deepEqual(snapshot(), before, 'nothing changed');
    });
  }

  test('a bad config file is one line naming the key', () => {
    const r = postino(s.dir, ['serve', '--config', path.join(s.dir, 'nope.json')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot read config/);
  });
});
