// postino install-systemd: the systemd unit for this installation (its node,
// its bin/postino.cjs, the data dir, the service user), written to
// /etc/systemd/system or printed.
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliCommand } from '../command.js';
import { stringOption } from '../command.js';
import { MailError } from '../../../storage/errors.js';
import { renderSystemdUnit } from '../systemd-unit.js';

export const UNIT_PATH = '/etc/systemd/system/postino.service';

export const systemdCommands: CliCommand[] = [
  {
    words: ['install-systemd'],
    usage: '[--data DIR] [--config FILE] [--user U] [--group G] [--print] [--output FILE]',
    summary:
      `Writes a hardened systemd unit for this installation to ${UNIT_PATH} (or prints it): serve runs as U with CAP_NET_BIND_SERVICE, ` +
      'the system read-only but the data dir. Without --data the unit serves /var/lib/postino.',
    options: {
      user: { type: 'string', placeholder: 'U', description: 'the account serve runs as (default: postino)' },
      group: { type: 'string', placeholder: 'G', description: "its group (default: the user's name)" },
      print: { type: 'boolean', description: 'print the unit on stdout instead of writing it' },
      output: { type: 'string', placeholder: 'FILE', description: `where to write it (default: ${UNIT_PATH})` },
    },
    minArgs: 0,
    maxArgs: 0,
    async run(_, options, ctx) {
      const user = stringOption(options, 'user') ?? 'postino';
      const explicitData = stringOption(options, 'data') ?? (process.env.POSTINO_DATA || undefined);
      const dataDir = explicitData === undefined ? '/var/lib/postino' : ctx.dataDir;
      let unit: string;
      try {
        unit = renderSystemdUnit({
          node: process.execPath,
          cli: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../bin/postino.cjs'),
          dataDir,
          ...(stringOption(options, 'config') !== undefined ? { config: ctx.configPath! } : {}),
          user,
          group: stringOption(options, 'group') ?? user,
        });
      } catch (err) {
        throw new MailError('BADINPUT', (err as Error).message);
      }
      if (options.print === true) {
        ctx.out(unit);
        return;
      }
      const output = path.resolve(stringOption(options, 'output') ?? UNIT_PATH);
      if (!existsSync(path.dirname(output))) throw new MailError('BADINPUT', `${path.dirname(output)} does not exist (no systemd here?): use --print and copy the unit by hand`);
      try {
        writeFileSync(output, unit, { mode: 0o644 });
      } catch (err) {
        throw new MailError('REFUSED', `cannot write ${output}: ${(err as NodeJS.ErrnoException).code ?? String(err)} (run it as root, or use --print)`);
      }
      ctx.out(
        [
          `wrote ${output}; next:`,
          `  id ${user} || useradd --system --home-dir ${dataDir} --shell /usr/sbin/nologin ${user}`,
          `  mkdir -p ${dataDir} && chown -R ${user}: ${dataDir} && chmod 700 ${dataDir}`,
          '  systemctl daemon-reload && systemctl enable --now postino',
          '  journalctl -u postino -f',
        ].join('\n'),
      );
    },
  },
];
