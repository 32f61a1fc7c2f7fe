// What a reload (SIGHUP) may change. Everything in the config can, for the
// connections accepted afterwards, except what is bound to a listening socket
// or to the process (the user it runs as).
import { SERVICES, type Config } from '../config.js';

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * `next`, with the settings only a restart can change put back to their running
 * values; needsRestart names those that differed (e.g. "listen", "ports.imap").
 * The data directory is not in the config: it is the command line's, fixed too.
 */
export function keepBoundSettings(running: Config, next: Config): { config: Config; needsRestart: string[] } {
  const needsRestart: string[] = [];
  if (!sameList(next.listen, running.listen)) needsRestart.push('listen');
  if (!sameList(next.admin.listen, running.admin.listen)) needsRestart.push('admin.listen');
  for (const service of SERVICES) if (next.ports[service] !== running.ports[service]) needsRestart.push(`ports.${service}`);
  if (next.user !== running.user) needsRestart.push('user');
  if (next.group !== running.group) needsRestart.push('group');
  // The storage is opened once, at start.
  if (JSON.stringify(next.storage) !== JSON.stringify(running.storage)) needsRestart.push('storage');
  return {
    config: {
      ...next,
      listen: running.listen,
      admin: { ...next.admin, listen: running.admin.listen },
      ports: running.ports,
      user: running.user,
      group: running.group,
      storage: running.storage,
    },
    needsRestart,
  };
}
