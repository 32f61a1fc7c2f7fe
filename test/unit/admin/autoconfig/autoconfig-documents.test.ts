// The autoconfig documents as pure functions: the Apple profile (unique
// UUIDs, no password, escaped values), the autodiscover request scan (one
// forward pass, refusing what is not a plain request), and XML escaping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appleMailProfile } from '../../../../src/admin/autoconfig/apple-profile.js';
import { findEmailAddress, autodiscoverResponse, MAX_AUTODISCOVER_BODY } from '../../../../src/admin/autoconfig/autodiscover.js';
import { thunderbirdConfig } from '../../../../src/admin/autoconfig/thunderbird.js';
import { escapeXml } from '../../../../src/admin/autoconfig/xml-text.js';

const ports = { imap: 143, imaps: 993, pop3: 110, pop3s: 995, submission: 587, submissions: 465 };

/** The value after <key>NAME</key> in a plist, as text. */
function plistValue(xml: string, key: string): string | undefined {
  const m = new RegExp(`<key>${key}</key>\\n\\s*<(string|integer)>([^<]*)</\\1>|<key>${key}</key>\\n\\s*<(true|false)/>`).exec(xml);
  return m ? (m[2] ?? m[3]) : undefined;
}

test('Apple profile: a com.apple.mail.managed payload with the servers, implicit TLS ports and the address as login, no password', () => {
  const xml = appleMailProfile({ address: 'ana@example.test', displayName: 'Ana', hostname: 'mail.example.test', ports });
  assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<!DOCTYPE plist/);
  assert.equal(plistValue(xml, 'PayloadType'), 'com.apple.mail.managed');
  assert.match(xml, /<key>PayloadType<\/key>\n\s*<string>Configuration<\/string>/);
  assert.equal(plistValue(xml, 'EmailAccountType'), 'EmailTypeIMAP');
  assert.equal(plistValue(xml, 'EmailAddress'), 'ana@example.test');
  assert.equal(plistValue(xml, 'IncomingMailServerHostName'), 'mail.example.test');
  assert.equal(plistValue(xml, 'IncomingMailServerPortNumber'), '993');
  assert.equal(plistValue(xml, 'IncomingMailServerUseSSL'), 'true');
  assert.equal(plistValue(xml, 'IncomingMailServerUsername'), 'ana@example.test');
  assert.equal(plistValue(xml, 'OutgoingMailServerPortNumber'), '465');
  assert.equal(plistValue(xml, 'OutgoingMailServerUsername'), 'ana@example.test');
  assert.doesNotMatch(xml, /Password<\/key>\s*<string>/, 'no password value');
  assert.doesNotMatch(xml, /<key>(Incoming|Outgoing)Password<\/key>/);
  const uuids = [...xml.matchAll(/<key>PayloadUUID<\/key>\n\s*<string>([^<]*)<\/string>/g)].map((m) => m[1]);
  assert.equal(uuids.length, 2);
  assert.notEqual(uuids[0], uuids[1]);
  for (const u of uuids) assert.match(u!, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  const again = appleMailProfile({ address: 'ana@example.test', displayName: 'Ana', hostname: 'mail.example.test', ports });
  assert.notEqual(again.match(/[0-9a-f]{8}-[0-9a-f-]{27}/)![0], uuids[1], 'new UUIDs each time');
  assert.match(xml, /<string>test\.example\.mail\.postino\.mail\.ana-example\.test<\/string>/, 'a stable identifier per account');
});

test('Apple profile: values are escaped', () => {
  const xml = appleMailProfile({ address: 'a@example.test', displayName: 'A <b> & "c"', hostname: 'mail.example.test', ports, uuid: () => 'U' });
  assert.match(xml, /<string>A &lt;b&gt; &amp; &quot;c&quot;<\/string>/);
});

test('escapeXml escapes markup and drops characters XML cannot carry', () => {
  assert.equal(escapeXml(`<a href='x'>&"\u0001</a>`), '&lt;a href=&apos;x&apos;&gt;&amp;&quot;&lt;/a&gt;');
});

test('Thunderbird document: one domain, six servers, implicit TLS first', () => {
  const xml = thunderbirdConfig({ domain: 'example.test', hostname: 'mail.example.test', ports });
  assert.equal(xml.match(/<domain>/g)!.length, 1);
  assert.deepEqual(
    [...xml.matchAll(/<(incoming|outgoing)Server type="(\w+)">\n\s*<hostname>[^<]*<\/hostname>\n\s*<port>(\d+)<\/port>\n\s*<socketType>(\w+)</g)].map((m) => `${m[2]} ${m[3]} ${m[4]}`),
    ['imap 993 SSL', 'imap 143 STARTTLS', 'pop3 995 SSL', 'pop3 110 STARTTLS', 'smtp 465 SSL', 'smtp 587 STARTTLS'],
  );
});

const outlookRequest = (address: string) =>
  `<?xml version="1.0" encoding="utf-8"?>\r\n<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">\r\n  <Request>\r\n    <EMailAddress>${address}</EMailAddress>\r\n    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>\r\n  </Request>\r\n</Autodiscover>\r\n`;

test('autodiscover: the address of an Outlook request, with or without a namespace prefix', () => {
  assert.deepEqual(findEmailAddress(outlookRequest('ana@example.test')), { address: 'ana@example.test' });
  assert.deepEqual(findEmailAddress('<a:Autodiscover xmlns:a="x"><a:Request><a:EMailAddress> b@example.test </a:EMailAddress></a:Request></a:Autodiscover>'), { address: 'b@example.test' });
});

test('autodiscover: malformed and hostile requests are refused with a reason', () => {
  const refused = (body: string) => assert.ok('error' in findEmailAddress(body), body.slice(0, 80));
  refused('');
  refused('not xml at all');
  refused('<Autodiscover><Request><EMailAddress>a@b.test');
  refused('<Autodiscover><Request><EMailAddress>a@b.test</Other></Request></Autodiscover>');
  refused('<!DOCTYPE x [<!ENTITY e "a@b.test">]><Autodiscover><EMailAddress>&e;</EMailAddress></Autodiscover>');
  refused('<Autodiscover><EMailAddress>&amp;@b.test</EMailAddress></Autodiscover>');
  refused('<EMailAddress>a@b.test</EMailAddress>');
  refused('<Autodiscover><!-- <EMailAddress>a@b.test</EMailAddress> --></Autodiscover>');
  refused(`<Autodiscover>${' '.repeat(MAX_AUTODISCOVER_BODY)}</Autodiscover>`);
  // Many unclosed '<' are one pass, not a quadratic rescan.
  const many = '<Autodiscover>' + '<a'.repeat(2000);
  refused(many);
});

test('autodiscover response: IMAP and SMTP entries with the address as login, escaped', () => {
  const xml = autodiscoverResponse({ address: 'o\'k@example.test', hostname: 'mail.example.test', ports });
  assert.match(xml, /responseschema\/2006a/);
  assert.match(xml, /<Type>IMAP<\/Type>\n\s*<Server>mail\.example\.test<\/Server>\n\s*<Port>993<\/Port>/);
  assert.match(xml, /<Type>SMTP<\/Type>\n\s*<Server>mail\.example\.test<\/Server>\n\s*<Port>465<\/Port>/);
  assert.match(xml, /<LoginName>o&apos;k@example\.test<\/LoginName>/);
});
