// One Authenticator per storage, shared by every listener that authenticates
// (imap and imaps now; POP3, ManageSieve and submission should take it from
// here too), so an address failing on one protocol is slowed on all of them
// and every failure is logged the same way.
import type { ServiceContext } from './postino-server.js';
import { Authenticator } from '../auth/authenticator.js';

const authenticators = new WeakMap<object, Authenticator>();

export function authenticatorFor(ctx: ServiceContext): Authenticator {
  let auth = authenticators.get(ctx.storage);
  if (!auth) {
    auth = new Authenticator(ctx.storage.directory, { log: ctx.log, metrics: ctx.metrics });
    authenticators.set(ctx.storage, auth);
  }
  return auth;
}
