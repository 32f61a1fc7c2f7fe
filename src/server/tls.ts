// TLS material: the configured certificate, or a self-signed one made once
// in the data directory (naming the hostname, localhost and 127.0.0.1).
import { existsSync, readFileSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import path from 'node:path';
import { MailError } from '../../storage/errors.js';

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  selfSigned: boolean;
}

export function loadTls(dataDir: string, hostname: string, configured: { cert: string; key: string } | undefined): TlsMaterial {
  if (configured) {
    try {
      return { cert: readFileSync(configured.cert), key: readFileSync(configured.key), selfSigned: false };
    } catch (err) {
      throw new MailError('BADINPUT', `cannot read tls.cert/tls.key: ${(err as Error).message}`);
    }
  }
  const dir = path.join(dataDir, 'tls');
  const certFile = path.join(dir, 'selfsigned.crt');
  const keyFile = path.join(dir, 'selfsigned.key');
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const names = [...new Set([hostname, 'localhost'])].map((n) => `DNS:${n}`).join(',');
    try {
      execFileSync(
        'openssl',
        [
          'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
          '-days', '3650', '-subj', `/CN=${hostname}`,
          '-addext', `subjectAltName=${names},IP:127.0.0.1`,
          '-keyout', keyFile, '-out', certFile,
        ],
        { stdio: 'ignore' },
      );
    } catch (err) {
      throw new MailError('INTERNAL', 'cannot make a self-signed certificate (is openssl installed?)', { cause: err });
    }
  }
  return { cert: readFileSync(certFile), key: readFileSync(keyFile), selfSigned: true };
}

/** Checks the pair as a listener would use it (PEM, key matches) and names the certificate by its SHA-256 fingerprint. */
export function checkTls(material: TlsMaterial): string {
  try {
    tls.createSecureContext({ cert: material.cert, key: material.key });
    return new X509Certificate(material.cert).fingerprint256;
  } catch (err) {
    throw new MailError('BADINPUT', `unusable TLS certificate or key: ${(err as Error).message}`);
  }
}
