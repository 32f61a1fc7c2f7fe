// Dovecot passwd-file lines: user:password:uid:gid:gecos:home:shell:extra
// fields. Only what the import needs: the user, the password (with its
// {SCHEME}), the home and a mail=maildir:PATH from the extra fields.
import { MailError } from '../../../storage/errors.js';

export interface PasswdUser {
  line: number;
  user: string;
  password: string;
  home: string | undefined;
  /** The user's Maildir and its layout, from mail=maildir:PATH[:LAYOUT=fs] (userdb_mail= too), else home/Maildir. */
  maildir: string | undefined;
  layout: 'maildir++' | 'fs' | undefined;
}

const MAX_LINE = 8192;

/** Replaces Dovecot's %u %n %d (and %{user} etc.) and a leading ~ in a path. */
function expand(text: string, user: string, home: string | undefined, file: string, line: number): string {
  const at = user.indexOf('@');
  const values: Record<string, string> = { u: user, n: at < 0 ? user : user.slice(0, at), d: at < 0 ? '' : user.slice(at + 1), h: home ?? '', '%': '%' };
  const long: Record<string, string> = { user: 'u', username: 'n', domain: 'd', home: 'h' };
  let out = text.replace(/%(?:\{([a-z]+)\}|(.))/g, (all, name: string | undefined, ch: string | undefined) => {
    const key = name !== undefined ? long[name] : ch;
    const v = key === undefined ? undefined : values[key];
    if (v === undefined) throw new MailError('BADINPUT', `${file}:${line}: unsupported variable ${all} in ${JSON.stringify(text)}`);
    return v;
  });
  if (out === '~' || out.startsWith('~/')) {
    if (!home) throw new MailError('BADINPUT', `${file}:${line}: "~" in the mail location but no home`);
    out = home + out.slice(1);
  }
  return out;
}

export function parsePasswdFile(text: string, file: string): PasswdUser[] {
  const out: PasswdUser[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, '');
    const at = i + 1;
    if (raw.trim() === '' || raw.startsWith('#')) continue;
    if (raw.length > MAX_LINE) throw new MailError('BADINPUT', `${file}:${at}: line too long`);
    const f = raw.split(':');
    // The password may hold ":" only in schemes we never see here; the first seven fields are fixed, the rest are extras.
    const user = f[0]!;
    if (!/^[^\s@:]+(@[^\s@:]+)?$/.test(user)) throw new MailError('BADINPUT', `${file}:${at}: bad user name`);
    const password = f[1] ?? '';
    const home = f[5] ? f[5] : undefined;
    const extras = f.slice(7).join(':').split(/\s+/).filter((x) => x !== '');
    let maildir: string | undefined;
    let layout: 'maildir++' | 'fs' | undefined;
    for (const x of extras) {
      const m = /^(?:userdb_)?mail=(.*)$/.exec(x);
      if (!m) continue;
      const loc = m[1]!;
      if (!loc.startsWith('maildir:')) throw new MailError('BADINPUT', `${file}:${at}: mail location ${JSON.stringify(loc)} is not a Maildir`);
      const [p, ...opts] = loc.slice('maildir:'.length).split(':');
      maildir = expand(p!, user, home, file, at);
      if (opts.some((o) => o.toUpperCase() === 'LAYOUT=FS')) layout = 'fs';
    }
    if (maildir === undefined && home !== undefined) maildir = `${home.replace(/\/$/, '')}/Maildir`;
    out.push({ line: at, user, password, home, maildir, layout });
  }
  return out;
}
