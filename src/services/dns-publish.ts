// The DNS records a domain served here needs: MX, SPF, DKIM (each key),
// DMARC, and what mail clients look for (autoconfig/autodiscover names,
// RFC 6186 SRV records). The admin API's DNS page lists them; `dns check`
// verifies the mail ones.
import { DkimKeyStore } from '../outbound/dkim-keys.js';

export interface PublishRecord {
  type: 'MX' | 'TXT' | 'CNAME' | 'SRV';
  name: string;
  value: string;
  purpose: string;
}

export function recordsToPublish(domain: string, hostname: string, dataDir: string): PublishRecord[] {
  const host = `${hostname}.`;
  const records: PublishRecord[] = [
    { type: 'MX', name: `${domain}.`, value: `10 ${host}`, purpose: 'mail for the domain comes to this server' },
    { type: 'TXT', name: `${domain}.`, value: 'v=spf1 mx -all', purpose: 'SPF: only the domain\'s MX hosts send its mail' },
  ];
  for (const key of new DkimKeyStore(dataDir).list(domain)) {
    records.push({ type: 'TXT', name: `${key.name}.`, value: key.value, purpose: `DKIM public key (selector ${key.selector}${key.active ? ', signing' : ', not yet signing'})` });
  }
  records.push(
    { type: 'TXT', name: `_dmarc.${domain}.`, value: `v=DMARC1; p=quarantine; rua=mailto:postmaster@${domain}`, purpose: 'DMARC policy and reports' },
    { type: 'CNAME', name: `autoconfig.${domain}.`, value: host, purpose: 'Thunderbird autoconfiguration' },
    { type: 'CNAME', name: `autodiscover.${domain}.`, value: host, purpose: 'Outlook autodiscover' },
    { type: 'SRV', name: `_imaps._tcp.${domain}.`, value: `0 1 993 ${host}`, purpose: 'IMAP over TLS (RFC 6186)' },
    { type: 'SRV', name: `_pop3s._tcp.${domain}.`, value: `0 1 995 ${host}`, purpose: 'POP3 over TLS (RFC 6186)' },
    { type: 'SRV', name: `_submissions._tcp.${domain}.`, value: `0 1 465 ${host}`, purpose: 'submission over TLS (RFC 8314)' },
    { type: 'SRV', name: `_submission._tcp.${domain}.`, value: `0 1 587 ${host}`, purpose: 'submission with STARTTLS (RFC 6186)' },
  );
  return records;
}
