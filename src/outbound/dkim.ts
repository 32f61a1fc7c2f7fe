// DKIM signing of outgoing mail (RFC 6376, Ed25519 per RFC 8463): a message
// whose From domain is one of ours with an active key (dkim-keys.ts) gets a
// DKIM-Signature on top, relaxed/relaxed, over the header fields RFC 6376
// 5.4.1 recommends that the message has, From signed once more than it
// occurs ("oversigned": a From added on the way breaks the signature, RFC
// 6376 8.15). Anything else leaves unchanged.
//
// mailauth does the canonicalization and hashing. Its dkimSign signs the
// fields present and nothing more, so the h= list is built here and the
// fields are picked the way its verifier picks them from h=.
import { createHash, sign as cryptoSign } from 'node:crypto';
import mailauthTools from 'mailauth/lib/tools.js';
import relaxed from 'mailauth/lib/dkim/header/relaxed.js';
import body from 'mailauth/lib/dkim/body/index.js';
import { addrSpecs, parseMessage, prependFields, type ParsedMessage } from '../../mime/index.js';
import { TtlCache } from '../ttl-cache.js';
import { MailError } from '../../storage/errors.js';
import type { MessageSigner } from './transport.js';
import type { ActiveDkimKey, DkimKeyStore } from './dkim-keys.js';

/**
 * RFC 6376 5.4.1's list, plus the fields whose change alters what a reader
 * sees (Sender, Message-ID, the MIME fields). Signed when present.
 */
export const DKIM_SIGNED_FIELDS = [
  'From',
  'Sender',
  'Reply-To',
  'Subject',
  'Date',
  'Message-ID',
  'To',
  'Cc',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
  'Resent-Date',
  'Resent-From',
  'Resent-Sender',
  'Resent-To',
  'Resent-Cc',
  'Resent-Message-ID',
  'In-Reply-To',
  'References',
  'List-Id',
  'List-Help',
  'List-Unsubscribe',
  'List-Subscribe',
  'List-Post',
  'List-Owner',
  'List-Archive',
];

const CANONICALIZATION = 'relaxed/relaxed';
/** Instances of one field name signed at most (the bottom ones, as a verifier reads h=). */
const MAX_INSTANCES_SIGNED = 20;
/** How long a domain's active key is reused before the files are read again: `dkim activate` reaches a running server within this. */
const KEY_CACHE_MS = 30_000;

/** The one domain of the message's author: one From field whose addresses share a domain; else undefined (left unsigned). */
export function authorDomain(message: ParsedMessage): string | undefined {
  const from = message.header.all('from');
  if (from.length !== 1) return undefined;
  const domains = new Set(addrSpecs(message.header.value(from[0]!)).map((a) => a.slice(a.lastIndexOf('@') + 1).toLowerCase()));
  return domains.size === 1 ? [...domains][0] : undefined;
}

/**
 * The DKIM-Signature field (folded, no final line ending) of message by key.
 * signTime is passed in so that the signed t= and the written one agree.
 */
export async function dkimSignature(message: ParsedMessage, key: ActiveDkimKey, signTime: Date): Promise<string> {
  const hasher = body.dkimBody(CANONICALIZATION, 'sha256', false);
  hasher.update(message.raw.subarray(message.header.bodyStart));
  const bodyHash = hasher.digest('base64');

  const header = message.header;
  const parsed = header.fields.map((f) => ({ key: f.key, casedKey: f.name, line: header.raw.subarray(f.start, f.valueEnd) }));
  // Each field as often as it occurs (a verifier takes them from the bottom), bounded: a header of
  // thousands of To fields costs the verifier's quadratic pick nothing past the cap.
  const present = DKIM_SIGNED_FIELDS.flatMap((name) => Array<string>(Math.min(header.all(name).length, MAX_INSTANCES_SIGNED)).fill(name));
  const names = [...present, 'From'];
  const picked = mailauthTools.getSigningHeaderLines(parsed, names.join(':'), true);
  const lines = { keys: names.join(':'), headers: picked.headers };

  const algorithm = `${key.type}-sha256`;
  const { canonicalizedHeader, dkimHeaderOpts } = relaxed.relaxedHeaders('DKIM', lines, {
    signingDomain: key.domain,
    selector: key.selector,
    algorithm,
    canonicalization: CANONICALIZATION,
    bodyHash,
    signTime,
  });
  // RFC 8463: Ed25519 signs the SHA-256 of the canonicalized header (PureEdDSA over the hash).
  // The callback form runs in libuv's thread pool: an RSA-2048 signature costs about a millisecond
  // of CPU, which on the event loop was the queue runner's largest single cost.
  const b =
    key.type === 'rsa'
      ? await signInPool('sha256', Buffer.from(canonicalizedHeader), key.privateKey)
      : await signInPool(null, createHash('sha256').update(canonicalizedHeader).digest(), key.privateKey);
  return mailauthTools.formatSignatureHeaderLine('DKIM', { ...dkimHeaderOpts, b: b.toString('base64') }, true);
}

function signInPool(algorithm: string | null, data: Buffer, key: ActiveDkimKey['privateKey']): Promise<Buffer> {
  return new Promise((resolve, reject) => cryptoSign(algorithm, data, key, (err, signature) => (err ? reject(err) : resolve(signature))));
}

export class DkimSigner implements MessageSigner {
  private readonly cache = new TtlCache<ActiveDkimKey | null>(KEY_CACHE_MS, 1000);

  constructor(
    private readonly keys: DkimKeyStore,
    private readonly isLocalDomain: (domain: string) => Promise<boolean>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async sign(input: Buffer): Promise<Buffer> {
    let raw = input;
    let message = parseMessage(raw);
    const domain = authorDomain(message);
    if (domain === undefined || !(await this.isLocalDomain(domain))) return raw;
    const key = this.activeKey(domain);
    if (!key) return raw;
    if (message.header.headerEnd === raw.length) {
      // A header with no empty line after it: verifiers (mailauth's among them) read it all as body. Ended here, it reads one way.
      raw = Buffer.concat([raw, Buffer.from(raw.at(-1) === 0x0a ? '\r\n' : '\r\n\r\n')]);
      message = parseMessage(raw);
    }
    return prependFields(raw, [await dkimSignature(message, key, this.now())]);
  }

  /**
   * A key that is there but cannot be read (a damaged file, wrong owner) is a
   * temporary failure, not a reason to send unsigned mail that DMARC may
   * reject: the runner defers the message and the log says why.
   */
  private activeKey(domain: string): ActiveDkimKey | undefined {
    const cached = this.cache.get(domain);
    if (cached !== undefined) return cached ?? undefined;
    let key;
    try {
      key = this.keys.activeKey(domain);
    } catch (err) {
      throw new MailError('TEMPFAIL', `the DKIM key of ${domain} cannot be read: ${(err as Error).message}`, { cause: err });
    }
    this.cache.set(domain, key ?? null);
    return key;
  }
}
