// postino serve: every listener, JSON logs on stdout, SIGTERM drains and exits 0.
import type { CliCommand } from '../command.js';
import { loadConfig } from '../../config.js';
import { createLogger } from '../../log.js';
import { PostinoServer } from '../../server/postino-server.js';
import { allServices } from '../../server/services.js';

export const serveCommands: CliCommand[] = [
  {
    words: ['serve'],
    usage: '[--data DIR] [--config FILE]',
    minArgs: 0,
    maxArgs: 0,
    async run(_, __, ctx) {
      const config = loadConfig(ctx.configPath);
      const log = createLogger();
      const server = new PostinoServer(ctx.dataDir, config, log, allServices);
      await server.start();
      await new Promise<void>((resolve) => {
        // Signal handlers do not keep the event loop alive; this does, until stop.
        const keepAlive = setInterval(() => {}, 1 << 30);
        let stopping = false;
        const stop = (signal: string) => {
          if (stopping) return;
          stopping = true;
          log.info({ event: 'signal', signal });
          server.stop().then(
            () => {
              clearInterval(keepAlive);
              resolve();
            },
            (err: unknown) => {
              log.error({ event: 'stop-failed', err });
              clearInterval(keepAlive);
              resolve();
            },
          );
        };
        process.on('SIGTERM', () => stop('SIGTERM'));
        process.on('SIGINT', () => stop('SIGINT'));
      });
      return 0;
    },
  },
];
