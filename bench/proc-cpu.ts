// CPU time of processes, from /proc (Linux; USER_HZ = 100).
import { readFileSync, readdirSync } from 'node:fs';

/** CPU seconds of a process (all its threads) plus its reaped children's, from /proc/PID/stat: in all, and in the kernel. */
export function cpuTimes(pid: number): { all: number; kernel: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command name: state is field 0, utime 11, stime 12, cutime 13, cstime 14 (USER_HZ = 100).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const kernel = (Number(f[12]) + Number(f[14])) / 100;
    return { all: (Number(f[11]) + Number(f[13])) / 100 + kernel, kernel };
  } catch {
    return { all: 0, kernel: 0 }; // gone
  }
}

/**
 * A process's main thread alone, from /proc/PID/task/PID/schedstat: the
 * seconds it ran, and the seconds it was ready to run but waited for a CPU
 * (another thread or process had it); zeros when gone.
 */
export function mainThreadTimes(pid: number): { ran: number; waited: number } {
  try {
    const [ran, waited] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ');
    return { ran: Number(ran) / 1e9, waited: Number(waited) / 1e9 };
  } catch {
    return { ran: 0, waited: 0 };
  }
}

/** The parent pid and command name of every process. */
export function processTable(): Array<{ pid: number; ppid: number; comm: string }> {
  const rows = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      rows.push({ pid: Number(entry), ppid, comm });
    } catch {
      // gone meanwhile
    }
  }
  return rows;
}

/**
 * CPU seconds of a process tree: the root with the children it has reaped,
 * and every live descendant with theirs. A child that exits between two
 * readings moves from "live" to "reaped" and is counted once either way,
 * except for a child that exits unreaped at the second reading (a moment).
 */
export function treeCpu(root: number): number {
  const table = processTable();
  const children = new Map<number, number[]>();
  for (const p of table) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  let sum = 0;
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    sum += cpuTimes(pid).all;
    stack.push(...(children.get(pid) ?? []));
  }
  return sum;
}
