// The global Sieve script Postino ships for spam: what the scanning stage
// marked X-Spam-Flag: YES (score over spam.junkScore) goes to Junk. It runs
// in the global "after" slot, so a user's own script runs first and decides
// (fileinto elsewhere, or an explicit keep to the INBOX); only mail the user's
// script leaves to the implicit keep reaches it. It is used when spam is
// configured and sieve.after is not set; setting sieve.after replaces it.
export const JUNK_SCRIPT = `# Postino's default: mail marked as spam goes to Junk (see spam.junkScore).
require ["fileinto", "mailbox"];
if header :is "X-Spam-Flag" "YES" {
  fileinto :create "Junk";
}
`;
