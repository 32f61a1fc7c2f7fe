// An Apple configuration profile (.mobileconfig) that sets up one mail
// account on iOS and macOS: a com.apple.mail.managed payload inside a
// Configuration payload. It carries no password: the device asks for it when
// the profile is installed. Pure: the caller gives the UUID source.
import { randomUUID } from 'node:crypto';
import { escapeXml, type MailPorts } from './xml-text.js';

export interface AppleProfileInput {
  address: string;
  /** Shown as the sender name and the account's name. */
  displayName: string;
  hostname: string;
  ports: MailPorts;
  /** Only for tests; randomUUID by default. */
  uuid?: () => string;
}

type PlistValue = string | number | boolean | PlistValue[] | { [key: string]: PlistValue };

function plist(value: PlistValue, indent: string): string {
  if (typeof value === 'string') return `${indent}<string>${escapeXml(value)}</string>`;
  if (typeof value === 'number') return `${indent}<integer>${Math.trunc(value)}</integer>`;
  if (typeof value === 'boolean') return `${indent}<${value}/>`;
  if (Array.isArray(value)) return [`${indent}<array>`, ...value.map((v) => plist(v, `${indent}  `)), `${indent}</array>`].join('\n');
  const lines = [`${indent}<dict>`];
  for (const [key, v] of Object.entries(value)) lines.push(`${indent}  <key>${escapeXml(key)}</key>`, plist(v, `${indent}  `));
  lines.push(`${indent}</dict>`);
  return lines.join('\n');
}

/** A reverse-DNS identifier stable for one account, so installing a new profile replaces the old one. */
function identifier(hostname: string, address: string): string {
  const reversed = hostname.toLowerCase().split('.').reverse().join('.');
  return `${reversed}.postino.mail.${address.toLowerCase().replace(/[^a-z0-9.-]/g, '-')}`;
}

export function appleMailProfile(input: AppleProfileInput): string {
  const uuid = input.uuid ?? randomUUID;
  const id = identifier(input.hostname, input.address);
  const mail: PlistValue = {
    EmailAccountDescription: input.address,
    EmailAccountName: input.displayName,
    EmailAccountType: 'EmailTypeIMAP',
    EmailAddress: input.address,
    IncomingMailServerAuthentication: 'EmailAuthPassword',
    IncomingMailServerHostName: input.hostname,
    IncomingMailServerPortNumber: input.ports.imaps,
    IncomingMailServerUseSSL: true,
    IncomingMailServerUsername: input.address,
    OutgoingMailServerAuthentication: 'EmailAuthPassword',
    OutgoingMailServerHostName: input.hostname,
    OutgoingMailServerPortNumber: input.ports.submissions,
    OutgoingMailServerUseSSL: true,
    OutgoingMailServerUsername: input.address,
    OutgoingPasswordSameAsIncomingPassword: true,
    PayloadDescription: `Mail account ${input.address}`,
    PayloadDisplayName: input.address,
    PayloadIdentifier: `${id}.account`,
    PayloadType: 'com.apple.mail.managed',
    PayloadUUID: uuid(),
    PayloadVersion: 1,
    PreventAppSheet: false,
    PreventMove: false,
    SMIMEEnabled: false,
  };
  const profile: PlistValue = {
    PayloadContent: [mail],
    PayloadDescription: `Sets up the mail account ${input.address} on ${input.hostname}`,
    PayloadDisplayName: `Mail: ${input.address}`,
    PayloadIdentifier: id,
    PayloadRemovalDisallowed: false,
    PayloadType: 'Configuration',
    PayloadUUID: uuid(),
    PayloadVersion: 1,
  };
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    plist(profile, ''),
    '</plist>',
    '',
  ].join('\n');
}
