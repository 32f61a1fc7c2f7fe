// What a SIGHUP may change, and the one-line reasons a listener cannot bind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig } from '../../../src/config.js';
import { keepBoundSettings } from '../../../src/server/reload.js';
import { explainListenError } from '../../../src/server/listen-errors.js';

test('a reload keeps the listen address and the ports, names them, and takes everything else', () => {
  const running = resolveConfig({ hostname: 'a.test', ports: { imap: 1143 } }, {});
  const next = resolveConfig({ hostname: 'b.test', listen: '0.0.0.0', ports: { imap: 143, smtp: 2525 }, limits: { messageSize: 1000 } }, {});
  const { config, needsRestart } = keepBoundSettings(running, next);
  assert.deepEqual(needsRestart, ['listen', 'ports.imap']);
  assert.deepEqual(config.listen, ['127.0.0.1']);
  assert.deepEqual(config.ports, running.ports);
  assert.equal(config.hostname, 'b.test');
  assert.equal(config.limits.messageSize, 1000);
  assert.deepEqual(keepBoundSettings(running, running).needsRestart, []);
});

test('a reload keeps the listen list, the admin addresses and the service user', () => {
  const running = resolveConfig({ listen: ['0.0.0.0', '::'] }, {});
  const same = resolveConfig({ listen: ['0.0.0.0', '::'], hostname: 'c.test' }, {});
  assert.deepEqual(keepBoundSettings(running, same).needsRestart, [], 'an equal list is no change');
  const next = resolveConfig({ listen: ['::', '0.0.0.0'], admin: { listen: ['0.0.0.0'] }, user: 'mail' }, {});
  const { config, needsRestart } = keepBoundSettings(running, next);
  assert.deepEqual(needsRestart, ['listen', 'admin.listen', 'user']);
  assert.deepEqual(config.listen, ['0.0.0.0', '::']);
  assert.deepEqual(config.admin.listen, ['127.0.0.1']);
  assert.equal(config.user, undefined);
});

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`listen ${code}`), { code });
}

test('listen errors become one line saying what is wrong and what to do', () => {
  const low = explainListenError(errno('EACCES'), 'smtp', '0.0.0.0', 25);
  assert.equal(
    low?.message,
    "cannot listen on 0.0.0.0:25 (smtp): permission denied; a port below 1024 needs root or the CAP_NET_BIND_SERVICE capability " +
      "(AmbientCapabilities=CAP_NET_BIND_SERVICE in the systemd unit, or setcap 'cap_net_bind_service=+ep' $(which node)), " +
      'or start as root with "user" in postino.json (serve binds its ports, then runs as that user), ' +
      'or use a port of 1024 or above ("ports": {"smtp": N} in postino.json or POSTINO_SMTP_PORT)',
  );
  assert.equal(low?.code, 'REFUSED');
  assert.match(explainListenError(errno('EACCES'), 'imap', '127.0.0.1', 2143)!.message, /permission denied by the system/);
  assert.match(explainListenError(errno('EADDRINUSE'), 'imaps', '::1', 993)!.message, /^cannot listen on \[::1\]:993 \(imaps\): the address is already in use/);
  assert.match(explainListenError(errno('EADDRNOTAVAIL'), 'lmtp', '10.9.9.9', 24)!.message, /10\.9\.9\.9 is not an address of this machine; fix "listen"/);
  assert.match(explainListenError(errno('EADDRNOTAVAIL'), 'admin', '10.9.9.9', 8080)!.message, /fix "admin": \{"listen": \.\.\.\} in postino\.json or POSTINO_ADMIN_LISTEN$/);
  assert.match(
    explainListenError(errno('ENOTFOUND'), 'smtp', 'mx.example.invalid', 25)!.message,
    /^cannot listen on mx\.example\.invalid:25 \(smtp\): mx\.example\.invalid is not an IP address or a name this machine knows; give IP addresses \(several as a list/,
  );
  assert.match(explainListenError(errno('EAFNOSUPPORT'), 'imap', '::', 143)!.message, /this machine has no IPv6; remove :: from "listen"/);
  assert.equal(explainListenError(errno('EMFILE'), 'smtp', '127.0.0.1', 25), undefined, 'anything else stays an internal error');
  for (const e of ['EACCES', 'EADDRINUSE', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAFNOSUPPORT']) assert.doesNotMatch(explainListenError(errno(e), 'smtp', 'h', 1)!.message, /\n/);
});
