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
// BENCH_KEEP=1 leaves the scratch in place (for runs back to back; delete
// .bench/ yourself later), so the next run has nothing to wait for.
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  if (process.env.BENCH_KEEP === '1') {
    console.log(`bench: BENCH_KEEP=1, scratch kept under ${scratchRoot}`);
    toRemove.length = 0;
    return;
  }
  for (const dir of toRemove.splice(0)) rmSync(dir, { recursive: true, force: true });
  // Freed inodes on disk now, so their table blocks are not kept dirty by us.
  spawnSync('sync');
  writeFileSync(lastCleanupFile, String(Date.now()));
}

/**
 * Waits until the quiet period after the last bench's deletion is over, then
 * until creating a file is cheap again: other programs (the test suite, say)
 * delete files too, and a bench cannot know when.
 */
export async function waitForQuietDisk(): Promise<void> {
  let last = 0;
  try {
    last = Number(readFileSync(lastCleanupFile, 'utf8'));
  } catch {
    // no bench has deleted anything here
  }
  const wait = last + QUIET_MS - Date.now();
  if (wait > 0) {
    console.log(
      `bench: waiting ${Math.ceil(wait / 1000)} s: a bench deleted its files under ${scratchRoot} less than six minutes ago, ` +
        'and ext4 would make this run scan past those inodes (see bench/scratch.ts)',
    );
    await new Promise((r) => setTimeout(r, wait));
  }
  for (let attempt = 0; attempt < PROBE_ATTEMPTS; attempt++) {
    const us = createCostMicros();
    if (us <= SLOW_CREATE_US) return;
    console.log(`bench: creating a file takes ${us.toFixed(0)} µs now (ext4 is skipping recently freed inodes; see bench/scratch.ts): waiting 30 s`);
    await new Promise((r) => setTimeout(r, 30_000));
  }
  console.log('bench: creating files stayed slow for six minutes; measuring anyway');
}

const PROBE_FILES = 300;
/** A create on a quiet disk here takes 25-50 µs; within minutes of a mass deletion, 250 µs to over a millisecond. */
const SLOW_CREATE_US = 150;
const PROBE_ATTEMPTS = 12;

/** Average µs to create an empty file under the bench root (the files go with the scratch). */
function createCostMicros(): number {
  const dir = makeScratchDir('probe-');
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < PROBE_FILES; i++) closeSync(openSync(path.join(dir, String(i)), 'wx'));
  return Number(process.hrtime.bigint() - t0) / 1000 / PROBE_FILES;
}
