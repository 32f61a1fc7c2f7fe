// Secrets that must be the same on every node (the SRS key: a bounce to an
// address one node made may come back to any other). The first node to ask
// stores its proposal; everyone, that node included, then reads what is
// stored, so two nodes starting at once still agree.
import { MailError } from '../errors.js';
import type { PgDatabase, Row } from './db.js';

interface SecretRow extends Row {
  value: Buffer;
}

export async function sharedSecret(db: PgDatabase, name: string, proposal: Buffer): Promise<Buffer> {
  await db.query('INSERT INTO shared_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, proposal]);
  const row = await db.one<SecretRow>('SELECT value FROM shared_secrets WHERE name = $1', [name]);
  if (!row) throw new MailError('TEMPFAIL', `the shared secret ${name} could not be read back`);
  return row.value;
}
