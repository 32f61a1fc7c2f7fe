// Types for the parts of the nodemailer family's decoders that mime/ uses
// (the packages ship none).

declare module 'libmime' {
  interface Libmime {
    /** Decodes the RFC 2047 encoded words in a header value; whitespace between words is dropped. */
    decodeWords(value: string): string;
  }
  const libmime: Libmime;
  export default libmime;
}

declare module 'libmime/lib/charset.js' {
  interface Charset {
    /** Bytes in a named charset to text; an unknown charset is read as UTF-8. */
    decode(bytes: Buffer, charset?: string): string;
  }
  const charset: Charset;
  export default charset;
}

declare module 'libbase64' {
  /** Base64 text to bytes; characters outside the alphabet are skipped. */
  export function decode(text: string): Buffer;
}
