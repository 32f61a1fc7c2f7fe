// IMAP's modified UTF-7 (RFC 3501 5.1.3), in which Dovecot names folders on
// disk: "&" + base64 (with "," for "/") of UTF-16BE + "-"; "&-" is "&".
import { MailError } from '../../../storage/errors.js';

export function decodeModifiedUtf7(name: string): string {
  let out = '';
  let i = 0;
  while (i < name.length) {
    const amp = name.indexOf('&', i);
    if (amp < 0) {
      out += name.slice(i);
      break;
    }
    out += name.slice(i, amp);
    const end = name.indexOf('-', amp);
    if (end < 0) throw new MailError('BADINPUT', `folder name ${JSON.stringify(name)}: unterminated "&"`);
    const b64 = name.slice(amp + 1, end);
    if (b64 === '') out += '&';
    else {
      if (!/^[A-Za-z0-9+,]+$/.test(b64)) throw new MailError('BADINPUT', `folder name ${JSON.stringify(name)}: bad modified UTF-7`);
      const bytes = Buffer.from(b64.replace(/,/g, '/'), 'base64');
      if (bytes.length % 2 !== 0) throw new MailError('BADINPUT', `folder name ${JSON.stringify(name)}: bad modified UTF-7`);
      out += bytes.swap16().toString('utf16le');
    }
    i = end + 1;
  }
  return out;
}
