// Server side of the SASL mechanisms every protocol offers: PLAIN (RFC
// 4616), LOGIN (draft-murchison-sasl-login) and SCRAM-SHA-256 (RFC 5802,
// RFC 7677). A protocol feeds client responses in and sends out what each
// step returns; it never looks inside a mechanism.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AccountRecord } from '../../storage/ports.js';
import { MailError } from '../../storage/errors.js';
import type { Authenticator, LoginContext } from './authenticator.js';
import { hmac, sha256, makeScramCredentials } from './password.js';

export const SASL_MECHANISMS = ['PLAIN', 'LOGIN', 'SCRAM-SHA-256'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export type SaslStep =
  | { kind: 'challenge'; data: Buffer }
  | { kind: 'success'; account: AccountRecord; /** SCRAM's final server message, sent with the success */ data?: Buffer }
  | { kind: 'failure'; error: MailError };

export interface SaslExchange {
  readonly mechanism: SaslMechanism;
  /**
   * The client's next response, decoded from base64; `undefined` for "no
   * initial response" at the start. An empty Buffer is a zero-length response.
   */
  step(response: Buffer | undefined): Promise<SaslStep>;
}

const MAX_FIELD = 1024;

export function isSaslMechanism(name: string): name is SaslMechanism {
  return (SASL_MECHANISMS as readonly string[]).includes(name.toUpperCase());
}

export function startSasl(mechanism: string, auth: Authenticator, ctx: LoginContext = {}): SaslExchange {
  const mech = mechanism.toUpperCase();
  const withMechanism = { ...ctx, mechanism: mech };
  if (mech === 'PLAIN') return new PlainExchange(auth, withMechanism);
  if (mech === 'LOGIN') return new LoginExchange(auth, withMechanism);
  if (mech === 'SCRAM-SHA-256') return new ScramExchange(auth, withMechanism);
  throw new MailError('BADINPUT', `unsupported SASL mechanism ${mechanism}`);
}

/** A failure other than a checked password: logged and slowed down like one, by the authenticator. */
async function failed(auth: Authenticator, ctx: LoginContext, user: string, reason: 'malformed' | 'authorization identity differs', what = ''): Promise<SaslStep> {
  const error = reason === 'malformed' ? new MailError('BADINPUT', `malformed ${what}`) : undefined;
  return { kind: 'failure', error: await auth.fail(user, reason, ctx, error) };
}

async function passwordLogin(auth: Authenticator, user: string, pass: string, ctx: LoginContext): Promise<SaslStep> {
  try {
    return { kind: 'success', account: await auth.login(user, pass, ctx) };
  } catch (err) {
    return { kind: 'failure', error: err instanceof MailError ? err : new MailError('TEMPFAIL', 'authentication unavailable', { cause: err }) };
  }
}

class PlainExchange implements SaslExchange {
  readonly mechanism = 'PLAIN' as const;
  private asked = false;
  constructor(
    private readonly auth: Authenticator,
    private readonly ctx: LoginContext,
  ) {}

  async step(response: Buffer | undefined): Promise<SaslStep> {
    if (response === undefined) {
      if (this.asked) return failed(this.auth, this.ctx, '', 'malformed', 'PLAIN response');
      this.asked = true;
      return { kind: 'challenge', data: Buffer.alloc(0) };
    }
    const parts = response.toString('utf8').split('\0');
    if (parts.length !== 3) return failed(this.auth, this.ctx, '', 'malformed', 'PLAIN response');
    const [authz, authc, pass] = parts as [string, string, string];
    if (authc.length === 0 || authc.length > MAX_FIELD || pass.length > MAX_FIELD) return failed(this.auth, this.ctx, authc, 'malformed', 'PLAIN response');
    // No proxy logins: the authorization identity, if given, must be the user.
    if (authz !== '' && authz.toLowerCase() !== authc.toLowerCase()) return failed(this.auth, this.ctx, authc, 'authorization identity differs');
    return passwordLogin(this.auth, authc, pass, this.ctx);
  }
}

class LoginExchange implements SaslExchange {
  readonly mechanism = 'LOGIN' as const;
  private user: string | undefined;
  constructor(
    private readonly auth: Authenticator,
    private readonly ctx: LoginContext,
  ) {}

  async step(response: Buffer | undefined): Promise<SaslStep> {
    if (response === undefined) return { kind: 'challenge', data: Buffer.from('Username:') };
    const text = response.toString('utf8');
    if (text.length > MAX_FIELD) return failed(this.auth, this.ctx, this.user ?? '', 'malformed', 'LOGIN response');
    if (this.user === undefined) {
      if (text === '') return failed(this.auth, this.ctx, '', 'malformed', 'LOGIN user name');
      this.user = text;
      return { kind: 'challenge', data: Buffer.from('Password:') };
    }
    return passwordLogin(this.auth, this.user, text, this.ctx);
  }
}

/** RFC 5802 attribute list "a=x,b=y" (values may hold "="). */
function attributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) out.set(part[0]!, part.slice(2));
  }
  return out;
}

function saslName(value: string): string | undefined {
  if (/=(?!2C|3D)/.test(value)) return undefined;
  return value.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

class ScramExchange implements SaslExchange {
  readonly mechanism = 'SCRAM-SHA-256' as const;
  private state: 'start' | 'first' | 'final' | 'done' = 'start';
  private user = '';
  private clientFirstBare = '';
  private serverFirst = '';
  private gs2Header = '';
  private nonce = '';
  private account: AccountRecord | undefined;
  private credentials: ReturnType<typeof makeScramCredentials> | undefined;

  constructor(
    private readonly auth: Authenticator,
    private readonly ctx: LoginContext,
  ) {}

  async step(response: Buffer | undefined): Promise<SaslStep> {
    if (this.state === 'start') {
      this.state = 'first';
      if (response === undefined) return { kind: 'challenge', data: Buffer.alloc(0) };
    }
    if (response === undefined) return this.malformed('SCRAM message');
    const text = response.toString('utf8');
    if (text.length > 4 * MAX_FIELD) return this.malformed('SCRAM message');
    if (this.state === 'first') return this.first(text);
    if (this.state === 'final') return this.final(text);
    return this.malformed('SCRAM message');
  }

  private malformed(what: string): Promise<SaslStep> {
    this.state = 'done';
    return failed(this.auth, this.ctx, this.user, 'malformed', what);
  }

  private async first(text: string): Promise<SaslStep> {
    // gs2-header: "n,," or "y,," (no channel binding; we offer no -PLUS), optional a=authzid.
    const m = /^([ny]),(a=[^,]*)?,(.*)$/s.exec(text);
    if (!m) return this.malformed('SCRAM client-first message');
    this.gs2Header = text.slice(0, text.length - m[3]!.length);
    this.clientFirstBare = m[3]!;
    const attrs = attributes(this.clientFirstBare);
    const user = saslName(attrs.get('n') ?? '');
    const cnonce = attrs.get('r');
    if (!user || !cnonce || this.clientFirstBare.startsWith('m=')) return this.malformed('SCRAM client-first message');
    this.user = user;
    const authz = m[2] ? saslName(m[2].slice(2)) : undefined;
    if (authz && authz.toLowerCase() !== user.toLowerCase()) {
      this.state = 'done';
      return failed(this.auth, this.ctx, user, 'authorization identity differs');
    }
    let found;
    try {
      found = await this.auth.scramCredentials(user, this.ctx);
    } catch (err) {
      this.state = 'done';
      return { kind: 'failure', error: err instanceof MailError ? err : new MailError('TEMPFAIL', 'authentication unavailable', { cause: err }) };
    }
    this.account = found.account;
    // Unknown users get stable-looking fake credentials; the proof then fails.
    this.credentials = found.credentials ?? makeScramCredentials(randomBytes(16).toString('hex'), 4096);
    this.nonce = cnonce + randomBytes(18).toString('base64');
    this.serverFirst = `r=${this.nonce},s=${this.credentials.salt.toString('base64')},i=${this.credentials.iterations}`;
    this.state = 'final';
    return { kind: 'challenge', data: Buffer.from(this.serverFirst) };
  }

  private async final(text: string): Promise<SaslStep> {
    this.state = 'done';
    const pIndex = text.lastIndexOf(',p=');
    if (pIndex < 0) return this.malformed('SCRAM client-final message');
    const withoutProof = text.slice(0, pIndex);
    const attrs = attributes(text);
    const proof = Buffer.from(attrs.get('p') ?? '', 'base64');
    if (attrs.get('r') !== this.nonce || attrs.get('c') !== Buffer.from(this.gs2Header).toString('base64')) {
      return this.finish(false);
    }
    const creds = this.credentials!;
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const clientSignature = hmac(creds.storedKey, authMessage);
    if (proof.length !== clientSignature.length) return this.finish(false);
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i]! ^ clientSignature[i]!;
    const ok = timingSafeEqual(sha256(clientKey), creds.storedKey);
    const step = await this.finish(ok);
    if (step.kind === 'success') {
      step.data = Buffer.from(`v=${hmac(creds.serverKey, authMessage).toString('base64')}`);
    }
    return step;
  }

  private async finish(ok: boolean): Promise<SaslStep> {
    try {
      return { kind: 'success', account: await this.auth.finishScram(this.user, this.account, ok, this.ctx) };
    } catch (err) {
      return { kind: 'failure', error: err as MailError };
    }
  }
}
