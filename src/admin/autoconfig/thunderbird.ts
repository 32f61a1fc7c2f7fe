// Thunderbird's autoconfig document (clientConfig version 1.1, the format of
// Mozilla's ISPDB): the servers, ports, socket types and login form a client
// needs to set up an account for an address in a local domain.
import { escapeXml, type MailPorts } from './xml-text.js';

export interface ThunderbirdConfigInput {
  /** The mail domain asked about (already known to be local). */
  domain: string;
  /** The host clients connect to (config.hostname). */
  hostname: string;
  ports: MailPorts;
}

interface ServerEntry {
  kind: 'incomingServer' | 'outgoingServer';
  type: 'imap' | 'pop3' | 'smtp';
  port: number;
  socketType: 'SSL' | 'STARTTLS';
}

/** Implicit TLS first: clients take the first entry of each kind they can use. */
function entries(ports: MailPorts): ServerEntry[] {
  return [
    { kind: 'incomingServer', type: 'imap', port: ports.imaps, socketType: 'SSL' },
    { kind: 'incomingServer', type: 'imap', port: ports.imap, socketType: 'STARTTLS' },
    { kind: 'incomingServer', type: 'pop3', port: ports.pop3s, socketType: 'SSL' },
    { kind: 'incomingServer', type: 'pop3', port: ports.pop3, socketType: 'STARTTLS' },
    { kind: 'outgoingServer', type: 'smtp', port: ports.submissions, socketType: 'SSL' },
    { kind: 'outgoingServer', type: 'smtp', port: ports.submission, socketType: 'STARTTLS' },
  ];
}

export function thunderbirdConfig(input: ThunderbirdConfigInput): string {
  const domain = escapeXml(input.domain);
  const host = escapeXml(input.hostname);
  const servers = entries(input.ports).map((e) =>
    [
      `    <${e.kind} type="${e.type}">`,
      `      <hostname>${host}</hostname>`,
      `      <port>${e.port}</port>`,
      `      <socketType>${e.socketType}</socketType>`,
      // Login names are full addresses everywhere (INTERFACE.md).
      `      <username>%EMAILADDRESS%</username>`,
      `      <authentication>password-cleartext</authentication>`,
      `    </${e.kind}>`,
    ].join('\n'),
  );
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<clientConfig version="1.1">',
    `  <emailProvider id="${domain}">`,
    `    <domain>${domain}</domain>`,
    `    <displayName>${domain}</displayName>`,
    `    <displayShortName>${domain}</displayShortName>`,
    ...servers,
    '  </emailProvider>',
    '</clientConfig>',
    '',
  ].join('\n');
}
