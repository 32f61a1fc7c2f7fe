// The delivery agent's settings, read from the server config (global Sieve
// scripts are read once here, at start).
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import type { DeliveryConfig } from './agent.js';
import { MailError } from '../../storage/errors.js';
import { validateScriptName } from '../../storage/scripts.js';
import { JUNK_SCRIPT } from '../scan/junk-script.js';

function readScript(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new MailError('BADINPUT', `cannot read Sieve script ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

export function deliveryConfig(config: Config): DeliveryConfig {
  const globalDir = config.sieve.globalDir;
  return {
    hostname: config.hostname,
    overQuota: config.smtp.overQuota,
    sieveBefore: config.sieve.before.map(readScript),
    // With spam scoring on and no sieve.after of the admin's, the shipped Junk script (src/scan/junk-script.ts).
    sieveAfter: config.sieve.after.length > 0 ? config.sieve.after.map(readScript) : config.spam ? [JUNK_SCRIPT] : [],
    // As Dovecot's documented SpamAssassin setup: the junk threshold (X-Spam-Status required=) is spamtest's 10.
    spamScoreHeader: { header: 'X-Spam-Score', max: config.spam?.junkScore ?? 5 },
    ...(globalDir
      ? {
          globalScript: (name: string) => {
            try {
              const file = path.join(globalDir, `${validateScriptName(name)}.sieve`);
              return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
            } catch {
              return undefined;
            }
          },
        }
      : {}),
  };
}
