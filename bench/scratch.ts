// Scratch directories for the benches, and why a bench may wait before it
// measures.
//
// This machine's root filesystem is ext4 without a journal, and there the
// kernel avoids handing out an inode freed a short while ago (ialloc.c,
// recently_deleted()): each new file first scans past all of them. "A short
// while" is a minute, or six while the inode's table block is dirty, and a
// run that creates files next to them keeps those blocks dirty. A bench that
// deletes its 10,000 files and is run again at once measures that scan, not
// Postino: back-to-back store runs here gave 1,709 then 819 msg/s, with the
// kernel's share of CPU doubling.
//
// So the benches keep their scratch under one root (BENCH_DIR, by default
// .bench/ in the repository, away from the temp directory the test suite
// churns), delete it only when they end, record when, and before measuring
// wait until six minutes have passed since the last such deletion.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { repoRoot } from '../test/support/paths.js';

export const scratchRoot = process.env.BENCH_DIR ?? path.join(repoRoot, '.bench');
const lastCleanupFile = path.join(scratchRoot, 'last-cleanup');
const QUIET_MS = 370_000;
const toRemove: string[] = [];

/** A new scratch directory under the bench root, removed by removeScratch(). */
export function makeScratchDir(prefix: string): string {
  mkdirSync(scratchRoot, { recursive: true });
  const dir = mkdtempSync(path.join(scratchRoot, prefix));
  // Peers' daemons (Dovecot's auth runs as the dovecot user) must reach inside.
  chmodSync(dir, 0o755);
  toRemove.push(dir);
  return dir;
}

/** Deletes every scratch directory made so far (call once, when the measuring is over). */
export function removeScratch(): void {
  if (toRemove.length === 0) return;
  for (const dir of toRemove.splice(0)) rmSync(dir, { recursive: true, force: true });
  // Freed inodes on disk now, so their table blocks are not kept dirty by us.
  spawnSync('sync');
  writeFileSync(lastCleanupFile, String(Date.now()));
}

/** Waits until the quiet period after the last bench's deletion is over. */
export async function waitForQuietDisk(): Promise<void> {
  let last = 0;
  try {
    last = Number(readFileSync(lastCleanupFile, 'utf8'));
  } catch {
    return;
  }
  const wait = last + QUIET_MS - Date.now();
  if (!(wait > 0)) return;
  console.log(
    `bench: waiting ${Math.ceil(wait / 1000)} s: a bench deleted its files under ${scratchRoot} less than six minutes ago, ` +
      'and ext4 would make this run scan past those inodes (see bench/scratch.ts)',
  );
  await new Promise((r) => setTimeout(r, wait));
}
