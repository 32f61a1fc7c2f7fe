// --help is made from the command declarations: every command says what it
// does and describes each option it takes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allCommands } from '../../../src/cli/commands/index.js';
import { commandHelp, GLOBAL_OPTIONS, overviewHelp, parseArgsOptions } from '../../../src/cli/help.js';

test('every command has a summary and help naming and describing each of its options', () => {
  assert.ok(allCommands.length > 30);
  for (const command of allCommands) {
    const name = `postino ${command.words.join(' ')}`;
    assert.ok(command.summary && command.summary.length > 10, `${name} has a summary`);
    const help = commandHelp(command);
    assert.ok(help.startsWith(`usage: ${name}`), name);
    assert.ok(help.includes(command.summary), `${name}: the summary is shown`);
    for (const [option, spec] of Object.entries({ ...command.options, ...GLOBAL_OPTIONS })) {
      assert.ok(spec.description && spec.description.length > 5, `${name} --${option} is described`);
      const line = help.split('\n').find((l) => new RegExp(`^  (-\\w, )?--${option}\\b`).test(l));
      assert.ok(line, `${name} --help names --${option}`);
      assert.ok(line.includes(spec.description), `${name} --help describes --${option}`);
    }
  }
});

test('the overview lists every command with the first sentence of its summary', () => {
  const text = overviewHelp(allCommands);
  for (const command of allCommands) assert.ok(text.includes(`  ${command.words.join(' ')} `) || text.includes(`  ${command.words.join(' ')}\n`), command.words.join(' '));
  assert.match(text, /^  domain add DOMAIN --postmaster ADDR .*\n      Adds a local domain, with postmaster@DOMAIN/m);
  assert.match(text, /postino --version/);
});

test('parseArgs gets the options without their help fields', () => {
  assert.deepEqual(parseArgsOptions({ quota: { type: 'string', placeholder: 'BYTES', description: 'x' }, help: { type: 'boolean', short: 'h' } }), {
    quota: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
});
