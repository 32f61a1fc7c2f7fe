// Runs a real client program (python3 with imaplib, curl, ...) as a child
// process without blocking the event loop, which may be serving it.
import { spawn, spawnSync } from 'node:child_process';

export interface ClientRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Whether a program is installed (answers --version). */
export function have(cmd: string): boolean {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Runs cmd to its end (SIGKILL after timeoutMs); resolves with its exit code and output. */
export function runClient(cmd: string, args: string[], timeoutMs = 30_000): Promise<ClientRun> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}
