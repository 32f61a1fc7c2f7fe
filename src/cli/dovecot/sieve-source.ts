// A Dovecot user's Sieve scripts: DIR/*.sieve, and the active one named by
// the ~/.dovecot.sieve symlink (Pigeonhole's sieve = ~/.dovecot.sieve,
// sieve_dir = ~/sieve). Symlinks inside DIR are not followed.
import { readdirSync, readlinkSync, lstatSync } from 'node:fs';
import path from 'node:path';
import { readControlFile } from './maildir-source.js';

export interface SourceScripts {
  dir: string | undefined;
  scripts: Array<{ name: string; text: string }>;
  active: string | undefined;
  warnings: string[];
}

const MAX_SCRIPT_FILE = 1024 * 1024;

/** The first of `candidates` that is a directory, read; `links` are where the .dovecot.sieve symlink may be. */
export function readSieveScripts(candidates: string[], links: string[]): SourceScripts {
  const warnings: string[] = [];
  const dir = candidates.find((d) => {
    try {
      return lstatSync(d).isDirectory();
    } catch {
      return false;
    }
  });
  const scripts: Array<{ name: string; text: string }> = [];
  if (dir) {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (!e.name.endsWith('.sieve') || e.name.startsWith('.')) continue;
      if (!e.isFile()) {
        warnings.push(`${path.join(dir, e.name)}: not a plain file, skipped`);
        continue;
      }
      const text = readControlFile(path.join(dir, e.name), MAX_SCRIPT_FILE);
      if (text !== undefined) scripts.push({ name: e.name.slice(0, -'.sieve'.length), text });
    }
  }
  let active: string | undefined;
  for (const link of links) {
    let target: string;
    try {
      if (!lstatSync(link).isSymbolicLink()) {
        warnings.push(`${link}: not a symlink to a script in the sieve directory, ignored`);
        continue;
      }
      target = readlinkSync(link);
    } catch {
      continue;
    }
    const name = path.basename(target);
    if (name.endsWith('.sieve') && scripts.some((s) => s.name === name.slice(0, -'.sieve'.length))) {
      active = name.slice(0, -'.sieve'.length);
      break;
    }
  }
  return { dir, scripts, active, warnings };
}
