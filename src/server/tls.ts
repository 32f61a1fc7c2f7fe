// TLS material: the configured certificate, or a self-signed one made once
// in the data directory (naming the hostname, localhost and 127.0.0.1).
import { readFileSync, mkdirSync, writeFileSync, renameSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import tls from 'node:tls';
import path from 'node:path';
import { MailError } from '../../storage/errors.js';

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  selfSigned: boolean;
  /**
   * Why a self-signed certificate made now could not be saved (a full
   * disk): it serves from memory, and a later start makes another.
   */
  unsaved?: string;
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
  const saved = readSaved(certFile, keyFile);
  if (saved) return { ...saved, selfSigned: true };
  const made = makeSelfSigned(hostname);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeWholeFile(keyFile, made.key);
    writeWholeFile(certFile, made.cert);
  } catch (err) {
    return { ...made, selfSigned: true, unsaved: (err as Error).message };
  }
  return { ...made, selfSigned: true };
}

/** The saved pair when both files are there and parse (a full disk may have cut one short). */
function readSaved(certFile: string, keyFile: string): { cert: Buffer; key: Buffer } | undefined {
  try {
    const cert = readFileSync(certFile);
    const key = readFileSync(keyFile);
    new X509Certificate(cert);
    createPrivateKey(key);
    return { cert, key };
  } catch {
    return undefined;
  }
}

/** A new key and certificate, made in memory: openssl writes both to its stdout. */
function makeSelfSigned(hostname: string): { cert: Buffer; key: Buffer } {
  const names = [...new Set([hostname, 'localhost'])].map((n) => `DNS:${n}`).join(',');
  let out: string;
  try {
    out = execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-days', '3650', '-subj', `/CN=${hostname}`,
        '-addext', `subjectAltName=${names},IP:127.0.0.1`,
        '-keyout', '-',
      ],
      { stdio: ['ignore', 'pipe', 'ignore'], encoding: 'latin1' },
    );
  } catch (err) {
    throw new MailError('INTERNAL', 'cannot make a self-signed certificate (is openssl installed?)', { cause: err });
  }
  const key = pemBlock(out, 'PRIVATE KEY');
  const cert = pemBlock(out, 'CERTIFICATE');
  if (!key || !cert) throw new MailError('INTERNAL', 'cannot make a self-signed certificate: openssl printed no key or certificate');
  return { cert: Buffer.from(cert, 'latin1'), key: Buffer.from(key, 'latin1') };
}

function pemBlock(text: string, label: string): string | undefined {
  const begin = text.indexOf(`-----BEGIN ${label}-----`);
  const endMark = `-----END ${label}-----`;
  const end = text.indexOf(endMark, begin);
  return begin < 0 || end < 0 ? undefined : text.slice(begin, end + endMark.length) + '\n';
}

/** Written whole or not at all (tmp + rename), so a full disk never leaves half a file. */
export function writeWholeFile(file: string, content: Buffer | string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, content, { mode: 0o600 });
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
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
