// Outlook's autodiscover (the POX "responseschema/2006a" protocol): the
// request names one EMailAddress, the answer lists the IMAP and SMTP servers.
//
// The request body is peer data: it is not given to an XML parser (entities,
// DOCTYPEs and depth are a parser's attack surface, and one element is all
// we need). findEmailAddress makes one forward pass over a body whose size the
// caller has already capped.
import { escapeXml, type MailPorts } from './xml-text.js';

/** Bodies longer than this are refused (a real request is about 350 bytes). */
export const MAX_AUTODISCOVER_BODY = 4096;

export type EmailAddressResult = { address: string } | { error: string };

/**
 * The text of the first <EMailAddress> element (any namespace prefix, any
 * case). Refuses DOCTYPEs, entity references in the address, and bodies that
 * do not look like an Autodiscover request at all.
 */
export function findEmailAddress(body: string): EmailAddressResult {
  if (body.length > MAX_AUTODISCOVER_BODY) return { error: 'request too large' };
  let sawRoot = false;
  let pos = body.indexOf('<');
  while (pos >= 0) {
    const close = body.indexOf('>', pos + 1);
    if (close < 0) return { error: 'malformed XML: unterminated tag' };
    const tag = body.slice(pos + 1, close);
    if (tag.startsWith('!')) {
      // Comments and CDATA could hide markup; a DOCTYPE could declare entities. None belong in this request.
      return { error: 'malformed request: declarations, comments and CDATA are not accepted' };
    }
    if (!tag.startsWith('?') && !tag.startsWith('/')) {
      const name = /^[^\s/>]*/.exec(tag)![0];
      const local = name.slice(name.indexOf(':') + 1).toLowerCase();
      if (local === 'autodiscover') sawRoot = true;
      if (local === 'emailaddress') {
        if (!sawRoot) return { error: 'malformed request: EMailAddress outside Autodiscover' };
        const end = body.indexOf('<', close + 1);
        if (end < 0) return { error: 'malformed XML: EMailAddress not closed' };
        const endTag = /^<\/([^\s>]*)\s*>/.exec(body.slice(end, end + 300));
        if (!endTag || endTag[1] !== name) return { error: 'malformed XML: EMailAddress not closed' };
        const text = body.slice(close + 1, end).trim();
        if (text === '' || text.includes('&')) return { error: 'malformed request: EMailAddress is not an address' };
        return { address: text };
      }
    }
    pos = body.indexOf('<', close + 1);
  }
  return { error: sawRoot ? 'malformed request: no EMailAddress' : 'malformed request: not an Autodiscover request' };
}

export interface AutodiscoverInput {
  address: string;
  hostname: string;
  ports: MailPorts;
}

function protocol(type: 'IMAP' | 'SMTP', host: string, port: number, login: string): string {
  return [
    '      <Protocol>',
    `        <Type>${type}</Type>`,
    `        <Server>${host}</Server>`,
    `        <Port>${port}</Port>`,
    '        <DomainRequired>off</DomainRequired>',
    `        <LoginName>${login}</LoginName>`,
    '        <SPA>off</SPA>',
    '        <SSL>on</SSL>',
    '        <AuthRequired>on</AuthRequired>',
    '      </Protocol>',
  ].join('\n');
}

/** The answer for one address: IMAPS and SMTP submissions, both with implicit TLS, login with the full address. */
export function autodiscoverResponse(input: AutodiscoverInput): string {
  const host = escapeXml(input.hostname);
  const login = escapeXml(input.address);
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">',
    '  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">',
    '    <Account>',
    '      <AccountType>email</AccountType>',
    '      <Action>settings</Action>',
    protocol('IMAP', host, input.ports.imaps, login),
    protocol('SMTP', host, input.ports.submissions, login),
    '    </Account>',
    '  </Response>',
    '</Autodiscover>',
    '',
  ].join('\n');
}
