// Runs scrypt in its own thread. One or two of these, instead of libuv's
// pool of 32, keep the 16 MB scrypt buffers in one or two malloc arenas:
// with the pool, every thread's arena kept its own and memory grew by
// hundreds of MB after a few dozen logins.
import { parentPort } from 'node:worker_threads';
import { scryptSync } from 'node:crypto';

export interface ScryptRequest {
  id: number;
  password: string;
  salt: Uint8Array;
  keylen: number;
  N: number;
  r: number;
  p: number;
}

parentPort?.on('message', (req: ScryptRequest) => {
  try {
    const key = scryptSync(req.password, req.salt, req.keylen, { N: req.N, r: req.r, p: req.p, maxmem: 64 * 1024 * 1024 });
    parentPort!.postMessage({ id: req.id, key });
  } catch (err) {
    parentPort!.postMessage({ id: req.id, error: (err as Error).message });
  }
});
