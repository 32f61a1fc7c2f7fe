// Text and attribute values written into the XML documents the autoconfig
// routes answer with: every one goes through escapeXml, so an address or a
// host name can never add markup.
import type { ClientPorts } from '../../services/dns-doctor-clients.js';

/** Escapes the five XML special characters; drops characters XML 1.0 cannot carry at all. */
export function escapeXml(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
    .replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[ch]!);
}

/** The mail ports a client is told about: the configured ones (production uses the standard ones). */
export type MailPorts = ClientPorts;
