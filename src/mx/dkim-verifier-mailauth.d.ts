// Types for mailauth's DKIM verifier class, which sender-auth.ts drives
// directly for a message without a signature (its package types cover only
// dkimVerify, which takes the message as a stream).

declare module 'mailauth/lib/dkim/dkim-verifier.js' {
  import type { DKIMResult } from 'mailauth';
  import type { ParsedHeaderLine } from 'mailauth/lib/tools.js';
  interface VerifierOptions {
    resolver: unknown;
    minBitLength?: number;
    sender?: string;
  }
  class DkimVerifier {
    constructor(options: VerifierOptions);
    /** What the stream parser calls with the header section, parsed by tools.parseHeaders. */
    messageHeaders(headers: { parsed: ParsedHeaderLine[] }): Promise<void>;
    /** What the stream parser calls at the end of the message: verifies the signatures found. */
    finalChunk(): Promise<void>;
    headerFrom: string[];
    envelopeFrom: string | false;
    results: DKIMResult[];
    arc: unknown;
  }
  const verifier: { DkimVerifier: typeof DkimVerifier };
  export default verifier;
}
