// Types for the parts of mailauth's DKIM signer that dkim.ts calls directly
// (its package types cover only dkimSign/dkimVerify, which cannot oversign).

declare module 'mailauth/lib/tools.js' {
  export interface ParsedHeaderLine {
    /** Lower-case field name. */
    key: string;
    /** The name as written. */
    casedKey: string;
    /** The whole field, folds included, without its last line ending. */
    line: Buffer;
  }
  export interface SigningHeaderLines {
    /** The h= tag's value. */
    keys: string;
    headers: ParsedHeaderLine[];
  }
  interface Tools {
    parseHeaders(header: Buffer): { parsed: ParsedHeaderLine[] };
    /** With verify, picks fields the way a verifier reads h=: one instance per listed name, from the bottom; a name listed more often than present adds nothing. */
    getSigningHeaderLines(parsed: ParsedHeaderLine[], fieldNames: string, verify: boolean): SigningHeaderLines;
    formatSignatureHeaderLine(type: 'DKIM', values: Record<string, string | number>, folded: boolean): string;
  }
  const tools: Tools;
  export default tools;
}

declare module 'mailauth/lib/dkim/header/relaxed.js' {
  import type { SigningHeaderLines } from 'mailauth/lib/tools.js';
  interface Relaxed {
    relaxedHeaders(
      type: 'DKIM',
      lines: SigningHeaderLines,
      options: { signingDomain: string; selector: string; algorithm: string; canonicalization: string; bodyHash: string; signTime: Date },
    ): { canonicalizedHeader: Buffer; dkimHeaderOpts: Record<string, string | number> };
  }
  const relaxed: Relaxed;
  export default relaxed;
}

declare module 'mailauth/lib/dkim/body/index.js' {
  interface BodyHash {
    update(chunk: Buffer): void;
    digest(encoding: 'base64'): string;
  }
  interface Body {
    dkimBody(canonicalization: string, hashAlgo: string, maxBodyLength: false): BodyHash;
  }
  const body: Body;
  export default body;
}
