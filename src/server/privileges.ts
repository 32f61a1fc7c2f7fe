// Who serve runs as. Started as root (to bind 25, 143, 993...), it gives root
// up once every port is bound, as Postfix and Dovecot do, becoming the account
// named by "user" (and "group") in postino.json.
import { execFileSync } from 'node:child_process';
import { MailError } from '../../storage/errors.js';

export interface ServiceAccount {
  user: string;
  uid: number;
  group: string;
  gid: number;
  /** Supplementary groups (e.g. ssl-cert, for a key readable by that group). */
  groups: number[];
}

/** The numeric ids of user (and group, else the user's own group), from the system's account database (NSS, via getent). */
export function lookupServiceAccount(user: string, group?: string): ServiceAccount {
  const pw = getent('passwd', user);
  if (!pw) {
    throw new MailError('BADINPUT', `"user": "${user}" in postino.json: no such user on this machine (make one: useradd --system --home-dir /var/lib/postino --shell /usr/sbin/nologin ${user})`);
  }
  const [, , uidText, gidText] = pw.split(':');
  let gid = Number(gidText);
  let groupName = getent('group', String(gid))?.split(':')[0] ?? String(gid);
  if (group !== undefined) {
    const gr = getent('group', group);
    if (!gr) throw new MailError('BADINPUT', `"group": "${group}" in postino.json: no such group on this machine`);
    gid = Number(gr.split(':')[2]);
    groupName = group;
  }
  const uid = Number(uidText);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new MailError('BADINPUT', `"user": "${user}": the account database gave no usable ids`);
  if (uid === 0) throw new MailError('BADINPUT', `"user": "${user}" is root (UID 0): name an account of its own for the mail server, e.g. postino`);
  if (gid === 0) throw new MailError('BADINPUT', `"${group === undefined ? 'user' : 'group'}": the group of the service account would be root (GID 0): give it a group of its own`);
  return { user, uid, group: groupName, gid, groups: supplementaryGroups(user, gid) };
}

/** The groups the account database gives the user, as login would (initgroups). */
function supplementaryGroups(user: string, gid: number): number[] {
  let ids: number[] = [];
  try {
    const out = execFileSync('id', ['-G', '--', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
    ids = out.trim().split(/\s+/).slice(0, 1000).map(Number).filter((n) => Number.isInteger(n) && n >= 0);
  } catch {
    // Only the primary group then.
  }
  return [...new Set([gid, ...ids])];
}

function getent(database: 'passwd' | 'group', key: string): string | undefined {
  try {
    const out = execFileSync('getent', [database, key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
    return out.split('\n')[0]?.trim() || undefined;
  } catch {
    // getent exits 2 for an unknown key.
    return undefined;
  }
}

/** What serve does about its identity, decided before it starts. */
export type PrivilegePlan =
  | { kind: 'drop'; account: ServiceAccount }
  | { kind: 'stay' }
  /** Root with no "user": it runs on as root, with a warning at start. */
  | { kind: 'root' };

/**
 * Root with "user": bind, then drop. Already that user (systemd's User=): stay.
 * Another unprivileged user with "user" set cannot become it: refused, since
 * it would run as an account the administrator did not choose.
 */
export function planPrivileges(user: string | undefined, group: string | undefined, uid = process.getuid?.() ?? -1): PrivilegePlan {
  if (user === undefined) return uid === 0 ? { kind: 'root' } : { kind: 'stay' };
  const account = lookupServiceAccount(user, group);
  if (uid === 0) return { kind: 'drop', account };
  if (uid === account.uid) return { kind: 'stay' };
  throw new MailError(
    'REFUSED',
    `"user": "${user}" is configured, but serve runs as UID ${uid}, which cannot become ${user}: start it as root (it binds its ports, then runs as ${user}) or as ${user} itself`,
  );
}

/** Becomes the account for good: supplementary groups, group, then user (after setuid nothing else could change). */
export function dropPrivileges(account: ServiceAccount): void {
  process.setgroups!(account.groups);
  process.setgid!(account.gid);
  process.setuid!(account.uid);
  if (process.getuid!() !== account.uid || process.getgid!() !== account.gid) {
    throw new MailError('INTERNAL', `could not become ${account.user} (UID ${account.uid}, GID ${account.gid})`);
  }
}
