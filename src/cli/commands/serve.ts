// postino serve: every listener, JSON logs on stdout. One serve per data dir
// (a lock); SIGTERM/SIGINT drain and exit 0; SIGHUP reloads the config and the
// TLS certificate (certbot and logrotate send it).
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { CliCommand, CliContext } from '../command.js';
import { loadConfig, type Config } from '../../config.js';
import { createLogger } from '../../log.js';
import { PostinoServer } from '../../server/postino-server.js';
import { allServices } from '../../server/services.js';
import { lockDataDir } from '../../../storage/data-dir-lock.js';
import { chownDataDir } from '../../../storage/data-dir-owner.js';
import { dropPrivileges, planPrivileges, type PrivilegePlan } from '../../server/privileges.js';

export const serveCommands: CliCommand[] = [
  {
    words: ['serve'],
    usage: '[--data DIR] [--config FILE]',
    summary:
      'Runs every listener (SMTP, LMTP, submission, IMAP, POP3, ManageSieve, admin) and the outbound queue, logging one JSON line per event. ' +
      'Started as root with "user" in the config, it binds its ports and then runs as that user. SIGTERM drains and exits 0; SIGHUP reloads the config and the certificate.',
    minArgs: 0,
    maxArgs: 0,
    async run(_, __, ctx) {
      const config = loadConfig(ctx.configPath);
      // Before anything is made in the data dir: an unknown user stops the start here.
      const privileges = planPrivileges(config.user, config.group);
      const lock = lockDataDir(ctx.dataDir);
      try {
        await serve(ctx, config, privileges);
      } finally {
        lock.release();
      }
      return 0;
    },
  },
];

async function serve(ctx: CliContext, config: Config, privileges: PrivilegePlan): Promise<void> {
  const log = createLogger(undefined, 1, config.node.name);
  if (privileges.kind === 'root') {
    // Not refused: a test box or a container may mean it. A real server names its account.
    log.warn(
      { event: 'running-as-root' },
      'serve runs as root: set "user" in postino.json (e.g. "user": "postino") so that it gives root up once its ports are bound',
    );
  }
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

  await server.start({
    onBound: () => {
      if (privileges.kind !== 'drop') return;
      const { account } = privileges;
      // Synchronous, so no session runs in between: nothing is made as root after the walk.
      const changed = chownDataDir(ctx.dataDir, account.uid, account.gid);
      dropPrivileges(account);
      log.info(
        { event: 'privileges-dropped', user: account.user, uid: account.uid, group: account.group, gid: account.gid, chowned: changed },
        `ports bound; now running as ${account.user}:${account.group}`,
      );
    },
  });
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
