// The calling thread's own clocks, from Linux's /proc/thread-self/schedstat:
// the CPU time it ran and the time it waited, runnable, for a CPU. The
// event loop's small reads (blob-reader.ts) budget their CPU time with it:
// on a busy machine the wall clock also counts the time another process had
// the core, and a budget in wall time sent reads to the reader threads (a
// hand-off each batch) exactly when CPU was short. Node 20 has no
// per-thread CPU clock of its own (process.cpuUsage counts every thread).
import { closeSync, openSync, readSync } from 'node:fs';

export interface ThreadTimes {
  /** Nanoseconds this thread ran on a CPU. */
  ranNs: number;
  /** Nanoseconds it was runnable but waited for a CPU (another thread or process had it). */
  waitedNs: number;
}

/** The file, kept open: a read at offset 0 gives the current figures (one syscall). -1: not tried, -2: not available. */
let fd = -1;
const buf = Buffer.alloc(96);

/** The figures now; undefined where there is no such file (not Linux, no schedstats). Per module instance, so per thread. */
export function threadTimes(): ThreadTimes | undefined {
  if (fd === -2) return undefined;
  try {
    if (fd === -1) fd = openSync('/proc/thread-self/schedstat', 'r');
    const n = readSync(fd, buf, 0, buf.length, 0);
    // "<ran ns> <waited ns> <timeslices>\n": two decimal numbers read in place (no string made).
    let i = 0;
    let ranNs = 0;
    while (i < n && buf[i]! >= 0x30 && buf[i]! <= 0x39) ranNs = ranNs * 10 + buf[i++]! - 0x30;
    if (buf[i++] !== 0x20) throw new Error('unexpected schedstat');
    let waitedNs = 0;
    const from = i;
    while (i < n && buf[i]! >= 0x30 && buf[i]! <= 0x39) waitedNs = waitedNs * 10 + buf[i++]! - 0x30;
    if (i === from) throw new Error('unexpected schedstat');
    return { ranNs, waitedNs };
  } catch {
    if (fd >= 0) closeSync(fd);
    fd = -2;
    return undefined;
  }
}
