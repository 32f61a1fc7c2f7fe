// Every capability the engine implements (what `require` accepts and what
// ManageSieve advertises as SIEVE).
export const knownCapabilityNames: ReadonlySet<string> = new Set([
  'fileinto', 'reject', 'ereject', 'envelope', 'encoded-character', 'relational', 'subaddress',
  'vacation', 'vacation-seconds', 'imap4flags', 'copy', 'body', 'variables', 'date', 'index',
  'mailbox', 'editheader', 'include', 'duplicate', 'regex', 'spamtest', 'spamtestplus',
  'virustest', 'environment', 'ihave', 'enotify',
  'comparator-i;octet', 'comparator-i;ascii-casemap', 'comparator-i;ascii-numeric',
]);

/**
 * Requiring the key also makes the values available (RFC 5235: spamtestplus
 * includes spamtest; RFC 6131 3: an implementation of vacation-seconds also
 * implements vacation, and Pigeonhole lets it stand for both).
 */
export const impliedCapabilities: ReadonlyMap<string, string[]> = new Map([
  ['spamtestplus', ['spamtest']],
  ['vacation-seconds', ['vacation']],
]);
