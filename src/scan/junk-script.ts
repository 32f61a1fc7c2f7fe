// The global Sieve script Postino ships for spam: what the scanning stage
// marked X-Spam-Flag: YES (score over spam.junkScore) goes to Junk.
// It runs in the global "after" slot, not "before": delivery runs its scripts
// as Pigeonhole runs sieve_before/sieve_after (the next script runs only while
// a keep is in force), so a before-script that files into Junk would end the
// sequence and the user's script would never see spam, let alone override the
// filing (Dovecot's usual `fileinto "Junk"; stop;` before-script has that
// effect). After the user's script, it files only what the user left to the
// keep: a user overrides it with any action that cancels the keep (fileinto
// "INBOX", fileinto elsewhere, discard); a plain `keep` only lets it run.
// It is used when spam is configured and sieve.after is not set; setting
// sieve.after replaces it.
export const JUNK_SCRIPT = `# Postino's default: mail marked as spam goes to Junk (see spam.junkScore).
require ["fileinto", "mailbox"];
if header :is "X-Spam-Flag" "YES" {
  fileinto :create "Junk";
}
`;
