// A listener that cannot bind says what is wrong and what to do about it, in
// one line, instead of `internal error: listen EACCES`.
import { MailError } from '../../storage/errors.js';
import type { ServiceName } from '../config.js';

export function explainListenError(err: unknown, service: ServiceName, host: string, port: number): MailError | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port} (${service})`;
  const portSetting = `"ports": {"${service}": N} in postino.json or POSTINO_${service.toUpperCase()}_PORT`;
  switch (code) {
    case 'EACCES':
      if (port >= 1024) return new MailError('REFUSED', `cannot listen on ${where}: permission denied by the system (a security policy?)`, { cause: err });
      return new MailError(
        'REFUSED',
        `cannot listen on ${where}: permission denied; a port below 1024 needs root or the CAP_NET_BIND_SERVICE capability ` +
          `(setcap 'cap_net_bind_service=+ep' $(which node)), or use a port of 1024 or above (${portSetting})`,
        { cause: err },
      );
    case 'EADDRINUSE':
      return new MailError(
        'REFUSED',
        `cannot listen on ${where}: the address is already in use by another program (ss -ltnp 'sport = :${port}' shows which); ` +
          `stop it, or choose another port (${portSetting})`,
        { cause: err },
      );
    case 'EADDRNOTAVAIL':
      return new MailError(
        'REFUSED',
        `cannot listen on ${where}: ${host} is not an address of this machine; fix "listen" in postino.json or POSTINO_LISTEN`,
        { cause: err },
      );
    default:
      return undefined;
  }
}
