// Checks imported Dovecot hashes (legacy-password.ts) in their own thread:
// SHA512-CRYPT's 5,000 rounds take tens of milliseconds, bcrypt hundreds,
// Argon2id at Dovecot's m=64 MiB t=3 one to two seconds: none may stall every
// other connection's event loop. A hash above the cost limits throws a
// RangeError here: a failed check.
import { parentPort } from 'node:worker_threads';
import { verifyLegacyPassword } from './legacy-password.js';

export interface LegacyCheck {
  id: number;
  password: string;
  stored: string;
}

parentPort?.on('message', (req: LegacyCheck) => {
  let ok = false;
  try {
    ok = verifyLegacyPassword(req.password, req.stored);
  } catch {
    ok = false;
  }
  parentPort!.postMessage({ id: req.id, ok });
});
