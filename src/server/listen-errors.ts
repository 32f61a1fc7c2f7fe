// A listener that cannot bind says what is wrong and what to do about it, in
// one line, instead of `internal error: listen EACCES`.
import { MailError } from '../../storage/errors.js';
import type { ServiceName } from '../config.js';

export function explainListenError(err: unknown, service: ServiceName, host: string, port: number): MailError | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port} (${service})`;
  const portSetting = `"ports": {"${service}": N} in postino.json or POSTINO_${service.toUpperCase()}_PORT`;
  const listenSetting = service === 'admin' ? '"admin": {"listen": ...} in postino.json or POSTINO_ADMIN_LISTEN' : '"listen" in postino.json or POSTINO_LISTEN';
  switch (code) {
    case 'EACCES':
      if (port >= 1024) return new MailError('REFUSED', `cannot listen on ${where}: permission denied by the system (a security policy?)`, { cause: err });
      return new MailError(
        'REFUSED',
        `cannot listen on ${where}: permission denied; a port below 1024 needs root or the CAP_NET_BIND_SERVICE capability ` +
          `(AmbientCapabilities=CAP_NET_BIND_SERVICE in the systemd unit, or setcap 'cap_net_bind_service=+ep' $(which node)), ` +
          `or start as root with "user" in postino.json (serve binds its ports, then runs as that user), ` +
          `or use a port of 1024 or above (${portSetting})`,
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
        `cannot listen on ${where}: ${host} is not an address of this machine; fix ${listenSetting}`,
        { cause: err },
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new MailError(
        'REFUSED',
        `cannot listen on ${where}: ${host} is not an IP address or a name this machine knows; ` +
          `give IP addresses (several as a list: "listen": ["0.0.0.0", "::"], or POSTINO_LISTEN='0.0.0.0,::') in ${listenSetting}`,
        { cause: err },
      );
    case 'EAFNOSUPPORT':
      return new MailError('REFUSED', `cannot listen on ${where}: this machine has no ${host.includes(':') ? 'IPv6' : 'IPv4'}; remove ${host} from ${listenSetting}`, { cause: err });
    default:
      return undefined;
  }
}
