// The admin port: `serve` listens there over TLS with the mail certificate, on
// loopback by default, and answers unknown paths with RFC 9457 problem details.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { scratchDir } from '../support/tmp.js';
import { startServe } from '../support/serve.js';
import { cliPath } from '../support/paths.js';
import { SERVICES } from '../../src/config.js';

const freePorts = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));

function get(port: number, path: string): Promise<{ status: number; type: string; body: string; peerCert: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, rejectUnauthorized: false }, (res) => {
      const cert = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body, peerCert: cert.fingerprint256 }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('serve answers on the admin port over TLS, on 127.0.0.1, with problem details for an unknown path', { timeout: 60_000 }, async () => {
  const s = scratchDir();
  const served = startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], { ...freePorts, POSTINO_LISTEN: '127.0.0.1' });
  try {
    const listening = await served.waitFor((e) => e.event === 'listening' && e.service === 'admin');
    const port = Number(listening.port);
    await served.waitFor((e) => e.event === 'ready');
    const res = await get(port, '/no-such-page');
    assert.equal(res.status, 404);
    assert.match(res.type, /application\/problem\+json/);
    assert.equal(JSON.parse(res.body).status, 404);
    assert.ok(res.peerCert.length > 0, 'TLS with a certificate');
  } finally {
    assert.equal(await served.stop(), 0);
    s.cleanup();
  }
});
