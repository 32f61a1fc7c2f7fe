// What a reload (SIGHUP) may change. Everything in the config can, for the
// connections accepted afterwards, except what is bound to a listening socket.
import { SERVICES, type Config } from '../config.js';

/**
 * `next`, with the settings only a restart can change put back to their running
 * values; needsRestart names those that differed (e.g. "listen", "ports.imap").
 * The data directory is not in the config: it is the command line's, fixed too.
 */
export function keepBoundSettings(running: Config, next: Config): { config: Config; needsRestart: string[] } {
  const needsRestart: string[] = [];
  if (next.listen !== running.listen) needsRestart.push('listen');
  for (const service of SERVICES) if (next.ports[service] !== running.ports[service]) needsRestart.push(`ports.${service}`);
  // The storage is opened once, at start.
  if (JSON.stringify(next.storage) !== JSON.stringify(running.storage)) needsRestart.push('storage');
  return { config: { ...next, listen: running.listen, ports: running.ports, storage: running.storage }, needsRestart };
}
