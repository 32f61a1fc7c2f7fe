// Mail client autoconfiguration on the admin port: Thunderbird's autoconfig,
// Outlook's autodiscover, and an Apple configuration profile for a user who
// proves who they are. Every answer is for a local domain only; nothing says
// whether an account exists except a successful login.
import type { Context, Hono } from 'hono';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { AdminDeps, AdminRouteModule } from '../app.js';
import type { Config } from '../../config.js';
import { parseAddress } from '../../addresses.js';
import { MailError } from '../../../storage/errors.js';
import { thunderbirdConfig } from './thunderbird.js';
import { autodiscoverResponse, findEmailAddress, MAX_AUTODISCOVER_BODY } from './autodiscover.js';
import { appleMailProfile } from './apple-profile.js';
import { authenticate } from '../api/principal.js';
import type { MailPorts } from './xml-text.js';

/** Longest query string read (an address is at most 320 characters). */
const MAX_QUERY = 1024;
/** Longest Authorization header value read. */
const MAX_AUTHORIZATION = 1024;
const MAX_ADDRESS = 320;

const XML = 'application/xml; charset=utf-8';

function mailPorts(config: Config): MailPorts {
  const p = config.ports;
  return { imap: p.imap, imaps: p.imaps, pop3: p.pop3, pop3s: p.pop3s, submission: p.submission, submissions: p.submissions };
}

function problem(c: Context, status: 400 | 401 | 403 | 404 | 413, title: string, headers: Record<string, string> = {}): Response {
  return c.json({ type: 'about:blank', title, status }, status, { 'content-type': 'application/problem+json', ...headers });
}

function clientIp(c: Context): string | undefined {
  return (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket.remoteAddress;
}

/** The query string, or undefined when it is too long to read. */
function boundedQuery(c: Context): URLSearchParams | undefined {
  const url = c.req.url;
  const q = url.indexOf('?');
  if (q < 0) return new URLSearchParams();
  if (url.length - q - 1 > MAX_QUERY) return undefined;
  return new URLSearchParams(url.slice(q + 1));
}

/** The domain of a syntactically valid address, or undefined. */
function domainOf(address: string): string | undefined {
  if (address.length > MAX_ADDRESS) return undefined;
  try {
    return parseAddress(address).domain;
  } catch {
    return undefined;
  }
}

/**
 * The domains a client may have asked about through the Host it used, when
 * the query has no address: "autoconfig.example.org:8080" -> "example.org",
 * and the host itself for the .well-known form ("example.org").
 */
function domainsFromHost(c: Context, prefix: string): string[] {
  const host = (c.req.header('host') ?? '').slice(0, 300).toLowerCase().replace(/:\d+$/, '');
  if (isIP(host.replace(/^\[|\]$/g, '')) !== 0) return [];
  const names = host.startsWith(prefix) ? [host.slice(prefix.length), host] : [host];
  return names.map((n) => domainOf(`x@${n}`)).filter((d): d is string => d !== undefined);
}

/** Reads at most `max` bytes of the body; undefined when there is more. */
async function boundedBody(c: Context, max: number): Promise<string | undefined> {
  const declared = Number(c.req.header('content-length') ?? '0');
  if (declared > max) return undefined;
  const stream = c.req.raw.body;
  if (!stream) return '';
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** HTTP Basic credentials, or undefined when absent or malformed. */
function basicCredentials(c: Context): { user: string; password: string } | undefined {
  const header = c.req.header('authorization') ?? '';
  if (header.length > MAX_AUTHORIZATION) return undefined;
  const m = /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(header.trim());
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export const autoconfigRoutes: AdminRouteModule = {
  name: 'autoconfig',
  mount(app: Hono, deps: AdminDeps) {
    const isLocal = (domain: string) => deps.storage.directory.hasDomain(domain);

    const thunderbird = async (c: Context) => {
      const query = boundedQuery(c);
      if (!query) return problem(c, 400, 'query string too long');
      const asked = query.get('emailaddress');
      const candidates = asked !== null ? [domainOf(asked)].filter((d): d is string => d !== undefined) : domainsFromHost(c, 'autoconfig.');
      if (candidates.length === 0) return problem(c, 400, asked !== null ? 'emailaddress is not a mail address' : 'emailaddress is required');
      let domain: string | undefined;
      for (const d of candidates) if (domain === undefined && (await isLocal(d))) domain = d;
      if (domain === undefined) return problem(c, 404, 'not a domain of this server');
      const config = deps.config();
      return c.body(thunderbirdConfig({ domain, hostname: config.hostname, ports: mailPorts(config) }), 200, { 'content-type': XML });
    };
    app.get('/mail/config-v1.1.xml', thunderbird);
    app.get('/.well-known/autoconfig/mail/config-v1.1.xml', thunderbird);

    const autodiscover = async (c: Context) => {
      let address: string | null;
      if (c.req.method === 'POST') {
        const body = await boundedBody(c, MAX_AUTODISCOVER_BODY);
        if (body === undefined) return problem(c, 413, `request body over ${MAX_AUTODISCOVER_BODY} bytes`);
        const found = findEmailAddress(body);
        if ('error' in found) return problem(c, 400, found.error);
        address = found.address;
      } else {
        // Some clients probe with GET first; answer when the address is in the query.
        const query = boundedQuery(c);
        if (!query) return problem(c, 400, 'query string too long');
        address = query.get('emailaddress') ?? query.get('EMailAddress');
        if (address === null) return problem(c, 400, 'emailaddress is required');
      }
      const domain = domainOf(address);
      if (domain === undefined) return problem(c, 400, 'EMailAddress is not a mail address');
      if (!(await isLocal(domain))) return problem(c, 404, 'not a domain of this server');
      const config = deps.config();
      return c.body(autodiscoverResponse({ address: address.trim(), hostname: config.hostname, ports: mailPorts(config) }), 200, { 'content-type': XML });
    };
    for (const path of ['/autodiscover/autodiscover.xml', '/Autodiscover/Autodiscover.xml']) {
      app.post(path, autodiscover);
      app.get(path, autodiscover);
    }

    // The panel's user session (the link on the user's page), else HTTP Basic over the shared
    // authenticator (one throttle and failure log with the mail protocols) for a device that asks.
    app.get('/api/v1/me/apple-profile', async (c) => {
      const challenge = { 'www-authenticate': 'Basic realm="Postino", charset="UTF-8"' };
      const session = await authenticate(c, deps);
      let account;
      if (session?.principal.kind === 'user') account = await deps.storage.directory.getAccount(session.principal.name);
      else if (session) return problem(c, 403, 'the profile is for a mail account; log in with its address');
      const credentials = account ? undefined : basicCredentials(c);
      if (!account && !credentials) return problem(c, 401, 'login required', challenge);
      const ip = clientIp(c);
      if (credentials) {
        try {
          account = await deps.authenticator.login(credentials.user, credentials.password, { ...(ip ? { ip } : {}), service: 'admin', mechanism: 'PLAIN' });
        } catch (err) {
          // Wrong credentials and disabled accounts look alike from outside; anything else is a server fault.
          if (err instanceof MailError && (err.code === 'AUTHFAILED' || err.code === 'DISABLED')) return problem(c, 401, 'authentication failed', challenge);
          throw err;
        }
      }
      if (!account) return problem(c, 401, 'login required', challenge);
      const config = deps.config();
      const profile = appleMailProfile({ address: account.address, displayName: account.address, hostname: config.hostname, ports: mailPorts(config) });
      return c.body(profile, 200, {
        'content-type': 'application/x-apple-aspen-config; charset=utf-8',
        'content-disposition': `attachment; filename="${account.domain}.mobileconfig"`,
        'cache-control': 'no-store',
      });
    });
  },
};
