// The self-signed certificate: made once and saved whole; when it cannot be
// saved (a full disk) it serves from memory instead of stopping the start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadTls } from '../../../src/server/tls.js';
import { scratchDir } from '../../support/tmp.js';

test('a self-signed certificate is made, saved, and read back; a cut-short one is made again', () => {
  const s = scratchDir();
  try {
    const first = loadTls(s.dir, 'mx.example.test', undefined);
    assert.equal(first.unsaved, undefined);
    assert.ok(new X509Certificate(first.cert).checkHost('mx.example.test'));
    createPrivateKey(first.key);
    const again = loadTls(s.dir, 'mx.example.test', undefined);
    assert.deepEqual(again.cert, first.cert);
    // What a write cut short by a full disk left behind in older versions.
    const certFile = path.join(s.dir, 'tls', 'selfsigned.crt');
    writeFileSync(certFile, readFileSync(certFile).subarray(0, 100));
    const remade = loadTls(s.dir, 'mx.example.test', undefined);
    assert.notDeepEqual(remade.cert, first.cert);
    assert.deepEqual(readFileSync(certFile), remade.cert);
  } finally {
    s.cleanup();
  }
});

test('a certificate that cannot be saved serves from memory, and says why', () => {
  const s = scratchDir();
  try {
    // A file where the tls/ directory should be: no file can be written there.
    mkdirSync(s.dir, { recursive: true });
    writeFileSync(path.join(s.dir, 'tls'), 'not a directory');
    const tls = loadTls(s.dir, 'mx.example.test', undefined);
    assert.ok(tls.unsaved, 'the reason is given');
    assert.ok(new X509Certificate(tls.cert).checkHost('localhost'));
    createPrivateKey(tls.key);
  } finally {
    s.cleanup();
  }
});
