// The delivery agent's settings, read from the server config (global Sieve
// scripts are read once here, at start).
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import type { DeliveryConfig } from './agent.js';
import { MailError } from '../../storage/errors.js';
import { validateScriptName } from '../../storage/scripts.js';

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
    sieveAfter: config.sieve.after.map(readScript),
    spamScoreHeader: { header: 'X-Spam-Score', max: config.spam?.rejectScore ?? 15 },
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
