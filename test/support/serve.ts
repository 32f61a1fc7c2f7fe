// Starts `postino serve` (or any command that ends in it) as a child process
// and collects its JSON log lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { SERVICES } from '../../src/config.js';

/** The environment that makes serve listen on a free port for every service (each says its port in a 'listening' event). */
export const FREE_PORTS: Readonly<Record<string, string>> = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));

export interface Served {
  child: ChildProcess;
  events: Array<Record<string, unknown>>;
  /** Resolves with the first event matching the predicate. */
  waitFor(pred: (e: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
  stderr(): string;
}

/** With `group`, the child leads its own process group and stop() signals the whole group (npm, bash, node). */
export function startServe(command: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string, group = false): Served {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], cwd, detached: group });
  const events: Array<Record<string, unknown>> = [];
  const waiters: Array<{ pred: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }> = [];
  let buffer = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffer += d.toString();
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      try {
        const e = JSON.parse(line) as Record<string, unknown>;
        events.push(e);
        for (const w of [...waiters]) if (w.pred(e)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(e);
        }
      } catch {
        // not a log line
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  // For a group, "exited" means every process holding stdout is gone.
  const exited = group
    ? new Promise<number | null>((resolve) => child.stdout!.on('close', () => resolve(child.exitCode)))
    : new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    events,
    stderr: () => err,
    waitFor(pred, timeoutMs = 60_000) {
      const hit = events.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out; stderr: ${err}; events: ${JSON.stringify(events)}`)), timeoutMs);
        exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`exited ${code} before the event; stderr: ${err}`));
        });
        waiters.push({
          pred,
          resolve: (e) => {
            clearTimeout(timer);
            resolve(e);
          },
        });
      });
    },
    async stop() {
      if (!group && child.exitCode !== null) return child.exitCode;
      if (group) process.kill(-child.pid!, 'SIGTERM');
      else child.kill('SIGTERM');
      return exited;
    },
  };
}

/** The port a served service listens on, from its 'listening' event. */
export async function portOf(served: Served, service: string): Promise<number> {
  return Number((await served.waitFor((e) => e.event === 'listening' && e.service === service)).port);
}
