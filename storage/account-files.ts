// An account's files apart from its index rows: the Maildir
// (DIR/mail/DOMAIN/LOCALPART) and the Sieve scripts (DIR/sieve/DOMAIN/LOCALPART).
//
// Removing an account keeps them unless the administrator asks otherwise:
// both move, by rename (no copy, nothing half done), to
//   DIR/removed/DOMAIN/LOCALPART-YYYYMMDDTHHMMSSZ/{mail,sieve}
// (the time of removal in UTC; -2, -3... when one second saw two removals).
// The same happens to files found where a new account is about to be made,
// so an address added again always starts empty.
//
// These run after the index change has committed: a failure in between
// leaves files where they were, which the next `user add` of the address
// moves aside, never index rows without their files.
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { MailError } from './errors.js';
import { fsyncPath } from './maildir/files.js';
import { accountSegment } from './maildir/names.js';

export interface AccountName {
  domain: string;
  localpart: string;
}

export interface AccountFileRoots {
  /** DIR/mail */
  mail: string;
  /** DIR/sieve */
  sieve: string;
  /** DIR/removed */
  removed: string;
}

/** Two removals of one address in one second get -2, -3...; past this something is wrong. */
const MAX_SAME_SECOND = 1000;

/** 2025-01-31T12:34:56.789Z -> 20250131T123456Z */
export function removalStamp(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

export class AccountFiles {
  constructor(readonly roots: AccountFileRoots) {}

  /** Where the account's files are, by kind (the same paths the mail and script stores use). */
  private places(name: AccountName): Array<{ kind: 'mail' | 'sieve'; dir: string }> {
    const rel = path.join(accountSegment(name.domain.toLowerCase()), accountSegment(name.localpart.toLowerCase()));
    return [
      { kind: 'mail', dir: path.join(this.roots.mail, rel) },
      { kind: 'sieve', dir: path.join(this.roots.sieve, rel) },
    ];
  }

  /**
   * Moves the account's Maildir and scripts under DIR/removed/; returns the
   * directory that now holds them, or undefined when neither was on disk.
   */
  setAside(name: AccountName, now = new Date()): string | undefined {
    const present = this.places(name).filter((p) => existsSync(p.dir));
    if (present.length === 0) return undefined;
    const parent = path.join(this.roots.removed, accountSegment(name.domain.toLowerCase()));
    try {
      mkdirSync(parent, { recursive: true, mode: 0o700 });
      const target = this.newDir(parent, `${accountSegment(name.localpart.toLowerCase())}-${removalStamp(now)}`);
      for (const p of present) {
        renameSync(p.dir, path.join(target, p.kind));
        fsyncPath(path.dirname(p.dir));
      }
      fsyncPath(target);
      fsyncPath(parent);
      return target;
    } catch (err) {
      const where = present.map((p) => p.dir).join(' and ');
      throw new MailError('TEMPFAIL', `cannot move ${where} aside to ${parent}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Deletes the account's Maildir and scripts. */
  purge(name: AccountName): void {
    for (const p of this.places(name)) {
      try {
        rmSync(p.dir, { recursive: true, force: true });
      } catch (err) {
        throw new MailError('TEMPFAIL', `cannot delete ${p.dir}: ${(err as Error).message}`, { cause: err });
      }
    }
  }

  private newDir(parent: string, base: string): string {
    for (let n = 1; n <= MAX_SAME_SECOND; n++) {
      const dir = path.join(parent, n === 1 ? base : `${base}-${n}`);
      try {
        mkdirSync(dir, { mode: 0o700 });
        return dir;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    throw new MailError('TEMPFAIL', `too many removed copies named ${base} in ${parent}`);
  }
}
