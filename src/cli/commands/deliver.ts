// postino deliver: the LDA for an MTA's mailbox_command. Reads one message
// on stdin, runs Sieve, stores. Exit codes are sysexits: 0 delivered (or
// stored in part and the rest queued for `serve` to retry), 67 unknown
// user, 75 temporary failure with nothing stored (the MTA retries), 77 refused.
import type { CliCommand } from '../command.js';
import { listOption, stringOption } from '../command.js';
import { loadConfig } from '../../config.js';
import { createLogger } from '../../log.js';
import { openConfiguredStorage } from '../../../storage/index.js';
import { DeliveryAgent } from '../../delivery/agent.js';
import { deliveryConfig } from '../../delivery/delivery-config.js';
import { MailError } from '../../../storage/errors.js';
import type { DeliveryFailure } from '../../delivery/outcome.js';
import { failureReply, formatReply, virusFound, virusScannerUnavailable } from '../../mx/smtp-reply.js';
import { parseMessage } from '../../../mime/index.js';
import { Antivirus, isVirusField, virusFields } from '../../scan/antivirus.js';

const EX_NOUSER = 67;
const EX_TEMPFAIL = 75;
const EX_NOPERM = 77;

/** The exit code for a recipient that did not get the message. */
function exitCode(f: DeliveryFailure): number {
  if (f.kind === 'tempfail') return EX_TEMPFAIL;
  if (f.why === 'no-such-user' || (f.why === 'refused' && f.enhanced === '5.1.1')) return EX_NOUSER;
  return EX_NOPERM;
}

export const deliverCommands: CliCommand[] = [
  {
    words: ['deliver'],
    usage: '--from ADDR --to ADDR [--to ADDR ...]  (message on stdin)',
    summary:
      'Delivers one message read from stdin (an LDA for an MTA in front): runs Sieve and stores it. ' +
      'Exit 0 delivered, 67 unknown user, 75 temporary failure (sysexits).',
    options: {
      from: { type: 'string', placeholder: 'ADDR', description: 'the envelope sender (empty for a bounce)' },
      to: { type: 'string', multiple: true, placeholder: 'ADDR', description: 'a recipient (a local account or alias)' },
    },
    minArgs: 0,
    maxArgs: 0,
    async run(_, options, ctx) {
      const from = stringOption(options, 'from');
      const recipients = listOption(options, 'to');
      if (from === undefined) throw new MailError('BADINPUT', '--from ADDR is required (use --from "" for the null sender)');
      if (recipients.length === 0) throw new MailError('BADINPUT', '--to ADDR is required');
      const config = loadConfig(ctx.configPath);
      let raw = await ctx.readStdin();
      if (raw.length > config.limits.messageSize) {
        ctx.err(`postino deliver: message is larger than ${config.limits.messageSize} bytes`);
        return EX_NOPERM;
      }
      // antivirus.scanLocal: the same scan as the MX (before anything is stored).
      const traceHeaders: string[] = [];
      if (config.antivirus?.scanLocal) {
        const outcome = await new Antivirus(config.antivirus).check(raw);
        if (outcome.action === 'refuse') {
          ctx.err(`postino deliver: ${formatReply(virusFound(outcome.signature))}`);
          return EX_NOPERM;
        }
        if (outcome.action === 'tempfail') {
          ctx.err(`postino deliver: ${formatReply(virusScannerUnavailable(outcome.reason))}`);
          return EX_TEMPFAIL;
        }
        raw = parseMessage(raw).without((f) => isVirusField(f.key)).raw;
        traceHeaders.push(...virusFields(outcome));
      }
      let storage;
      try {
        storage = await openConfiguredStorage(ctx.dataDir, config.storage, { nodeName: config.node.name });
      } catch (err) {
        ctx.err(`postino deliver: ${(err as Error).message}`);
        return EX_TEMPFAIL;
      }
      try {
        // Logs go to stderr: stdout belongs to the MTA.
        const log = createLogger(process.env.POSTINO_LOG_LEVEL ?? 'warn', 2, config.node.name);
        const agent = new DeliveryAgent(storage, deliveryConfig(config), log, failureReply);
        // One exit code answers for every recipient: once a copy is stored, what failed temporarily is
        // queued for `serve` to retry (exit 0), since a 75 would make the MTA store that copy again.
        const outcomes = await agent.deliver({ raw, from: from.replace(/^<|>$/g, ''), recipients, traceHeaders, rejectAtSmtp: false }, { answer: 'message' });
        let code = 0;
        for (const o of outcomes) {
          if (o.kind === 'delivered') continue;
          // The MTA quotes this line in its bounce: the words of the SMTP reply it stands for.
          ctx.err(`postino deliver: <${o.recipient}>: ${formatReply(failureReply(o))}`);
          const c = exitCode(o);
          // A temporary failure wins: the MTA must retry rather than bounce.
          if (code !== EX_TEMPFAIL) code = c;
        }
        return code;
      } catch (err) {
        ctx.err(`postino deliver: temporary failure: ${(err as Error).message}`);
        return EX_TEMPFAIL;
      } finally {
        await storage.mail.drain();
        storage.close();
      }
    },
  },
];
