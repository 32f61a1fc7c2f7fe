// postino serve: every listener, JSON logs on stdout. One serve per data dir
// (a lock); SIGTERM/SIGINT drain and exit 0; SIGHUP reloads the config and the
// TLS certificate (certbot and logrotate send it).
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { CliCommand, CliContext } from '../command.js';
import { loadConfig } from '../../config.js';
import { createLogger } from '../../log.js';
import { PostinoServer } from '../../server/postino-server.js';
import { allServices } from '../../server/services.js';
import { lockDataDir } from '../../../storage/data-dir-lock.js';

export const serveCommands: CliCommand[] = [
  {
    words: ['serve'],
    usage: '[--data DIR] [--config FILE]',
    minArgs: 0,
    maxArgs: 0,
    async run(_, __, ctx) {
      const lock = lockDataDir(ctx.dataDir);
      try {
        await serve(ctx);
      } finally {
        lock.release();
      }
      return 0;
    },
  },
];

async function serve(ctx: CliContext): Promise<void> {
  const config = loadConfig(ctx.configPath);
  const log = createLogger();
  const server = new PostinoServer(ctx.dataDir, config, log, allServices);

  // Handlers go in before start: a signal that arrives while starting waits for it
  // (SIGHUP's default would kill the process).
  let state: 'starting' | 'running' | 'stopping' = 'starting';
  let reloadWaiting = false;
  let requestStop: () => void = () => {};
  const stopRequested = new Promise<void>((resolve) => (requestStop = resolve));
  const onStopSignal = (signal: string) => {
    if (state === 'stopping') return;
    log.info({ event: 'signal', signal });
    requestStop();
  };
  const reload = () => {
    // A config file made after start is found too.
    const fallback = path.join(ctx.dataDir, 'postino.json');
    const file = ctx.configPath ?? (existsSync(fallback) ? fallback : undefined);
    try {
      server.reload(loadConfig(file), file);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      log.error({ event: 'reload-refused', config: file ?? null, err: reason }, `reload refused, the running configuration stays: ${reason}`);
    }
  };
  process.on('SIGTERM', () => onStopSignal('SIGTERM'));
  process.on('SIGINT', () => onStopSignal('SIGINT'));
  process.on('SIGHUP', () => {
    log.info({ event: 'signal', signal: 'SIGHUP' });
    if (state === 'starting') reloadWaiting = true;
    else if (state === 'running') reload();
  });

  await server.start();
  state = 'running';
  if (reloadWaiting) reload();
  // Signal handlers do not keep the event loop alive; this does, until stop.
  const keepAlive = setInterval(() => {}, 1 << 30);
  await stopRequested;
  state = 'stopping';
  try {
    await server.stop();
  } catch (err) {
    log.error({ event: 'stop-failed', err });
  } finally {
    clearInterval(keepAlive);
  }
}
