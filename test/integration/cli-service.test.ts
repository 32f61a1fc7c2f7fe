// The service face of the CLI: `postino --version`, a command's --help, and
// `postino install-systemd` (its unit checked by systemd-analyze verify, and
// the copy in contrib/ kept equal to what it writes by default).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { scratchDir } from '../support/tmp.js';
import { cliPath, repoRoot } from '../support/paths.js';
import { DEFAULT_UNIT_OPTIONS, renderSystemdUnit } from '../../src/cli/systemd-unit.js';

function cli(args: string[], env: NodeJS.ProcessEnv = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const systemdAnalyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));

/** systemd-analyze verify: exit 0 and no complaint (it only warns, exit 0, about unknown keys and bad values). */
function verifyUnit(file: string): void {
  const r = spawnSync(systemdAnalyze!, ['verify', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', `systemd-analyze verify complains:\n${r.stderr}`);
}

/** Without systemd-analyze: the keys and sections, parsed, are the ones a hardened unit needs. */
function parseUnit(text: string): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  let section = '';
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const head = line.match(/^\[(\w+)\]$/);
    if (head) {
      section = head[1]!;
      continue;
    }
    const kv = line.match(/^([A-Za-z]+)=(.*)$/);
    assert.ok(kv, `a line of the unit is neither a section, a comment nor Key=value: ${line}`);
    const key = `${section}.${kv[1]}`;
    keys.set(key, [...(keys.get(key) ?? []), kv[2]!]);
  }
  return keys;
}

test('postino --version prints the version of package.json', () => {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const r = cli(['--version']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `postino ${pkg.version}\n`);
});

test('a command --help describes it and its options; it needs no data dir', () => {
  const s = scratchDir();
  try {
    const r = cli(['user', 'add', '--help'], { POSTINO_DATA: path.join(s.dir, 'never-made') });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^usage: postino user add ADDR --password-stdin \[--quota BYTES\] \[--allow-weak\]\n\nAdds an account/);
    assert.match(r.stdout, /^  --quota BYTES +the mailbox quota in bytes/m);
    assert.match(r.stdout, /^  --password-stdin +read the password/m);
    assert.match(r.stdout, /^  --data DIR +the data directory/m);
    assert.ok(!existsSync(path.join(s.dir, 'never-made')));
    const overview = cli(['--help']);
    assert.equal(overview.code, 0);
    assert.match(overview.stdout, /^  install-systemd /m);
  } finally {
    s.cleanup();
  }
});

test('contrib/systemd/postino.service is the unit install-systemd writes for the default paths', () => {
  assert.equal(readFileSync(path.join(repoRoot, 'contrib', 'systemd', 'postino.service'), 'utf8'), renderSystemdUnit(DEFAULT_UNIT_OPTIONS));
});

test(
  `install-systemd writes a hardened unit for this installation; ${systemdAnalyze ? 'systemd-analyze verify accepts it' : 'systemd-analyze is absent here: the unit is checked by a parser instead'}`,
  () => {
    const s = scratchDir();
    try {
      const dataDir = path.join(s.dir, 'mail-data');
      const config = path.join(s.dir, 'postino.json');
      writeFileSync(config, '{}');
      const printed = cli(['install-systemd', '--print', '--data', dataDir, '--config', config, '--user', 'mailsrv']);
      assert.equal(printed.code, 0, printed.stderr);
      const unit = parseUnit(printed.stdout);
      assert.deepEqual(unit.get('Service.ExecStart'), [`${process.execPath} ${cliPath} serve --data ${dataDir} --config ${config}`]);
      assert.deepEqual(unit.get('Service.User'), ['mailsrv']);
      assert.deepEqual(unit.get('Service.Group'), ['mailsrv']);
      assert.deepEqual(unit.get('Service.ReadWritePaths'), [dataDir]);
      for (const [key, value] of [
        ['Service.Type', 'simple'],
        ['Service.AmbientCapabilities', 'CAP_NET_BIND_SERVICE'],
        ['Service.CapabilityBoundingSet', 'CAP_NET_BIND_SERVICE'],
        ['Service.NoNewPrivileges', 'yes'],
        ['Service.ProtectSystem', 'strict'],
        ['Service.PrivateTmp', 'yes'],
        ['Service.RestrictAddressFamilies', 'AF_INET AF_INET6 AF_UNIX'],
        ['Service.ExecReload', '/bin/kill -HUP $MAINPID'],
        ['Install.WantedBy', 'multi-user.target'],
      ] as const) {
        assert.deepEqual(unit.get(key), [value], key);
      }
      // The checkout lives under /work or /home: the unit must still be able to read it.
      assert.ok(['yes', 'read-only'].includes(unit.get('Service.ProtectHome')?.[0] ?? ''));

      const file = path.join(s.dir, 'postino.service');
      const written = cli(['install-systemd', '--output', file, '--data', dataDir]);
      assert.equal(written.code, 0, written.stderr);
      assert.match(written.stdout, new RegExp(`^wrote ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}; next:`));
      assert.match(written.stdout, /systemctl daemon-reload && systemctl enable --now postino/);
      assert.match(readFileSync(file, 'utf8'), new RegExp(`^User=postino$`, 'm'));
      if (systemdAnalyze) verifyUnit(file);
      const defaults = cli(['install-systemd', '--print'], { POSTINO_DATA: '' });
      assert.match(defaults.stdout, /^ReadWritePaths=\/var\/lib\/postino$/m, 'without --data: /var/lib/postino');

      const bad = cli(['install-systemd', '--print', '--data', path.join(s.dir, 'with space')]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /^postino install-systemd: --data: ".*with space" must be an absolute path of letters/);
    } finally {
      s.cleanup();
    }
  },
);

test('the repository unit passes systemd-analyze verify', { skip: systemdAnalyze ? false : 'systemd-analyze is absent here (the parser test above checks the unit)' }, () => {
  verifyUnit(path.join(repoRoot, 'contrib', 'systemd', 'postino.service'));
});
