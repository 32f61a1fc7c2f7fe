// The delivery agent's settings, read from the server config. Every global
// Sieve script (sieve.before, sieve.after, and the scripts of
// sieve.globalDir for include :global) is read here, once per
// configuration: at start and at each reload (SIGHUP), never per delivery.
// These reads are synchronous on purpose: they happen while a configuration
// is being taken into use, not while a message is being delivered.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import type { DeliveryConfig } from './agent.js';
import { MailError } from '../../storage/errors.js';
import { validateScriptName } from '../../storage/scripts.js';
import { JUNK_SCRIPT } from '../scan/junk-script.js';
import { VIRUS_SCORE_HEADER, VIRUSTEST_MAX } from '../scan/antivirus.js';

/** Scripts read from sieve.globalDir; past this many the rest are left out (a directory that is not a script directory). */
export const MAX_GLOBAL_SCRIPTS = 1000;

function readScript(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new MailError('BADINPUT', `cannot read Sieve script ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/**
 * The scripts in `dir` (NAME.sieve) by name. A directory that cannot be
 * read, a file that cannot be read and a name that is not a script name
 * are left out: include :global of them finds no script, as before.
 */
export function readGlobalScripts(dir: string): Map<string, string> {
  const scripts = new Map<string, string>();
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return scripts;
  }
  for (const file of files.sort()) {
    if (scripts.size >= MAX_GLOBAL_SCRIPTS) break;
    if (!file.endsWith('.sieve')) continue;
    let name: string;
    try {
      name = validateScriptName(file.slice(0, -'.sieve'.length));
      scripts.set(name, readFileSync(path.join(dir, file), 'utf8'));
    } catch {
      continue; // not a script name, a directory, or unreadable
    }
  }
  return scripts;
}

export function deliveryConfig(config: Config): DeliveryConfig {
  const globalDir = config.sieve.globalDir;
  const globalScripts = globalDir ? readGlobalScripts(globalDir) : undefined;
  return {
    hostname: config.hostname,
    overQuota: config.smtp.overQuota,
    sieveBefore: config.sieve.before.map(readScript),
    // With spam scoring on and no sieve.after of the admin's, the shipped Junk script (src/scan/junk-script.ts).
    sieveAfter: config.sieve.after.length > 0 ? config.sieve.after.map(readScript) : config.spam ? [JUNK_SCRIPT] : [],
    // As Dovecot's documented SpamAssassin setup: the junk threshold (X-Spam-Status required=) is spamtest's 10.
    // Only our own scanners' headers are trusted: without them, a sender's X-Spam-Score / X-Virus-Score
    // would steer the user's spamtest and virustest (they answer "0", untested, as Pigeonhole unconfigured).
    spamScoreHeader: config.spam ? { header: 'X-Spam-Score', max: config.spam.junkScore ?? 5 } : null,
    // The antivirus stage's score (src/scan/antivirus.ts): 0 = clean, virustest "1".
    virusScoreHeader: config.antivirus ? { header: VIRUS_SCORE_HEADER, max: VIRUSTEST_MAX } : null,
    ...(globalScripts
      ? {
          globalScript: (name: string) => {
            try {
              return globalScripts.get(validateScriptName(name));
            } catch {
              return undefined;
            }
          },
        }
      : {}),
  };
}
