// Scratch directories for the benches, and why a bench may wait before it
// measures.
//
// This machine's root filesystem is ext4 without a journal, and there the
// kernel avoids handing out an inode freed in the last minute (ialloc.c,
// recently_deleted()): every new file first scans past all of them. A bench
// that deletes its 10,000 files and is run again at once measures that scan,
// not Postino: two back-to-back store runs here gave 1,709 then 819 msg/s,
// with the kernel's share of CPU doubling. So the benches keep their scratch
// under one root (BENCH_DIR, by default .bench/ in the repository, away from
// the temp directory the test suite churns), record when they last deleted
// there, and wait out the rest of that minute before measuring.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { repoRoot } from '../test/support/paths.js';

export const scratchRoot = process.env.BENCH_DIR ?? path.join(repoRoot, '.bench');
const lastCleanupFile = path.join(scratchRoot, 'last-cleanup');
const QUIET_MS = 65_000;

/** A new scratch directory under the bench root. */
export function makeScratchDir(prefix: string): string {
  mkdirSync(scratchRoot, { recursive: true });
  return mkdtempSync(path.join(scratchRoot, prefix));
}

/** Deletes a scratch directory and records when, for waitForQuietDisk(). */
export function removeScratchDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  noteCleanup();
}

/** Records that a bench just deleted files under the root (a peer's scratch, say). */
export function noteCleanup(): void {
  // The minute counts once the freed inodes are on disk; while their inode
  // table block is dirty the kernel adds five minutes (RECENTCY_DIRTY).
  spawnSync('sync');
  mkdirSync(scratchRoot, { recursive: true });
  writeFileSync(lastCleanupFile, String(Date.now()));
}

/** Waits until a minute has passed since a bench last deleted its files here. */
export async function waitForQuietDisk(): Promise<void> {
  let last = 0;
  try {
    last = Number(readFileSync(lastCleanupFile, 'utf8'));
  } catch {
    return;
  }
  const wait = last + QUIET_MS - Date.now();
  if (!(wait > 0)) return;
  console.log(`bench: waiting ${Math.ceil(wait / 1000)} s: the previous bench deleted its files under ${scratchRoot} less than a minute ago (see bench/scratch.ts)`);
  await new Promise((r) => setTimeout(r, wait));
}
