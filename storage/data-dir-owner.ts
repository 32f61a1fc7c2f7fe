// Hands the data directory to the account serve runs as. serve binds its
// ports as root and then gives root up: everything it made or found in the
// data dir until then (the index, the lock, a self-signed certificate, the
// SRS key, files a root CLI wrote) must be that account's, or it could not
// write there any more.
import { lchownSync, lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * Gives dataDir and everything under it to uid:gid; returns how many entries
 * changed owner. Symbolic links are changed themselves, never followed, so a
 * link in the data dir cannot hand a file elsewhere to the service account.
 * One lstat per entry: a start pays a walk of the tree, done before any
 * session runs.
 */
export function chownDataDir(dataDir: string, uid: number, gid: number): number {
  let changed = 0;
  const pending = [dataDir];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    const st = lstatSync(dir);
    if (st.uid !== uid || st.gid !== gid) {
      lchownSync(dir, uid, gid);
      changed++;
    }
    if (!st.isDirectory()) continue;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        pending.push(full);
        continue;
      }
      const est = lstatSync(full);
      if (est.uid !== uid || est.gid !== gid) {
        lchownSync(full, uid, gid);
        changed++;
      }
    }
  }
  return changed;
}
