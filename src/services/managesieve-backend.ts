// The ManageSieve backend: an account's scripts through the same service
// as `postino sieve` (one validator, one set of quotas, the script store
// port), logins through the shared authenticator.
import type { ManageSieveBackend, ScriptEntry, ScriptQuotas, SieveCapabilities, SieveSaslExchange, SieveSaslStep, SieveUser } from '../protocol/managesieve/backend.js';
import type { Storage } from '../../storage/ports.js';
import type { Authenticator } from '../auth/authenticator.js';
import { SASL_MECHANISMS, startSasl } from '../auth/sasl.js';
import { MAX_AUTH_FAILURES_PER_SESSION } from '../auth/penalty.js';
import { capabilities as sieveCapabilities, defaultLimits } from '../../sieve/index.js';
import { SieveScriptService } from './sieve-scripts.js';

const CAPABILITIES: SieveCapabilities = {
  implementation: 'Postino',
  sieve: sieveCapabilities,
  // enotify's one method (RFC 5436).
  notify: sieveCapabilities.includes('enotify') ? ['mailto'] : [],
  maxRedirects: defaultLimits.maxRedirects,
};

export class StoreManageSieveBackend implements ManageSieveBackend {
  readonly saslMechanisms: readonly string[] = SASL_MECHANISMS;
  readonly maxAuthFailures = MAX_AUTH_FAILURES_PER_SESSION;
  private scripts: SieveScriptService;

  constructor(
    private readonly storage: Pick<Storage, 'directory' | 'scripts' | 'transaction'>,
    private readonly auth: Authenticator,
    quotas: ScriptQuotas,
  ) {
    this.scripts = new SieveScriptService(storage, quotas);
  }

  /** A config reload changes the quotas for new commands. */
  setQuotas(quotas: ScriptQuotas): void {
    this.scripts = new SieveScriptService(this.storage, quotas);
  }

  capabilities(): SieveCapabilities {
    return CAPABILITIES;
  }

  quotas(): ScriptQuotas {
    return this.scripts.quotas;
  }

  startSasl(mechanism: string, ip: string): SieveSaslExchange {
    const exchange = startSasl(mechanism, this.auth, { ip, service: 'managesieve' });
    return {
      async step(response: Buffer | undefined): Promise<SieveSaslStep> {
        const s = await exchange.step(response);
        if (s.kind === 'success') return { kind: 'success', user: { accountId: s.account.id, address: s.account.address }, data: s.data };
        if (s.kind === 'failure') return { kind: 'failure', error: s.error };
        return s;
      },
    };
  }

  list(user: SieveUser): Promise<ScriptEntry[]> {
    return this.scripts.list(owner(user));
  }

  get(user: SieveUser, name: string): Promise<string> {
    return this.scripts.get(owner(user), name);
  }

  put(user: SieveUser, name: string, text: string): Promise<void> {
    return this.scripts.put(owner(user), name, text);
  }

  async check(_user: SieveUser, text: string): Promise<void> {
    this.scripts.check(text);
  }

  haveSpace(user: SieveUser, name: string, size: number): Promise<void> {
    return this.scripts.haveSpace(owner(user), name, size);
  }

  activate(user: SieveUser, name: string | undefined): Promise<void> {
    return this.scripts.activate(owner(user), name);
  }

  remove(user: SieveUser, name: string): Promise<void> {
    return this.scripts.remove(owner(user), name);
  }

  rename(user: SieveUser, from: string, to: string): Promise<void> {
    return this.scripts.rename(owner(user), from, to);
  }
}

function owner(user: SieveUser): { id: number } {
  return { id: user.accountId };
}
